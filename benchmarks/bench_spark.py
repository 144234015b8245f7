"""Spark against DuckDB: the feature snapshot and an RFM segmentation of one generated shop on both engines.

Builds the shop once per engine (generated, ingested; not timed), then times, in a fresh process per
configuration, ``features`` and ``segment rfm`` on DuckDB, on Spark ``local[2]`` (2 cores, as DuckDB's
machine) and on Spark ``local[1]`` (how Spark's time changes from 1 to 2 workers' cores). The Spark
session's start (a JVM) is reported apart. Medians of ``--runs``.

    python benchmarks/bench_spark.py --customers 20000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, median, peak_rss_of, write_result  # noqa: E402

AS_OF = "2024-06-01"

BUILD = """
import json, os, sys, time
os.environ["SEGMINT_SECRET"] = "benchmark-secret-key-0123456789"
from segmint.datasets import make_shop
from segmint.workspace import Workspace
path, n, backend = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ws = Workspace.init(path); ws.close()
cfg = ws.path / "segmint.yaml"
extra = "engine:\\n  backend: spark\\n  spark:\\n    master: local[2]\\n" if backend == "spark" else ""
cfg.write_text(cfg.read_text() + extra + "segmentations:\\n  rfm:\\n    kind: rfm\\n")
ws = Workspace.open(path)
shop = make_shop(n, seed=7)
t0 = time.perf_counter()
for t in ("customers", "orders", "events"):
    ws.ingest(t, getattr(shop, t))
ws.close()
print(json.dumps({"ingest_s": time.perf_counter() - t0}))
"""

RUN = """
import json, os, sys, time
os.environ["SEGMINT_SECRET"] = "benchmark-secret-key-0123456789"
from segmint.config import Config
from segmint.workspace import Workspace
path, master = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
ws = Workspace.open(path)
if master != "duckdb":
    ws.config.engine.spark.master = master
ws.store
start = time.perf_counter() - t0
t1 = time.perf_counter()
snapshot = ws.features(as_of="@AS_OF@")
features = time.perf_counter() - t1
t2 = time.perf_counter()
ws.segment("rfm", as_of="@AS_OF@")
segment = time.perf_counter() - t2
ws.close()
print(json.dumps({"start_s": start, "features_s": features, "segment_s": segment, "rows": len(snapshot)}))
""".replace("@AS_OF@", AS_OF)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        built = {b: peak_rss_of(BUILD, str(root / b), str(args.customers), b) for b in ("duckdb", "spark")}
        configs = [("DuckDB", "duckdb", "duckdb"), ("Spark local[2]", "spark", "local[2]"),
                   ("Spark local[1]", "spark", "local[1]")]
        rows = {}
        for label, backend, master in configs:
            runs = [peak_rss_of(RUN, str(root / backend), master) for _ in range(args.runs)]
            rows[label] = {k: median([r[k] for r in runs]) for k in ("start_s", "features_s", "segment_s")}
            rows[label]["rows"] = runs[0]["rows"]
            print(label, rows[label], flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    duck = rows["DuckDB"]["features_s"] + rows["DuckDB"]["segment_s"]
    lines = [
        "## Spark versus DuckDB (issue 22)", "",
        f"`python benchmarks/bench_spark.py --customers {args.customers} --runs {args.runs}`: the feature "
        f"snapshot (`features`) and an RFM segmentation (`segment rfm`) of one generated shop of "
        f"{args.customers:,} customers ({rows['DuckDB']['rows']:,} rows in the snapshot), medians of "
        f"{args.runs} runs, each in a fresh process; `start` is opening the store (on Spark: starting the JVM "
        "and registering the warehouse's tables), not counted in the total.", "",
        "| engine | start s | features s | segment s | features + segment s | vs DuckDB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows.items():
        total = r["features_s"] + r["segment_s"]
        lines.append(f"| {label} | {r['start_s']:.1f} | {r['features_s']:.1f} | {r['segment_s']:.1f} | "
                     f"{total:.1f} | {total / duck:.1f}x |")
    one, two = (rows[k]["features_s"] + rows[k]["segment_s"] for k in ("Spark local[1]", "Spark local[2]"))
    lines += ["", f"Spark with 2 cores takes {two / one:.2f}x the time it takes with 1. Ingest (not timed above): "
              f"DuckDB {built['duckdb']['ingest_s']:.1f} s, Spark {built['spark']['ingest_s']:.1f} s.", "",
              f"Machine: {machine()}; shared with other jobs while it ran (the ratios are more trustworthy than the "
              "times).", ""]
    path = write_result("spark", "\n".join(lines))
    print(path.read_text())


if __name__ == "__main__":
    main()
