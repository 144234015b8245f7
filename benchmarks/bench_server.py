"""Server benchmark: one-customer look-ups under many concurrent clients, and streaming exports.

1. Look-up: ``GET /api/v1/customers/{id}?segmentation=value`` from ``--clients`` concurrent
   asyncio httpx clients for ``--seconds`` on loopback, against ``segmint serve`` in its own
   process. Reports requests/s, p50/p90/p99 latency and errors (goal: p99 <= 20 ms, no errors).
2. Export, end to end: ``GET .../segments/{segment}/export?format=csv|jsonl`` of the largest
   segment of the benchmark shop: rows, seconds, rows/s, and the server's peak memory.
3. Export encoder at scale: the server's streaming encoder over ``--export-rows`` synthetic
   members (default 1,000,000) in a child process: seconds and peak memory (RSS).

Usage::

    python benchmarks/bench_server.py                      # 2,000 customers, 200 clients, 30 s, 1M rows
    python benchmarks/bench_server.py --customers 500 --seconds 5 --export-rows 100000

Results are written to benchmarks/results/server.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SEGMENTATION = {"value": {"kind": "rules", "segments": [
    {"name": "VIP", "where": "monetary_total >= 1500 and frequency >= 10"},
    {"name": "Active", "where": "recency_days <= 60"}], "else": "Lapsed"}}


def build(path: Path, customers: int) -> tuple[str, list[str]]:
    """A shop workspace with the 'value' segmentation run once; returns an analyst token and customer ids."""
    from segmint.datasets import make_shop
    from segmint.segment import service
    from segmint.server.tokens import TokenStore
    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "benchmark-secret-key-0123456789")
    ws = Workspace.init(path)
    cfg = path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["segmentations"] = SEGMENTATION
    cfg.write_text(yaml.safe_dump(doc))
    ws.close()
    ws = Workspace.open(path)
    shop = make_shop(customers, seed=11)
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, getattr(shop, table))
    service.run_segmentation(ws, "value")
    ids = [r[0] for r in ws.store.con.con.execute("SELECT customer_id FROM memberships").fetchall()]
    _, token = TokenStore(ws.store.con.con).create("bench", "admin")
    ws.close()
    return token, ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int) -> subprocess.Popen:
    code = ("import uvicorn; from segmint.server import create_app, Settings; "
            f"uvicorn.run(create_app({str(path)!r}, Settings(port={port})), host='127.0.0.1', port={port}, "
            "log_level='warning', access_log=False)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    import httpx

    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


async def lookups(base: str, token: str, ids: list[str], clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as client:
        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < stop:
                cid = rng.choice(ids)
                t0 = time.perf_counter()
                try:
                    r = await client.get(f"/api/v1/customers/{cid}", params={"segmentation": "value"})
                    if r.status_code != 200:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"requests": len(latencies), "rps": len(latencies) / wall, "p50_ms": 1000 * q[49],
            "p90_ms": 1000 * q[89], "p99_ms": 1000 * q[98], "errors": errors}


def export(base: str, token: str, fmt: str) -> dict:
    import httpx

    t0 = time.perf_counter()
    rows = size = 0
    with httpx.stream("GET", f"{base}/api/v1/segmentations/value/segments/Lapsed/export", params={"format": fmt},
                      headers={"Authorization": f"Bearer {token}"}, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
            size += len(chunk)
    return {"format": fmt, "rows": rows - (fmt == "csv"), "mb": size / 1e6, "seconds": time.perf_counter() - t0}


def server_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


ENCODER = """
import resource, sys, time, ibis
from segmint.server.data import stream_rows
n, fmt = int(sys.argv[1]), sys.argv[2]
con = ibis.duckdb.connect()
con.raw_sql('SET enable_progress_bar = false')
t = con.sql(f"SELECT 'C' || lpad(range::VARCHAR, 9, '0') AS customer_id, 'Lapsed' AS segment, "
            f"range % 5 <> 0 AS marketing_consent FROM range({n})")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter(); counter = [0]; size = 0
for chunk in stream_rows(t.order_by('customer_id'), fmt, counter):
    size += len(chunk)
print(counter[0], time.perf_counter() - t0, size / 1e6, before / 1024,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def encoder(rows: int, fmt: str) -> dict:
    out = subprocess.run([sys.executable, "-c", ENCODER, str(rows), fmt], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1].split()
    n, secs, mb, before, peak = int(out[0]), *map(float, out[1:])
    return {"format": fmt, "rows": n, "seconds": secs, "mb": mb, "rss_before_mb": before, "rss_peak_mb": peak}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--export-rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "server.md")
    a = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp()) / "bench-shop"
    print(f"building a {a.customers:,}-customer shop...", flush=True)
    token, ids = build(tmp, a.customers)
    port = free_port()
    proc = start_server(tmp, port)
    base = f"http://127.0.0.1:{port}"
    try:
        print(f"look-ups: {a.clients} clients for {a.seconds:.0f} s...", flush=True)
        look = asyncio.run(lookups(base, token, ids, a.clients, a.seconds))
        print(look, flush=True)
        exports = [export(base, token, f) for f in ("csv", "jsonl")]
        rss = server_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(exports, f"server peak RSS {rss:.0f} MB", flush=True)
    enc = [encoder(a.export_rows, f) for f in ("csv", "jsonl")]
    print(enc, flush=True)
    write(a, look, exports, rss, enc)


def write(a, look, exports, rss, enc) -> None:
    goal = "met" if look["p99_ms"] <= 20 and not look["errors"] else "NOT met"
    lines = [
        "# Server benchmark", "",
        f"`python benchmarks/bench_server.py --customers {a.customers} --clients {a.clients} --seconds {a.seconds:g} "
        f"--export-rows {a.export_rows}` on {platform.node()} ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Server: `segmint serve` (uvicorn, one process) in its own process; clients: asyncio httpx on loopback.", "",
        "## One-customer look-up (`GET /api/v1/customers/{id}?segmentation=value`)", "",
        "| clients | seconds | requests | req/s | p50 ms | p90 ms | p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {a.clients} | {a.seconds:g} | {look['requests']:,} | {look['rps']:.0f} | {look['p50_ms']:.1f} | "
        f"{look['p90_ms']:.1f} | {look['p99_ms']:.1f} | {look['errors'] or 'none'} |", "",
        f"Goal p99 <= 20 ms with zero errors: **{goal}**.", "",
        "## Export through the API (largest segment of the benchmark shop, consented members)", "",
        "| format | rows | MB | seconds | rows/s |", "|---|---:|---:|---:|---:|",
        *[f"| {e['format']} | {e['rows']:,} | {e['mb']:.1f} | {e['seconds']:.2f} | {e['rows'] / e['seconds']:,.0f} |"
          for e in exports],
        "", f"Server peak RSS over the whole run: {rss:.0f} MB.", "",
        f"## Streaming encoder at {a.export_rows:,} members (the export's engine query + CSV/JSON-lines encoding)", "",
        "| format | rows | MB | seconds | rows/s | RSS before MB | RSS peak MB |", "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {e['format']} | {e['rows']:,} | {e['mb']:.0f} | {e['seconds']:.2f} | {e['rows'] / e['seconds']:,.0f} | "
          f"{e['rss_before_mb']:.0f} | {e['rss_peak_mb']:.0f} |" for e in enc],
        "", "Batches of 50,000 rows are encoded and sent one at a time, so memory stays bounded by a batch, "
        "not the export.", "",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
