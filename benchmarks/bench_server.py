"""Server benchmark: one-customer look-ups under many concurrent clients, and a 1M-member streaming export.

1. Look-up: ``GET /api/v1/customers/{id}?segmentation=value`` from ``--clients`` concurrent
   keep-alive connections for ``--seconds`` on loopback, against ``segmint serve``'s app under
   uvicorn in its own process, on a generated shop of ``--customers`` customers (``write_shop`` +
   ingest + features + one rules segmentation run, which stores the reasons). Reports requests/s,
   p50/p90/p99/max latency and errors (goal: p99 <= 20 ms, no errors); also the same look-up
   from 1 and 10 clients, which shows the service time without queueing.
2. Export, end to end: ``GET .../segments/{segment}/export?format=csv|jsonl`` through the real
   route on a second workspace whose segmentation has ``--export-rows`` members (default
   1,000,000): a features snapshot of that many customers written directly (generating and
   ingesting a million-customer shop takes most of an hour on a small machine; the export reads
   memberships and customers, not orders). Reports rows, MB, seconds and the server's RSS
   before the export and its peak (VmHWM) after.

The load generator is a minimal asyncio HTTP/1.1 client (a request line, headers, a
Content-Length body), not httpx: on a 2-core machine the client shares the CPU with the
server, and httpx spends several times more CPU per request than the server's own work.

Usage::

    python benchmarks/bench_server.py                                   # 100k customers, 200 clients, 30 s, 1M rows
    python benchmarks/bench_server.py --customers 2000 --seconds 5 --export-rows 100000
    python benchmarks/bench_server.py --reuse /tmp/shop-200k            # a shop built before (copied)

Results are written to benchmarks/results/server.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
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
EVERYONE = {"everyone": {"kind": "rules", "segments": [{"name": "All", "where": "frequency >= 0"}]}}
SECRET = "benchmark-secret-key-0123456789"


def _configure(path: Path, segmentations: dict) -> None:
    cfg = path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["segmentations"] = segmentations
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))


def build_shop(path: Path, customers: int, reuse: Path | None) -> dict:
    """A generated shop with 'value' run once (reasons stored); returns timings."""
    from segmint.datasets import write_shop
    from segmint.workspace import Workspace

    out = {}
    if reuse is not None:
        shutil.copytree(reuse, path)
    else:
        src = path.parent / "shop-files"
        t0 = time.perf_counter()
        write_shop(src, customers, seed=11, format="parquet")
        ws = Workspace.init(path)
        for table in ("customers", "orders", "events", "responses"):
            for f in sorted(src.glob(f"{table}*")):
                ws.ingest(table, f)
        ws.close()
        out["build_s"] = time.perf_counter() - t0
    _configure(path, SEGMENTATION)
    ws = Workspace.open(path)
    t0 = time.perf_counter()
    ws.segment("value")
    out["first_run_s"] = time.perf_counter() - t0  # features (when not stored yet) + run
    t0 = time.perf_counter()
    ws.segment("value")
    out["run_s"] = time.perf_counter() - t0  # the run alone: labels, reasons, storage
    out["customers"] = ws.store.con.con.execute("SELECT count(*) FROM customers").fetchone()[0]
    ws.close()
    return out


def build_export(path: Path, rows: int) -> dict:
    """A workspace whose 'everyone' segmentation has ``rows`` members, from a features table written directly."""
    from segmint.workspace import Workspace

    ws = Workspace.init(path)
    _configure(path, EVERYONE)
    ws.close()
    ws = Workspace.open(path)
    con = ws.store.con.con
    t0 = time.perf_counter()
    # Generated rows, no user text: ids C000000001..., four in five customers consent to marketing.
    con.execute(f"INSERT INTO customers (customer_id, marketing_consent, _source, _ingested_at) "
                f"SELECT 'C' || lpad(range::VARCHAR, 9, '0'), range % 5 <> 0, 'bench', now()::TIMESTAMP "
                f"FROM range({int(rows)})")
    con.execute(f"CREATE TABLE features AS SELECT TIMESTAMP '2025-12-31' AS as_of, "
                f"'C' || lpad(range::VARCHAR, 9, '0') AS customer_id, (range % 40)::BIGINT AS frequency, "
                f"(range % 997)::DOUBLE AS monetary_total, (range % 365)::BIGINT AS recency_days "
                f"FROM range({int(rows)})")
    ws.segment("everyone", "2025-12-31")
    out = {"build_s": time.perf_counter() - t0}
    ws.close()
    return out


def prepare(path: Path, segmentation: str = "value", n: int = 20_000) -> tuple[str, list[str], str]:
    """An admin token, a sample of customer ids and the largest segment of ``segmentation``."""
    from segmint.server.tokens import TokenStore
    from segmint.workspace import Workspace

    ws = Workspace.open(path)
    try:
        con = ws.store.con.con
        secret = TokenStore(con).create(f"bench-{time.time_ns()}", "admin")[1]
        ids = [r[0] for r in con.execute(f"SELECT customer_id FROM customers USING SAMPLE {int(n)} ROWS").fetchall()]
        segment = con.execute("SELECT segment FROM memberships WHERE segmentation = ? GROUP BY segment "
                              "ORDER BY count(*) DESC LIMIT 1", [segmentation]).fetchone()[0]
        return secret, ids, segment
    finally:
        ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int, loop: str, http: str) -> subprocess.Popen:
    code = ("import uvicorn; from segmint.server import create_app, Settings; "
            f"uvicorn.run(create_app({str(path)!r}, Settings(port={port})), host='127.0.0.1', port={port}, "
            f"log_level='warning', access_log=False, loop={loop!r}, http={http!r}, backlog=4096)")
    env = {**os.environ, "SEGMINT_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    for _ in range(1200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the load generator ---------------------------------------------------------------------------
async def _get(reader, writer, request: bytes) -> int:
    """Send one request on a keep-alive connection; read the whole response; return the status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next((int(v) for k, _, v in (ln.partition(b":") for ln in lines[1:])
                   if k.strip().lower() == b"content-length"), None)
    if length is None:
        raise RuntimeError("response without Content-Length")
    await reader.readexactly(length)
    return status


