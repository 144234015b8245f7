"""Time ``segmint.datasets.write_shop`` at scale: seconds, rows per second, peak memory.

Each size runs in its own process, so the peak resident memory reported is that run's
alone.  Output goes to a temporary folder that is removed afterwards unless ``--keep``.

Usage::

    .venv/bin/python benchmarks/bench_generate.py                 # 200k and 1M customers
    .venv/bin/python benchmarks/bench_generate.py --sizes 200000 --format parquet
    .venv/bin/python benchmarks/bench_generate.py --json benchmarks/results/generate.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def worker(n_customers: int, directory: str, fmt: str, seed: int) -> dict[str, object]:
    """Generate one shop and measure it (runs in a child process)."""
    from segmint.datasets import write_shop

    usage = resource.getrusage(resource.RUSAGE_SELF)
    started, cpu0 = time.perf_counter(), usage.ru_utime + usage.ru_stime
    out = write_shop(directory, n_customers, seed=seed, format=fmt)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds (both threads) say how much work it was even on a busy shared machine.
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    rows = out["rows"]
    total = sum(rows.values())
    size = sum(p.stat().st_size for p in Path(directory).iterdir())
    return {
        "customers": n_customers,
        "format": fmt,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rows": rows,
        "rows_per_second": round(total / seconds),
        "orders_per_second": round(rows["orders"] / seconds),
        "bytes_written": size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(n_customers: int, fmt: str, seed: int, keep: bool) -> dict[str, object]:
    """Run :func:`worker` in a fresh interpreter and return its measurements."""
    directory = tempfile.mkdtemp(prefix=f"segmint-shop-{n_customers}-")
    try:
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_generate as b; "
            "print(json.dumps(b.worker(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))))"
        )
        here = str(Path(__file__).resolve().parent)
        done = subprocess.run(
            [sys.executable, "-c", code, here, str(n_customers), directory, fmt, str(seed)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if keep:
            result["directory"] = directory
        return result
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    results = []
    header = (
        f"{'customers':>10} {'orders':>11} {'events':>11} {'seconds':>8} {'cpu s':>7} {'rows/s':>10} "
        f"{'MB':>7} {'RSS MB':>7}"
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    print(header)
    for n in args.sizes:
        r = run(n, args.format, args.seed, args.keep)
        results.append(r)
        rows = r["rows"]
        print(
            f"{n:>10,} {rows['orders']:>11,} {rows['events']:>11,} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} "
            f"{r['rows_per_second']:>10,} {r['bytes_written'] / 1e6:>7.0f} {r['peak_rss_mb']:>7.0f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "write_shop", "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
