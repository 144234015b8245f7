"""Spark against DuckDB: the feature snapshot and an RFM segmentation of one generated shop on both engines.

Builds the shop once per engine (generated, ingested; timed apart), then times, in a fresh process per
run, ``features`` (a full snapshot: every feature recomputed from every order, so runs do not reuse one
another's running state) and ``segment rfm`` on DuckDB, on Spark ``local[2]`` (2 cores, as DuckDB's
machine) and on Spark ``local[1]`` (how Spark's time changes from 1 to 2 cores: the executors' cores of
one machine, in place of a 1- versus 2-worker standalone cluster). The configurations take turns run by
run, so a change in the machine's load falls on all of them. Starting the store (on Spark: the JVM) is
reported apart. Medians of ``--runs``; the load average is read before and after each run.

    python benchmarks/bench_spark.py --customers 50000 --runs 1
    python benchmarks/bench_spark.py --customers 5000 50000 --runs 1 --no-events   # two sizes: the slope
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, median, peak_rss_of, write_result  # noqa: E402

AS_OF = "2025-06-01"
CONFIGS = [("DuckDB", "duckdb", "duckdb"), ("Spark local[2]", "spark", "local[2]"),
           ("Spark local[1]", "spark", "local[1]")]

BUILD = """
import json, os, sys, time
os.environ["SEGMINT_SECRET"] = "benchmark-secret-key-0123456789"
from segmint.datasets import make_shop
from segmint.workspace import Workspace
path, n, backend, tables = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
ws = Workspace.init(path); ws.close()
cfg = ws.path / "segmint.yaml"
extra = "engine:\\n  backend: spark\\n  spark:\\n    master: local[2]\\n" if backend == "spark" else ""
cfg.write_text(cfg.read_text() + extra + "segmentations:\\n  rfm:\\n    kind: rfm\\n")
ws = Workspace.open(path)
shop = make_shop(n, seed=7)
rows = {t: len(getattr(shop, t)) for t in tables}
t0 = time.perf_counter()
for t in tables:
    ws.ingest(t, getattr(shop, t))
ws.close()
print(json.dumps({"ingest_s": time.perf_counter() - t0, "rows": rows}))
"""

RUN = """
import json, os, sys, time
os.environ["SEGMINT_SECRET"] = "benchmark-secret-key-0123456789"
from segmint.workspace import Workspace
path, master = sys.argv[1], sys.argv[2]
load = os.getloadavg()[0]
t0 = time.perf_counter()
ws = Workspace.open(path)
if master != "duckdb":
    ws.config.engine.spark.master = master
ws.store
start = time.perf_counter() - t0
t1 = time.perf_counter()
info = ws.snapshot_features(as_of="@AS_OF@", full=True)
features = time.perf_counter() - t1
t2 = time.perf_counter()
ws.segment("rfm", as_of="@AS_OF@")
segment = time.perf_counter() - t2
ws.close()
print(json.dumps({"start_s": start, "features_s": features, "segment_s": segment, "rows": info["customers"],
                  "load_before": load, "load_after": os.getloadavg()[0]}))
