"""Spark against DuckDB: the feature snapshot and an RFM segmentation of one generated shop on both engines.

Builds the shop once per engine (timed apart): the generator's Parquet files
(:func:`segmint.datasets.write_shop`, cached in benchmarks/.cache as bench_e2e.py does) ingested with
``Workspace.ingest(table, path)``, as a user loads files; ``--from-frames`` ingests ``make_shop``'s
DataFrames instead (the earlier path: on Spark the frames travel through the driver, which is slower).
Then times, in a fresh process per run, ``features`` (a full snapshot: every feature recomputed from
every order, so runs do not reuse one another's running state) and ``segment rfm`` on:

- DuckDB;
- Spark ``local[2]`` (2 cores in the driver's JVM, as DuckDB's machine): the main Spark configuration;
- a standalone Spark cluster of 1 worker (1 core), and one of 2 workers (1 core each): how Spark's time
  changes from 1 to 2 workers. Both clusters (a master and its workers each, started from the PySpark
  installation with ``spark-class`` as tests/spark/conftest.py does) run on this machine for the whole
  benchmark; the driver is the benchmark's process (client mode).

The configurations take turns run by run, so a change in the machine's load falls on all of them.
Starting the store (on Spark: the JVM and, on a cluster, its executors) is reported apart. Medians of
``--runs``; the load average is read before and after each run. The page is rewritten after each size,
so an interrupted run keeps the sizes it finished.

    python benchmarks/bench_spark.py --customers 5000 50000 1000000 --runs 1 --no-events
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, machine, median, peak_rss_of, write_result  # noqa: E402

AS_OF = "2025-06-01"
SEED = 0  # bench_e2e's shops: the same cached Parquet files
#: Driver memory of every Spark configuration (the 1 GB default is too little for a 1M shop's ingest in local mode,
#: where the executors are the driver); the executors of the standalone workers get EXECUTOR_MEMORY each.
DRIVER_MEMORY, EXECUTOR_MEMORY, WORKER_MEMORY = "4g", "3g", "3g"
CONFIGS = ["DuckDB", "Spark local[2]", "Spark standalone, 1 worker", "Spark standalone, 2 workers"]

BUILD = """
import json, os, sys, time
os.environ["SEGMINT_SECRET"] = "benchmark-secret-key-0123456789"
from segmint.workspace import Workspace
path, n, backend, tables, source, memory = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(","), \\
    sys.argv[5], sys.argv[6]
ws = Workspace.init(path); ws.close()
cfg = ws.path / "segmint.yaml"
extra = (f"engine:\\n  backend: spark\\n  spark:\\n    master: local[2]\\n    conf:\\n"
         f"      spark.driver.memory: {memory}\\n") if backend == "spark" else ""
cfg.write_text(cfg.read_text() + extra + "segmentations:\\n  rfm:\\n    kind: rfm\\n")
ws = Workspace.open(path)
load = os.getloadavg()[0]
if source == "frames":
    from segmint.datasets import make_shop
    shop = make_shop(n, seed=7)
    data = {t: getattr(shop, t) for t in tables}
else:
    from pathlib import Path
    data = {t: str(Path(source) / f"{t}.parquet") for t in tables}
rows, seconds = {}, {}
t0 = time.perf_counter()
for t in tables:
    t1 = time.perf_counter()
    rows[t] = ws.ingest(t, data[t]).rows_accepted
    seconds[t] = time.perf_counter() - t1
ws.close()
print(json.dumps({"ingest_s": time.perf_counter() - t0, "table_s": seconds, "rows": rows, "load_before": load,
                  "load_after": os.getloadavg()[0]}))