async def lookups(port: int, secret: str, ids: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        reader = writer = None
        while time.perf_counter() < stop:
            cid = rng.choice(ids)
            request = (f"GET /api/v1/customers/{cid}?segmentation=value HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Authorization: Bearer {secret}\r\n\r\n").encode()
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
                status = await asyncio.wait_for(_get(reader, writer, request), 30)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, RuntimeError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
            latencies.append(time.perf_counter() - t0)
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"clients": clients, "seconds": seconds, "requests": len(latencies), "rps": len(latencies) / wall,
            "p50_ms": 1000 * q[49], "p90_ms": 1000 * q[89], "p99_ms": 1000 * q[98],
            "max_ms": 1000 * max(latencies, default=float("nan")), "errors": errors}


def export(port: int, secret: str, name: str, segment: str, fmt: str, pid: int, everyone: bool = False) -> dict:
    """Stream one export; ``everyone``: an admin's export including customers without consent."""
    import httpx

    before = rss_mb(pid, "VmRSS")
    t0 = time.perf_counter()
    rows = size = 0
    params = {"format": fmt, **({"include_non_consented": "true"} if everyone else {})}
    with httpx.stream("GET", f"http://127.0.0.1:{port}/api/v1/segmentations/{name}/segments/{segment}/export",
                      params=params, headers={"Authorization": f"Bearer {secret}"}, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
            size += len(chunk)
    return {"format": fmt, "rows": rows - (fmt == "csv"), "mb": size / 1e6, "seconds": time.perf_counter() - t0,
            "rss_before_mb": before, "rss_peak_mb": rss_mb(pid)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--reuse", type=Path, default=None, help="copy this built shop workspace instead of generating")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--export-rows", type=int, default=1_000_000)
    ap.add_argument("--loop", default="auto", help="uvicorn --loop (auto picks uvloop when installed)")
    ap.add_argument("--http", default="auto", help="uvicorn --http (auto picks httptools when installed)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "server.md")
    a = ap.parse_args(argv)
    os.environ.setdefault("SEGMINT_SECRET", SECRET)

    tmp = Path(tempfile.mkdtemp(prefix="segmint-bench-server-"))
    try:
        print(f"shop workspace ({a.reuse or f'{a.customers:,} customers'})...", flush=True)
        shop = build_shop(tmp / "shop", a.customers, a.reuse)
        print(shop, flush=True)
        secret, ids, segment = prepare(tmp / "shop")
        port = free_port()
        proc = start_server(tmp / "shop", port, a.loop, a.http)
        try:
            asyncio.run(lookups(port, secret, ids, 10, 2))  # warm-up: caches, first queries
            look = []
            for clients, seconds in ((1, 5), (10, 10), (a.clients, a.seconds)):
                print(f"look-ups: {clients} clients for {seconds:g} s...", flush=True)
                look.append(asyncio.run(lookups(port, secret, ids, clients, seconds)))
                print(look[-1], flush=True)
            shop_exports = [export(port, secret, "value", segment, f, proc.pid) for f in ("csv", "jsonl")]
            shop_rss = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        print(shop_exports, flush=True)

        print(f"export workspace ({a.export_rows:,} members)...", flush=True)
        big = build_export(tmp / "big", a.export_rows)
        secret = prepare(tmp / "big", "everyone", 10)[0]
        port = free_port()
        proc = start_server(tmp / "big", port, a.loop, a.http)
        try:
            started_rss = rss_mb(proc.pid, "VmRSS")
            big_exports = [export(port, secret, "everyone", "All", f, proc.pid, everyone=True)
                           for f in ("csv", "jsonl")]
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        print(big_exports, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write(a, shop, look, segment, shop_exports, shop_rss, big, started_rss, big_exports)


def write(a, shop, look, segment, shop_exports, shop_rss, big, started_rss, big_exports) -> None:
    spec = look[-1]
    goal = "met" if spec["p99_ms"] <= 20 and not spec["errors"] else "NOT met"
    size = f"--reuse (a {shop['customers']:,}-customer shop built before)" if a.reuse else f"--customers {a.customers}"
    lines = [
        "# Server benchmark", "",
        f"`python benchmarks/bench_server.py {size} --clients {a.clients} --seconds {a.seconds:g} "
        f"--export-rows {a.export_rows}` on {platform.node()} ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Server: `create_app` under uvicorn (loop={a.loop}, http={a.http}, one process, access log off) in its own "
        "process; clients: a minimal asyncio HTTP/1.1 keep-alive client in another process on the same machine.", "",
        f"Shop: {shop['customers']:,} customers; `ws.segment('value')` (labels + stored reasons) took "
        f"{shop['run_s']:.2f} s on a stored snapshot.", "",
        "## One-customer look-up (`GET /api/v1/customers/{id}?segmentation=value`)", "",
        "| clients | seconds | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *[f"| {r['clients']} | {r['seconds']:g} | {r['requests']:,} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
          f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['errors'] or 'none'} |" for r in look], "",
        f"Goal at {a.clients} clients (p99 <= 20 ms with zero errors): **{goal}**.", "",
        f"## Export of the shop's largest segment (`value/{segment}`; consented members)", "",
        "| format | rows | MB | seconds | rows/s |", "|---|---:|---:|---:|---:|",
        *[f"| {e['format']} | {e['rows']:,} | {e['mb']:.1f} | {e['seconds']:.2f} | {e['rows'] / e['seconds']:,.0f} |"
          for e in shop_exports],
        "", f"Server peak RSS over the look-ups and these exports: {shop_rss:.0f} MB.", "",
        f"## Streaming export of {a.export_rows:,} members through the API", "",
        f"`GET /api/v1/segmentations/everyone/segments/All/export?include_non_consented=true` (admin: every member; "
        f"the consent join still runs); workspace built in "
        f"{big['build_s']:.1f} s. Server RSS after start: {started_rss:.0f} MB.", "",
        "| format | rows | MB | seconds | rows/s | server RSS before MB | server peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {e['format']} | {e['rows']:,} | {e['mb']:.0f} | {e['seconds']:.2f} | {e['rows'] / e['seconds']:,.0f} | "
          f"{e['rss_before_mb']:.0f} | {e['rss_peak_mb']:.0f} |" for e in big_exports], "",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