""".replace("@AS_OF@", AS_OF)


def measure(n: int, runs: int, tables: list[str], root: Path) -> dict:
    """Build the shop of ``n`` customers on both engines, then time every configuration ``runs`` times."""
    built = {b: peak_rss_of(BUILD, str(root / f"{b}-{n}"), str(n), b, ",".join(tables)) for b in ("duckdb", "spark")}
    print(n, "built", built, flush=True)
    samples: dict[str, list[dict]] = {label: [] for label, _, _ in CONFIGS}
    for _ in range(runs):
        for label, backend, master in CONFIGS:
            samples[label].append(peak_rss_of(RUN, str(root / f"{backend}-{n}"), master))
            print(n, label, samples[label][-1], flush=True)
    rows = {}
    for label, runs_of in samples.items():
        rows[label] = {k: median([r[k] for r in runs_of]) for k in ("start_s", "features_s", "segment_s")}
        rows[label]["rows"] = runs_of[0]["rows"]
        rows[label]["load"] = (min(r["load_before"] for r in runs_of), max(r["load_after"] for r in runs_of))
    return {"built": built, "rows": rows}


def page(args, results: dict[int, dict], loads: tuple[float, float]) -> str:
    tables = "customers and orders" if args.no_events else "customers, orders and events"
    cmd = " ".join(["python benchmarks/bench_spark.py", "--customers", *map(str, args.customers),
                    "--runs", str(args.runs)] + (["--no-events"] if args.no_events else []))
    lines = [
        "## Spark versus DuckDB (issue 22)", "",
        f"`{cmd}`: a full feature snapshot (`features`, every feature recomputed from every order) and an RFM "
        f"segmentation (`segment rfm`) of a generated shop ({tables} ingested), medians of {args.runs} run(s), "
        "each in a fresh process, the configurations taking turns; `start` is opening the store (on Spark: "
        "starting the JVM and registering the warehouse's tables), not counted in the total. 1 versus 2 "
        "cores: Spark `local[1]` against `local[2]` on the same machine.", "",
        "| customers | engine | start s | features s | segment s | features + segment s | vs DuckDB | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for n, res in results.items():
        rows = res["rows"]
        duck = rows["DuckDB"]["features_s"] + rows["DuckDB"]["segment_s"]
        for label, r in rows.items():
            total = r["features_s"] + r["segment_s"]
            lines.append(f"| {n:,} | {label} | {r['start_s']:.1f} | {r['features_s']:.1f} | {r['segment_s']:.1f} | "
                         f"{total:.1f} | {total / duck:.1f}x | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    lines.append("")
    for n, res in results.items():
        rows, built = res["rows"], res["built"]
        one, two = (rows[k]["features_s"] + rows[k]["segment_s"] for k in ("Spark local[1]", "Spark local[2]"))
        sizes = ", ".join(f"{v:,} {t}" for t, v in built["duckdb"]["rows"].items())
        lines.append(f"- {n:,} customers ({sizes}; {rows['DuckDB']['rows']:,} in the snapshot): Spark with 2 "
                     f"cores takes {two / one:.2f}x its time with 1. Ingest (not in the table): DuckDB "
                     f"{built['duckdb']['ingest_s']:.0f} s, Spark {built['spark']['ingest_s']:.0f} s.")
    if len(results) >= 2:
        ordered = sorted(results.items())
        (a, ra), (b, rb) = ordered[0], ordered[-1]
        lines += ["", "Straight-line extrapolation to 1,000,000 customers from the two sizes (features + segment; "
                  "an estimate, not a measurement):", ""]
        for label in ra["rows"]:
            ta = ra["rows"][label]["features_s"] + ra["rows"][label]["segment_s"]
            tb = rb["rows"][label]["features_s"] + rb["rows"][label]["segment_s"]
            slope = (tb - ta) / (b - a)
            lines.append(f"- {label}: {tb + slope * (1_000_000 - b):,.0f} s")
    lines += ["", f"Machine: {machine()}. Load average (1 min) {loads[0]:.1f} when the benchmark began and "
              f"{loads[1]:.1f} when it ended: the machine is shared with other jobs, so the ratios are more "
              "trustworthy than the times.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[50_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-events", action="store_true",
                        help="Ingest customers and orders only (the Spark ingest of 64 events a customer is slow)")
    args = parser.parse_args()
    tables = ["customers", "orders"] + ([] if args.no_events else ["events"])
    root = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    begun = os.getloadavg()[0]
    try:
        results = {n: measure(n, args.runs, tables, root) for n in args.customers}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path = write_result("spark", page(args, results, (begun, os.getloadavg()[0])))
    print(path.read_text())


if __name__ == "__main__":
    main()