"""

RUN = """
import json, os, sys, time
os.environ["SEGMINT_SECRET"] = "benchmark-secret-key-0123456789"
from segmint.workspace import Workspace
path, master, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
load = os.getloadavg()[0]
try:
    t0 = time.perf_counter()
    ws = Workspace.open(path)
    if master != "duckdb":
        ws.config.engine.spark.master = master
        ws.config.engine.spark.conf = {**ws.config.engine.spark.conf, **conf}
    store = ws.store
    if master.startswith("spark://"):  # the executors too, as local mode has its own from the start
        sc = store.con._session.sparkContext
        while sc._jsc.sc().getExecutorMemoryStatus().size() - 1 < int(conf["spark.cores.max"]):
            time.sleep(0.2)
    start = time.perf_counter() - t0
    t1 = time.perf_counter()
    info = ws.snapshot_features(as_of="@AS_OF@", full=True)
    features = time.perf_counter() - t1
    t2 = time.perf_counter()
    ws.segment("rfm", as_of="@AS_OF@")
    segment = time.perf_counter() - t2
    ws.close()
except Exception as exc:  # a failed configuration is reported on the page, and the others still run
    import traceback
    traceback.print_exc()
    text = str(exc).strip()
    first = next((l.strip() for l in text.splitlines() if "Exception:" in l or "Error:" in l),
                 text.splitlines()[0] if text else type(exc).__name__)
    print(json.dumps({"error": first[:300], "load_before": load, "load_after": os.getloadavg()[0]}))
    sys.exit(0)
print(json.dumps({"start_s": start, "features_s": features, "segment_s": segment, "rows": info["customers"],
                  "load_before": load, "load_after": os.getloadavg()[0]}))
