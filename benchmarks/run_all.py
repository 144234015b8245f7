"""`make bench`: run the benchmarks and collect their result pages into BENCHMARKS.md.

    python benchmarks/run_all.py            # run every benchmark at its default size, then collect
    python benchmarks/run_all.py --collect  # only rebuild BENCHMARKS.md from benchmarks/results/*.md

Each benchmark measures segmint against the peer a user would otherwise use, in the same run, and writes
benchmarks/results/<name>.md with the command, the machine and the medians.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["e2e", "profile", "ingest", "ingest-scale", "features", "clv", "clv-accuracy", "kselect", "server", "server-lists",
         "activation", "measurement", "privacy", "journeys", "regression", "generate",
         # monitoring (issue 17)
         "refresh",
         # the Spark backend (issue 22)
         "spark"]
COMMANDS = {
    "ingest": ["bench_ingest.py", "--customers", "200000", "--runs", "3"],
    # peak memory of the 1M shop's 21M orders and 64M events (CSV, 3.7 GB), one day into the 21M-row table (issue 16)
    "ingest-scale": ["bench_ingest_scale.py", "--customers", "1000000"],
    "clv": ["bench_clv.py", "--sizes", "200000", "--repeats", "3"],
    # holdout accuracy on CDNOW and Online Retail; Lifetimes joins when importable (see the script)
    "clv-accuracy": ["bench_clv_accuracy.py"],
    # 70 planted data sets (segmint vs silhouette-max, GMM BIC, gap) in 2 processes, then 1M rows 3 runs
    "kselect": ["bench_kselect.py", "--workers", "2"],
    "features": ["bench_features.py"],
    # the whole pipeline against the notebook users write: 3 runs a side at 200k customers, 2 at 1M, and one
    # more of segmint under cProfile at each size
    "e2e": ["bench_e2e.py", "--customers", "200000", "1000000", "--runs", "3", "2", "--profile", "200000", "1000000"],
    # DuckDB's own profile of the feature snapshot's largest query, on the 1M shop e2e cached
    "profile": ["profile_features.py", "--customers", "1000000"],
    # look-ups from wrk (installed when missing) against `segmint serve` on the cached 200k shop; 1M-row export
    "server": ["bench_server.py", "--customers", "200000"],
    # wave 2: the outbox diff, webhook and PostgreSQL delivery of a 1M-customer refresh (issue 18)
    "activation": ["bench_activation.py", "--customers", "1000000", "--moves", "50000", "--repeat", "3"],
    # measuring a campaign and lookalike scoring at 1M customers against the pandas/sklearn notebook (issue 19)
    "measurement": ["bench_measurement.py", "--customers", "1000000", "--runs", "2"],
    # forgetting 1,000 people (issue 20)
    "privacy": ["bench_privacy.py"],
    # paths, a 3-step funnel and embedding 100,000 answers (issue 23)
    "journeys": ["bench_journeys.py"],
    # monitoring (issue 17): a refresh after one day of orders vs a full run and the notebook, on e2e's shop
    "refresh": ["bench_refresh.py", "--customers", "200000", "1000000", "--runs", "3"],
    # the Spark backend (issue 22): features + segment on DuckDB, Spark local[2] and (up to 200k) a standalone cluster
    # of 1 and of 2 workers (needs PySpark and Java 17: scripts/install-pyspark.sh), built from the cached Parquet
    # shop; about an hour on the 2-core machine, most of it the 1M shop's Spark ingest (15 minutes)
    "spark": ["bench_spark.py", "--customers", "5000", "50000", "200000", "1000000", "--runs", "1", "--no-events",
              "--clusters-up-to", "200000"],
}

HEADER = """# Benchmarks

segmint against the tools a user would otherwise use, measured in the same run on the same data, medians of
several runs. Each section below is a page of `benchmarks/results/`, written by the benchmark named in it;
`make bench` reruns them (`python benchmarks/run_all.py --collect` only rebuilds this page). Figures are taken
on the project's 2-core development machine; each page names its command and machine. Other jobs running at
the same time slow both sides of a comparison: the ratios are more trustworthy than the absolute times.
"""


def collect() -> Path:
    pages = sorted((HERE / "results").glob("*.md"),
                   key=lambda p: ORDER.index(p.stem) if p.stem in ORDER else len(ORDER))
    parts = [HEADER]
    for page in pages:
        text = page.read_text(encoding="utf-8").strip()
        # demote the page's headings one level under this document's title
        text = "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())
        parts.append(text)
    out = ROOT / "BENCHMARKS.md"
    out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collect", action="store_true", help="only rebuild BENCHMARKS.md")
    args = ap.parse_args()
    if not args.collect:
        if not (HERE / ".venv-peers").exists():
            subprocess.run(["bash", str(HERE / "peers" / "make_peer_venv.sh")], check=True)
        for name, cmd in COMMANDS.items():
            print(f"== {name}", flush=True)
            subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]], check=True, cwd=ROOT)
    print(collect())


if __name__ == "__main__":
    main()
