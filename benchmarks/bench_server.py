"""Server benchmark: one-customer look-ups under many concurrent clients, and a 1M-member streaming export.

1. Look-up: ``GET /api/v1/customers/{id}?segmentation=value`` from ``--clients`` concurrent
   keep-alive connections for ``--seconds`` on loopback, against the app run exactly as
   ``segmint serve`` runs it (:func:`segmint.server.runner.serve`: uvicorn, access log off,
   the asyncio loop, httptools, the serving index) in its own process, on a shop of
   ``--customers`` customers (the cached ``benchmarks/.cache/ws-N-seed0`` workspace when it
   exists, copied; else ``write_shop`` + ingest) with one rules segmentation run (which
   stores the reasons). Reports requests/s, p50/p90/p99/max latency, errors (goal: p99 <= 20 ms
   at 200 clients, no errors), the server's CPU time per request and its RSS; also the same
   look-up from 1 and 10 clients, which shows the service time without queueing, and the
   *ceiling*: a trivial ASGI app (a fixed 11-byte answer) under the same uvicorn settings and
   the same load generator, i.e. what this machine can serve at all.
2. Export, end to end: ``GET .../segments/{segment}/export?format=csv|jsonl`` through the real
   route on a second workspace whose segmentation has ``--export-rows`` members (default
   1,000,000): a features snapshot of that many customers written directly (generating and
   ingesting a million-customer shop takes most of an hour on a small machine; the export reads
   memberships and customers, not orders). Reports rows, MB, seconds and the server's RSS
   before the export and its peak (VmHWM) after.

The load generator is ``wrk`` (a C program: it spends a fraction of the CPU a Python client
needs per request, which matters when client and server share two cores), installed with
apt-get when missing and running as root. Without it the script falls back to a minimal
asyncio HTTP/1.1 client (not httpx, which costs several times more CPU per request) and the
page says so: figures from the two clients are not comparable.

Usage::

    python benchmarks/bench_server.py                                   # 200k customers, 200 clients, 30 s, 1M rows
    python benchmarks/bench_server.py --customers 2000 --seconds 5 --export-rows 100000
    python benchmarks/bench_server.py --reuse /tmp/shop-200k            # a shop built before (copied)

3. The viewer's list routes (``GET /api/v1/segmentations``, ``.../value/history``) from ``--clients``
   clients for ``--list-seconds`` each, and the look-up from 50 clients while 50 others read the list.

Results are written to benchmarks/results/server.md; a "Reading these figures" section
written by hand at its end is kept when the tables are regenerated.
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

    out = {"source": str(reuse) if reuse is not None else f"write_shop({customers}, seed=11)"}
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
        secret = TokenStore(ws.store).create(f"bench-{time.time_ns()}", "admin")[1]
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


#: A trivial ASGI app (no framework, no data): the most this machine serves under the same uvicorn.
CEILING_APP = """
BODY = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"11")]
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def start_server(path: Path | None, port: int, loop: str, http: str, index_mb: float = 512) -> subprocess.Popen:
    """``segmint serve``'s runner on ``path`` in a child process (``None``: the trivial ceiling app)."""
    if path is None:
        code = (CEILING_APP + "import uvicorn\n"
                f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning', access_log=False, "
                f"loop={loop!r}, http={http!r}, backlog=4096)")
    else:
        code = ("from segmint.server import Settings; from segmint.server.runner import serve; "
                f"serve({str(path)!r}, Settings(port={port}, serving_index_mb={index_mb}), log_level='warning', "
                f"loop={loop!r}, http={http!r})")
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