""".replace("@AS_OF@", AS_OF)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"{log.name} did not say {text!r}:\n" + (log.read_text(errors="replace")[-2000:]
                                                               if log.exists() else "(no log)"))


class Cluster:
    """A standalone Spark master and ``workers`` workers of 1 core each, from the PySpark installation."""

    def __init__(self, workers: int, root: Path) -> None:
        import pyspark

        home = Path(pyspark.__file__).parent
        self.root, self.procs = root, []
        self.env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
                    "SPARK_WORKER_DIR": str(root / "work"), "PYSPARK_PYTHON": sys.executable}
        self.env.pop("PYSPARK_SUBMIT_ARGS", None)
        self.spark_class = str(home / "bin" / "spark-class")
        self.url = f"spark://127.0.0.1:{_free_port()}"
        self.workers = workers
        try:
            self._start("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                                   self.url.rsplit(":", 1)[1], "--webui-port", str(_free_port())],
                        "I have been elected leader")
            for i in range(workers):
                self._start(f"worker{i}", ["org.apache.spark.deploy.worker.Worker", self.url, "--cores", "1",
                                           "--memory", WORKER_MEMORY, "--webui-port", str(_free_port())],
                            "Successfully registered with master")
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, args: list[str], ready: str) -> None:
        log = self.root / f"{name}.log"
        with open(log, "w") as out:
            self.procs.append(subprocess.Popen(["nice", "-n", "10", self.spark_class, *args], env=self.env,
                                               stdout=out, stderr=subprocess.STDOUT))
        _wait_for(log, ready, self.procs[-1])

    def conf(self) -> dict:
        return {"spark.cores.max": str(self.workers), "spark.executor.cores": "1",
                "spark.executor.memory": EXECUTOR_MEMORY}

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def shop_files(n: int) -> Path:
    from bench_features import cached_shop

    return cached_shop(n, SEED)


def measure(n: int, runs: int, tables: list[str], root: Path, clusters: dict[str, Cluster],
            frames: bool) -> dict:
    """Build the shop of ``n`` customers on both engines, then time every configuration ``runs`` times.

    ``clusters`` may be empty (``--clusters-up-to`` below ``n``): DuckDB and ``local[2]`` only.
    """
    source = "frames" if frames else str(shop_files(n))
    built = {}
    for backend in ("duckdb", "spark"):
        built[backend] = peak_rss_of(BUILD, str(root / f"{backend}-{n}"), str(n), backend, ",".join(tables),
                                     source, DRIVER_MEMORY)
        print(n, "built", backend, built[backend], flush=True)
    targets = {"DuckDB": ("duckdb", "duckdb", {}),
               "Spark local[2]": ("spark", "local[2]", {}),
               **{label: ("spark", c.url, c.conf()) for label, c in clusters.items()}}
    samples: dict[str, list[dict]] = {label: [] for label in targets}
    for _ in range(runs):
        for label, (backend, master, conf) in targets.items():
            samples[label].append(peak_rss_of(RUN, str(root / f"{backend}-{n}"), master, json.dumps(conf)))
            print(n, label, samples[label][-1], flush=True)
    rows = {}
    for label, runs_of in samples.items():
        failed = [r["error"] for r in runs_of if "error" in r]
        if failed:
            rows[label] = {"error": failed[0], "load": (min(r["load_before"] for r in runs_of),
                                                        max(r["load_after"] for r in runs_of))}
            continue
        rows[label] = {k: median([r[k] for r in runs_of]) for k in ("start_s", "features_s", "segment_s")}
        rows[label]["rows"] = runs_of[0]["rows"]
        rows[label]["load"] = (min(r["load_before"] for r in runs_of), max(r["load_after"] for r in runs_of))
    shutil.rmtree(root / f"spark-{n}", ignore_errors=True)
    shutil.rmtree(root / f"duckdb-{n}", ignore_errors=True)
    return {"built": built, "rows": rows}


def _total(r: dict) -> float:
    return r["features_s"] + r["segment_s"]


def page(args, results: dict[int, dict], loads: tuple[float, float], done: bool,
         reused: list[int]) -> str:
    tables = "customers and orders" if args.no_events else "customers, orders and events"
    cmd = " ".join(["python benchmarks/bench_spark.py", "--customers", *map(str, args.customers),
                    "--runs", str(args.runs)] + (["--no-events"] if args.no_events else [])
                   + (["--from-frames"] if args.from_frames else [])
                   + (["--clusters-up-to", str(args.clusters_up_to)] if args.clusters_up_to else []))
    source = ("`make_shop`'s DataFrames" if args.from_frames else
              "the generator's Parquet files (`write_shop`, as bench_e2e.py)")
    lines = [
        "## Spark versus DuckDB (issue 22)", "",
        f"`{cmd}`: a full feature snapshot (`features`, every feature recomputed from every order) and an RFM "
        f"segmentation (`segment rfm`) of a generated shop ({tables} ingested from {source}), medians of "
        f"{args.runs} run(s), each in a fresh process, the configurations taking turns. `start` is opening the "
        "store (on Spark: starting the JVM, registering the warehouse's tables and, on a cluster, getting its "
        "executors), not counted in the total. Spark's driver has "
        f"`spark.driver.memory: {DRIVER_MEMORY}`. 1 versus 2 workers: a standalone cluster (master and workers "
        "started from the PySpark installation on this machine) of 1 worker with 1 core, and one of 2 workers "
        f"with 1 core each, executors of {EXECUTOR_MEMORY}; the driver is the benchmark's process.", "",
        "| customers | engine | start s | features s | segment s | features + segment s | vs DuckDB | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for n, res in results.items():
        rows = res["rows"]
        duck = _total(rows["DuckDB"])
        for label, r in rows.items():
            if "error" in r:
                lines.append(f"| {n:,} | {label} | | | | failed: {r['error'].replace('|', '/')} | | "
                             f"{r['load'][0]:.1f}-{r['load'][1]:.1f} |")
                continue
            lines.append(f"| {n:,} | {label} | {r['start_s']:.1f} | {r['features_s']:.1f} | {r['segment_s']:.1f} | "
                         f"{_total(r):.1f} | {_total(r) / duck:.1f}x | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    lines.append("")
    for n, res in results.items():
        rows, built = res["rows"], res["built"]
        workers = ("Spark standalone, 1 worker", "Spark standalone, 2 workers")
        one, two = (_total(rows[k]) if "features_s" in rows.get(k, {}) else None for k in workers)
        sizes = ", ".join(f"{v:,} {t}" for t, v in built["duckdb"]["rows"].items())
        ingest = "; ".join(
            f"{name} {b['ingest_s']:.0f} s (" + ", ".join(f"{t} {s:.0f} s" for t, s in b["table_s"].items())
            + f"; load {b['load_before']:.1f}-{b['load_after']:.1f})"
            for name, b in (("DuckDB", built["duckdb"]), ("Spark local[2]", built["spark"])))
        lines.append(f"- {n:,} customers ({sizes}; {rows['DuckDB']['rows']:,} in the snapshot): Spark local[2] "
                     + (f"takes {_total(rows['Spark local[2]']) / _total(rows['DuckDB']):.1f}x DuckDB's time; "
                        if "features_s" in rows["Spark local[2]"] else "failed; ")
                     + (f"the cluster with 2 workers takes {two / one:.2f}x its time with 1" if one and two else
                        "no 1- versus 2-worker ratio at this size")
                     + f". Ingest (not in the table): {ingest}.")
    if reused:
        lines += ["", "The figures of " + " and ".join(f"{n:,}" for n in reused) + " customers come from earlier "
                  "runs of this script (`--reuse`: each size's figures are kept in benchmarks/.cache when it is "
                  "measured); their load averages are in the table."]
    loaded = (f"Load average (1 min) {loads[0]:.1f} when the benchmark began and {loads[1]:.1f} "
              + ("when it ended" if done else "when this page was written (the run went on)")
              if len(reused) < len(results) else "Load averages (1 min) are in the table")
    lines += ["", f"Machine: {machine()}. {loaded}: the machine is shared with other jobs, so the ratios are "
              "more trustworthy than the times.", ""]
    if args.note:
        lines += [args.note, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[50_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-events", action="store_true",
                        help="Ingest customers and orders only (the Spark ingest of 64 events a customer is slow)")
    parser.add_argument("--from-frames", action="store_true",
                        help="Build from make_shop's DataFrames in memory instead of the cached Parquet files")
    parser.add_argument("--clusters-up-to", type=int, default=None, metavar="N",
                        help="Run the standalone clusters only for sizes up to N customers (default: every size)")
    parser.add_argument("--reuse", action="store_true",
                        help="Take a size measured before with the same options from benchmarks/.cache (each "
                             "size's figures are kept there) instead of measuring it again")
    parser.add_argument("--note", default="", help="A sentence for the page (what else ran on the machine)")
    args = parser.parse_args()
    tables = ["customers", "orders"] + ([] if args.no_events else ["events"])
    root = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    begun = os.getloadavg()[0]
    clusters: dict[str, Cluster] = {}
    results: dict[int, dict] = {}
    reused: list[int] = []
    try:
        for n in args.customers:
            kept = CACHE / f"spark-results-{n}-{'-'.join(tables)}-runs{args.runs}{'-frames' * args.from_frames}.json"
            if args.reuse and kept.exists():
                results[n] = json.loads(kept.read_text())
                reused.append(n)
                print(n, "reused", kept, flush=True)
            else:
                if (args.clusters_up_to is None or n <= args.clusters_up_to) and not clusters:
                    logs = CACHE / "spark-clusters"  # kept after the run: the executors' logs say why one failed
                    shutil.rmtree(logs, ignore_errors=True)
                    for workers in (1, 2):  # started once, for every size that runs them
                        (logs / f"cluster{workers}").mkdir(parents=True)
                        clusters[f"Spark standalone, {workers} worker" + ("s" if workers > 1 else "")] = \
                            Cluster(workers, logs / f"cluster{workers}")
                wanted = clusters if args.clusters_up_to is None or n <= args.clusters_up_to else {}
                results[n] = measure(n, args.runs, tables, root, wanted, args.from_frames)
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text(json.dumps(results[n]))
            path = write_result("spark", page(args, results, (begun, os.getloadavg()[0]), n == args.customers[-1],
                                              reused))
    finally:
        for cluster in clusters.values():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(path.read_text())


if __name__ == "__main__":
    main()
