"""Ingest throughput: `segmint ingest orders` (all checks on) vs a bare `pyarrow.csv.read_csv` of the same file.

Both run in the same invocation, each in a fresh process, several times; the table reports medians.

    python benchmarks/bench_ingest.py --customers 200000 --runs 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, machine, median, peak_rss_of, write_result  # noqa: E402

PYARROW = """
import json, sys, time
import pyarrow.csv as pc
t0 = time.perf_counter()
table = pc.read_csv(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": table.num_rows}))
"""

SEGMINT = """
import json, os, sys, tempfile, time
os.environ.setdefault("SEGMINT_SECRET", "benchmark-secret-key-0123456789")
from segmint.workspace import Workspace
ws = Workspace.init(tempfile.mkdtemp() + "/bench")
t0 = time.perf_counter()
r = ws.ingest("orders", sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": r.rows_read, "accepted": r.rows_accepted}))
"""


def shop_orders(customers: int) -> Path:
    """The generated shop's orders.csv for ``customers`` (cached between runs)."""
    from segmint.datasets import write_shop

    directory = CACHE / f"shop_{customers}"
    path = directory / "orders.csv"
    if not path.exists():
        write_shop(directory, n_customers=customers, seed=7)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, nargs="+", default=[200_000])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for n in args.customers:
        path = shop_orders(n)
        pa_runs = [peak_rss_of(PYARROW, str(path)) for _ in range(args.runs)]
        sg_runs = [peak_rss_of(SEGMINT, str(path)) for _ in range(args.runs)]
        n_rows = sg_runs[0]["rows"]
        pa_s = median([r["seconds"] for r in pa_runs])
        sg_s = median([r["seconds"] for r in sg_runs])
        rows.append((n, n_rows, pa_s, n_rows / pa_s, max(r["peak_rss_mb"] for r in pa_runs),
                     sg_s, n_rows / sg_s, max(r["peak_rss_mb"] for r in sg_runs)))
        print(rows[-1], flush=True)
    lines = [
        "# Ingest throughput",
        "",
        f"Command: `python benchmarks/bench_ingest.py --customers {' '.join(map(str, args.customers))} "
        f"--runs {args.runs}`  ",
        f"Machine: {machine()}",
        "",
        "segmint: `ws.ingest('orders', path)` into a fresh workspace, every check on (types, required, ranges, "
        "exact duplicates, duplicate keys, store comparison, quarantine, one transaction). Peer: a bare "
        "`pyarrow.csv.read_csv` of the same file (multi-threaded, no checks, nothing written). Medians of "
        f"{args.runs} runs, each in a fresh process.",
        "",
        "| customers | order rows | pyarrow s | pyarrow rows/s | pyarrow peak MB | segmint s | segmint rows/s "
        "| segmint peak MB | segmint / pyarrow rows/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r, ps, prs, pm, ss, srs, sm in rows:
        lines.append(f"| {n:,} | {r:,} | {ps:.2f} | {prs:,.0f} | {pm:,.0f} | {ss:.2f} | {srs:,.0f} | {sm:,.0f} "
                     f"| {srs / prs:.2f} |")
    print(write_result("ingest", "\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