def wait_indexed(port: int, secret: str, seconds: float = 600) -> float:
    """Seconds until the server's serving index has loaded (or declined) the segmentation and rendered its answers.

    ``segmint serve``'s runner loads it before accepting connections (``create_app`` alone
    loads it in the background) and renders the answers after, on the index's thread; a
    look-up answered from the index and one answered by the store are the same bytes, so
    this asks the admin route that reports the index.
    """
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/serving-index",
                      headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        r.raise_for_status()
        status = r.json()
        segs, declined = status["segmentations"], status["not_indexed"]
        if (segs and all(v["current"] and (v["rendered"] or n in declined) for n, v in segs.items())) or \
                (declined and not segs):
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise RuntimeError(f"the serving index did not load within {seconds:g} s: {r.json()}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


WRK_SCRIPT = """
-- GET /api/v1/customers/{a random id}?segmentation=SEG with a bearer token; prints the summary as JSON.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local token, path = os.getenv("BENCH_TOKEN"), os.getenv("BENCH_PATH")
local headers = {["Authorization"] = "Bearer " .. token}
math.randomseed(tonumber(os.getenv("BENCH_SEED")))
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", (path:gsub("{id}", function() return id end)), headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def find_wrk(install: bool = True) -> str | None:
    """The wrk binary; installed with apt-get when missing, allowed and possible (root, Debian)."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("wrk is missing: apt-get install -y wrk ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "wrk"]):
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if done.returncode == 0 and shutil.which("wrk"):
            break
    return shutil.which("wrk")


