"""Ingest: `segmint ingest orders` (every check on) against DuckDB's bare `CREATE TABLE t AS SELECT * FROM read_csv(f)`.

Same run, same file, each measurement a whole fresh process (imports and start-up included in the wall time; the
table reports the time of the load itself and the process's peak RSS), the two alternating so that a busy machine
slows both alike; medians of --runs. Formats: CSV, gzip CSV and Parquet of the generated shop's orders.
Both sides run with DuckDB's memory_limit at 1 GB (segmint's default ``engine.memory_limit``).

    python benchmarks/bench_ingest.py --customers 200000 --runs 3
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, machine, median, peak_rss_of, write_result  # noqa: E402

BARE = """
import json, sys, tempfile, time
import duckdb
path, fmt = sys.argv[1], sys.argv[2]
con = duckdb.connect(tempfile.mkdtemp() + "/bare.duckdb")
con.execute("SET memory_limit = '1GB'")
reader = "read_parquet" if fmt == "parquet" else "read_csv"
t0 = time.perf_counter()
con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}(?)", [path])
n = con.execute("SELECT count(*) FROM t").fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": n}))
"""

SEGMINT = """
import json, os, sys, tempfile, time
os.environ.setdefault("SEGMINT_SECRET", "benchmark-secret-key-0123456789")
from segmint.workspace import Workspace
ws = Workspace.init(tempfile.mkdtemp() + "/bench")
t0 = time.perf_counter()
r = ws.ingest("orders", sys.argv[1])
seconds = time.perf_counter() - t0
again = None
if len(sys.argv) > 3:  # re-ingest the same file: incremental, nothing new
    t1 = time.perf_counter()
    r2 = ws.ingest("orders", sys.argv[1])
    again = {"seconds": time.perf_counter() - t1, "new": r2.rows_new, "unchanged": r2.rows_unchanged}
print(json.dumps({"seconds": seconds, "rows": r.rows_read, "accepted": r.rows_accepted,
                  "quarantined": r.rows_quarantined, "again": again}))
"""


def shop_files(customers: int) -> dict[str, Path]:
    """The generated shop's orders as CSV, gzip CSV and Parquet (cached between runs)."""
    from segmint.datasets import write_shop

    directory = CACHE / f"shop_{customers}"
    csv = directory / "orders.csv"
    if not csv.exists():
        write_shop(directory, n_customers=customers, seed=7)
    gz = directory / "orders.csv.gz"
    if not gz.exists():
        with csv.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    pq = directory / "orders.parquet"
    if not pq.exists():
        import duckdb

        duckdb.connect().execute("COPY (SELECT * FROM read_csv(?)) TO '" + str(pq).replace("'", "''")
                                 + "' (FORMAT parquet)", [str(csv)])
    return {"CSV": csv, "gzip CSV": gz, "Parquet": pq}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--formats", nargs="+", default=["CSV", "gzip CSV", "Parquet"])
    ap.add_argument("--note", default="", help="a paragraph for the page (e.g. how busy the machine was)")
    args = ap.parse_args()
    files = shop_files(args.customers)
    rows = []
    for label in args.formats:
        path = files[label]
        fmt = "parquet" if label == "Parquet" else "csv"
        bare, seg = [], []
        for i in range(args.runs):
            bare.append(peak_rss_of(BARE, str(path), fmt))
            extra = ["again"] if (label == "CSV" and i == 0) else []
            seg.append(peak_rss_of(SEGMINT, str(path), fmt, *extra))
            print(label, i, f"bare {bare[-1]['seconds']:.1f}s {bare[-1]['peak_rss_mb']:.0f}MB",
                  f"segmint {seg[-1]['seconds']:.1f}s {seg[-1]['peak_rss_mb']:.0f}MB", flush=True)
        again = next((r["again"] for r in seg if r.get("again")), None)
        b, s = median([r["seconds"] for r in bare]), median([r["seconds"] for r in seg])
        rows.append((label, path.stat().st_size, seg[0]["rows"], seg[0]["quarantined"], b,
                     max(r["peak_rss_mb"] for r in bare), s, max(r["peak_rss_mb"] for r in seg), again))
        report(args, rows)  # after each format: a partial table survives a run cut short


def report(args, rows) -> None:
    lines = [
        "# Ingest: segmint against DuckDB's bare read_csv",
        "",
        f"Command: `python benchmarks/bench_ingest.py --customers {args.customers} --runs {args.runs}`  ",
        f"Machine: {machine()}  ",
        args.note or "Compare the two columns of one row, measured alternately in the same run.",
        "",
        "segmint: `ws.ingest('orders', path)` into a fresh workspace, every check on (types, required, ranges, "
        "plausible dates, exact duplicates, duplicate keys, unknown customers, comparison with the store, "
        "quarantine with reasons, personal-data detection, one transaction). Peer: DuckDB's "
        "`CREATE TABLE t AS SELECT * FROM read_csv(f)` (or `read_parquet`) into a fresh database file, no checks. "
        f"Both with DuckDB's memory_limit at 1 GB. Medians of {args.runs} whole processes each, alternating; "
        "peak RSS is the largest of the runs.",
        "",
        "| file | size MB | rows | quarantined | DuckDB s | DuckDB peak MB | segmint s | segmint peak MB "
        "| segmint / DuckDB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, size, n, q, b, bm, s, sm, _ in rows:
        lines.append(f"| orders, {label} | {size / 1e6:,.0f} | {n:,} | {q:,} | {b:.1f} | {bm:,.0f} | {s:.1f} | "
                     f"{sm:,.0f} | {s / b:.2f}x |")
    again = next((r[-1] for r in rows if r[-1]), None)
    if again:
        lines += ["", f"Re-ingesting the same CSV into the loaded table (upsert, one run): {again['seconds']:.1f} s, "
                      f"{again['new']:,} new, {again['unchanged']:,} unchanged."]
    print(write_result("ingest", "\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