def lookups_wrk(wrk: str, port: int, secret: str, ids: list[str], clients: int, seconds: float,
                path: str = "/api/v1/customers/{id}?segmentation=value", seed: int = 0) -> dict:
    """Closed-loop keep-alive load from wrk (one thread: the other core is the server's)."""
    import json
    import resource

    with tempfile.TemporaryDirectory(prefix="segmint-wrk-") as tmp:
        script, id_file = Path(tmp) / "lookup.lua", Path(tmp) / "ids.txt"
        script.write_text(WRK_SCRIPT)
        id_file.write_text("\n".join(ids) + "\n")
        env = {**os.environ, "BENCH_IDS": str(id_file), "BENCH_TOKEN": secret, "BENCH_PATH": path,
               "BENCH_SEED": str(seed)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([wrk, "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script),
                              f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("BENCH "))
    r = json.loads(line[len("BENCH "):])
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    if errors.pop("status", 0):
        errors["non-2xx"] = r["status"]
    return {"clients": clients, "seconds": seconds, "requests": r["requests"],
            "rps": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000,
            "p90_ms": r["p90_us"] / 1000, "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
            "errors": errors, "client_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


async def lookups(port: int, secret: str, ids: list[str], clients: int, seconds: float,
                  path: str = "/api/v1/customers/{id}?segmentation=value") -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        reader = writer = None
        while time.perf_counter() < stop:
            cid = rng.choice(ids)
            request = (f"GET {path.replace('{id}', cid)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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


def loop_and_parser(loop: str, http: str) -> tuple[str, str]:
    """What uvicorn's ``auto`` resolves to here (uvloop / httptools when importable)."""
    import importlib.util

    if loop == "auto":
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http


def measure(client: str, wrk: str | None, port: int, secret: str, ids: list[str], clients: int, seconds: float,
            pid: int, seed: int, path: str = "/api/v1/customers/{id}?segmentation=value") -> dict:
    """One closed-loop run with the chosen client, plus the server's CPU per request."""
    before = cpu_s(pid)
    if client == "wrk":
        out = lookups_wrk(wrk, port, secret, ids, clients, seconds, path=path, seed=seed)
    else:
        t0 = time.process_time()
        out = asyncio.run(lookups(port, secret, ids, clients, seconds, path))
        out["client_cpu_s"] = time.process_time() - t0
    out["server_cpu_ms_per_req"] = 1000 * (cpu_s(pid) - before) / max(1, out["requests"])
    out["client_cpu_ms_per_req"] = 1000 * out["client_cpu_s"] / max(1, out["requests"])
    out["rss_mb"] = rss_mb(pid, "VmRSS")
    return out


#: The viewer's list routes (issue 15: 200 clients on them got 15 req/s, and 50 pushed the look-up's p99 to 2.4 s).
LIST_ROUTES = ("/api/v1/segmentations", "/api/v1/segmentations/value/history")


def list_load(client: str, wrk: str | None, port: int, secret: str, ids: list[str], clients: int, seconds: float,
              pid: int) -> dict:
    """Each list route alone from ``clients`` clients; then the look-up from 50 clients while 50 others read the
    list of segmentations (the mix that starved the look-up)."""
    import threading

    out: dict = {"alone": [], "mixed": None}
    for i, path in enumerate(LIST_ROUTES):
        print(f"list route {path}: {clients} clients for {seconds:g} s...", flush=True)
        r = measure(client, wrk, port, secret, ids, clients, seconds, pid, 40 + i, path=path)
        out["alone"].append({**r, "path": path})
        print(r, flush=True)
    print(f"look-ups from 50 clients while 50 read {LIST_ROUTES[0]}, {seconds:g} s...", flush=True)
    background: dict = {}
    thread = threading.Thread(target=lambda: background.update(
        measure(client, wrk, port, secret, ids, 50, seconds, pid, 50, path=LIST_ROUTES[0])))
    thread.start()
    look = measure(client, wrk, port, secret, ids, 50, seconds, pid, 51)
    thread.join()
    out["mixed"] = {"lookup": look, "list": background}
    print(out["mixed"], flush=True)
    return out


def default_reuse(customers: int) -> Path | None:
    """The cached shop workspace of that size (made by bench_e2e.py --prepare-only), when complete."""
    cached = HERE / ".cache" / f"ws-{customers}-seed0"
    return cached if (cached / "STAMP").exists() else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--reuse", type=Path, default=None,
                    help="copy this built shop workspace (default: benchmarks/.cache/ws-CUSTOMERS-seed0 when it "
                         "exists) instead of generating one")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--ceiling-seconds", type=float, default=10,
                    help="seconds of the trivial-app ceiling run at --clients (0: skip)")
    ap.add_argument("--export-rows", type=int, default=1_000_000)
    ap.add_argument("--list-seconds", type=float, default=10,
                    help="seconds of each list-route run (GET /segmentations, .../history, and the mixed run); 0: skip")
    ap.add_argument("--client", choices=["auto", "wrk", "asyncio"], default="auto",
                    help="load generator: wrk (installed with apt-get when missing and root) or the asyncio client")
    ap.add_argument("--index-mb", type=float, default=512, help="the server's serving_index_mb (0: no index)")
    ap.add_argument("--loop", default="asyncio", help="uvicorn --loop (segmint serve: asyncio; auto picks uvloop "
                                                      "when installed)")
    ap.add_argument("--http", default="auto", help="uvicorn --http (auto picks httptools when installed)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "server.md")
    ap.add_argument("--note", default="", help="a line written under the command on the page (e.g. the machine was "
                                               "shared with other work)")
    a = ap.parse_args(argv)
    os.environ.setdefault("SEGMINT_SECRET", SECRET)
    if a.reuse is None:
        a.reuse = default_reuse(a.customers)
    wrk = find_wrk() if a.client in ("auto", "wrk") else None
    if a.client == "wrk" and wrk is None:
        raise SystemExit("--client wrk: wrk is not installed and could not be (apt-get install wrk, as root)")
    a.client_used = "wrk" if wrk else "asyncio"
    version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout if wrk else ""
    a.wrk_version = (version.splitlines() or ["wrk"])[0] if wrk else None
    a.resolved = loop_and_parser(a.loop, a.http)
    print(f"load generator: {a.wrk_version or 'asyncio client (wrk not available)'}; "
          f"uvicorn loop/http: {'/'.join(a.resolved)}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="segmint-bench-server-"))
    try:
        ceiling = None
        if a.ceiling_seconds > 0:
            print(f"ceiling: trivial ASGI app, {a.clients} clients for {a.ceiling_seconds:g} s...", flush=True)
            port = free_port()
            proc = start_server(None, port, a.loop, a.http)
            try:
                measure(a.client_used, wrk, port, "-", ["x"], 10, 2, proc.pid, 1)  # warm-up
                ceiling = measure(a.client_used, wrk, port, "-", ["x"], a.clients, a.ceiling_seconds, proc.pid, 2)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            print(ceiling, flush=True)

        print(f"shop workspace ({a.reuse or f'{a.customers:,} customers'})...", flush=True)
        shop = build_shop(tmp / "shop", a.customers, a.reuse)
        print(shop, flush=True)
        secret, ids, segment = prepare(tmp / "shop")
        port = free_port()
        t0 = time.perf_counter()
        proc = start_server(tmp / "shop", port, a.loop, a.http, a.index_mb)
        try:
            shop["start_s"] = time.perf_counter() - t0
            shop["start_rss_mb"] = rss_mb(proc.pid, "VmRSS")
            shop["index_s"] = wait_indexed(port, secret) if a.index_mb > 0 else None
            shop["index_rss_mb"] = rss_mb(proc.pid, "VmRSS")
            import httpx

            shop["index"] = httpx.get(f"http://127.0.0.1:{port}/api/v1/serving-index",
                                      headers={"Authorization": f"Bearer {secret}"}, timeout=30).json()
            measure(a.client_used, wrk, port, secret, ids, 10, 2, proc.pid, 3)  # warm-up: token cache, first queries
            look = []
            for i, (clients, seconds) in enumerate(((1, 5), (10, 10), (a.clients, a.seconds))):
                print(f"look-ups: {clients} clients for {seconds:g} s...", flush=True)
                look.append(measure(a.client_used, wrk, port, secret, ids, clients, seconds, proc.pid, 10 + i))
                print(look[-1], flush=True)
            lists = (list_load(a.client_used, wrk, port, secret, ids, a.clients, a.list_seconds, proc.pid)
                     if a.list_seconds > 0 else None)
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
        t0 = time.perf_counter()
        proc = start_server(tmp / "big", port, a.loop, a.http, a.index_mb)
        try:
            big["start_s"] = time.perf_counter() - t0
            started_rss = rss_mb(proc.pid, "VmRSS")
            big["index_s"] = wait_indexed(port, secret) if a.index_mb > 0 else None
            big["index_rss_mb"] = rss_mb(proc.pid, "VmRSS")
            import httpx

            big["index"] = httpx.get(f"http://127.0.0.1:{port}/api/v1/serving-index",
                                     headers={"Authorization": f"Bearer {secret}"}, timeout=30).json()
            big_exports = [export(port, secret, "everyone", "All", f, proc.pid, everyone=True)
                           for f in ("csv", "jsonl")]
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        print(big_exports, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write(a, shop, look, segment, shop_exports, shop_rss, big, started_rss, big_exports, ceiling, lists)


def _row(label: str, r: dict) -> str:
    return (f"| {label} | {r['clients']} | {r['seconds']:g} | {r['requests']:,} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
            f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['errors'] or 'none'} | "
            f"{1000 * r['server_cpu_ms_per_req']:.0f} | {1000 * r['client_cpu_ms_per_req']:.0f} | {r['rss_mb']:.0f} |")


def _list_section(lists: dict | None) -> list[str]:
    if not lists:
        return []
    mixed = lists["mixed"]
    return [
        "## Viewer list routes", "",
        "Each list route alone from the same clients, then the look-up from 50 clients while 50 others read "
        "`GET /api/v1/segmentations` (the mix that starved the look-up before these routes were cached).", "",
        "| route | clients | seconds | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU µs/req "
        "| client CPU µs/req | server RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        *[_row(f"`{r['path']}`", r) for r in lists["alone"]],
        _row("look-up, while 50 read the list", mixed["lookup"]),
        _row("`/api/v1/segmentations`, beside 50 look-ups", mixed["list"]), "",
        "(In the mixed rows the server CPU per request counts both streams' requests in each row's own count, so it "
        "overstates each; compare latencies there.)", "",
    ]


def write(a, shop, look, segment, shop_exports, shop_rss, big, started_rss, big_exports, ceiling,
          lists: dict | None = None) -> None:
    spec = look[-1]
    goal = "met" if spec["p99_ms"] <= 20 and not spec["errors"] else "NOT met"
    size = f"--reuse (a {shop['customers']:,}-customer shop built before)" if a.reuse else f"--customers {a.customers}"
    loop, http = a.resolved
    client = (f"`{a.wrk_version}` (C; one thread, closed loop: each connection sends its next request when the "
              "last answer is in)" if a.client_used == "wrk" else
              f"**the asyncio client** ({'--client asyncio' if a.client == 'asyncio' else 'wrk was not available'}: "
              "a Python client takes a large share of the CPU, so these figures understate the server and are not "
              "comparable with wrk's)")
    need = a.clients / 0.020
    index = shop.get("index") or {}
    held = ", ".join(f"{n}: {v['customers']:,} customers, {v['mb']:.1f} MB" for n, v in index.get("segmentations", {}).items())
    lines = [
        "# Server benchmark", "",
        f"`python benchmarks/bench_server.py {size} --clients {a.clients} --seconds {a.seconds:g} "
        f"--export-rows {a.export_rows} --list-seconds {a.list_seconds:g}` on {platform.node()} ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        *([f"**Note:** {a.note}", ""] if a.note else []),
        f"- Server: `segmint serve`'s runner (`segmint.server.runner.serve`: uvicorn loop={loop}, http={http}, one "
        f"process, access log off, gc.freeze) in its own process, serving index budget {a.index_mb:g} MB.",
        f"- Load generator: {client}, in another process on the same machine.",
        f"- Shop: {shop['customers']:,} customers (from {shop['source']}); `ws.segment('value')` (labels + stored "
        f"reasons) took {shop['run_s']:.2f} s on a stored snapshot.",
        f"- Server start (process start to accepting connections; the runner loads the serving index first): "
        f"{shop['start_s']:.1f} s, RSS {shop['index_rss_mb']:.0f} MB; serving index: {held or 'off'}.",
        "- Columns: *server CPU µs/req* is the server process's user+system CPU time over the run divided by the "
        "requests answered (what one look-up costs, whatever else runs on the machine); *client CPU µs/req* the "
        "same for the load generator; RSS is the server's at the end of the run.", "",
        "## One-customer look-up (`GET /api/v1/customers/{id}?segmentation=value`)", "",
        "| app | clients | seconds | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU µs/req "
        "| client CPU µs/req | server RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        *([_row("trivial ASGI app (ceiling)", ceiling)] if ceiling else []),
        *[_row("segmint", r) for r in look], "",
        f"Goal at {a.clients} clients (p99 <= 20 ms with zero errors): **{goal}** (p99 {spec['p99_ms']:.1f} ms, "
        f"errors: {spec['errors'] or 'none'}). With {a.clients} closed-loop clients the mean latency is clients / "
        f"throughput (Little's law), so p99 <= 20 ms needs well over {need:,.0f} requests/s; this run served "
        f"{spec['rps']:,.0f}" + (f", and the trivial app {ceiling['rps']:,.0f} with p99 {ceiling['p99_ms']:.1f} ms"
                                  if ceiling else "") + ".", "",
        *_list_section(lists),
        f"## Export of the shop's largest segment (`value/{segment}`; consented members)", "",
        "| format | rows | MB | seconds | rows/s |", "|---|---:|---:|---:|---:|",
        *[f"| {e['format']} | {e['rows']:,} | {e['mb']:.1f} | {e['seconds']:.2f} | {e['rows'] / e['seconds']:,.0f} |"
          for e in shop_exports],
        "", f"Server peak RSS over the look-ups and these exports: {shop_rss:.0f} MB.", "",
        f"## Streaming export of {a.export_rows:,} members through the API", "",
        f"`GET /api/v1/segmentations/everyone/segments/All/export?include_non_consented=true` (admin: every member; "
        f"the consent join still runs); workspace built in {big['build_s']:.1f} s. Server start: "
        f"{big['start_s']:.1f} s, RSS {started_rss:.0f} MB" + (
            f", with the serving index holding the {a.export_rows:,} members ({big['index']['used_mb']:.1f} MB)"
            if big.get("index") else "") + ".", "",
        "| format | rows | MB | seconds | rows/s | server RSS before MB | server peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {e['format']} | {e['rows']:,} | {e['mb']:.0f} | {e['seconds']:.2f} | {e['rows'] / e['seconds']:,.0f} | "
          f"{e['rss_before_mb']:.0f} | {e['rss_peak_mb']:.0f} |" for e in big_exports], "",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    # The hand-written section at the end of the page survives a rerun.
    old = a.out.read_text(encoding="utf-8") if a.out.exists() else ""
    notes = old[old.index("## Reading these figures"):] if "## Reading these figures" in old else ""
    a.out.write_text("\n".join(lines) + ("\n" + notes if notes else ""), encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
