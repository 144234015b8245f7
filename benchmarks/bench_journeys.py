"""Journeys and free text (issue 23): paths and a 3-step funnel in the engine against the pandas a user writes,
and embedding 100,000 free-text answers offline on 2 cores with bounded memory.

    python benchmarks/bench_journeys.py --customers 50000 --runs 3 --answers 100000
    python benchmarks/bench_journeys.py --customers 20000 --runs 3 --skip-embed   # keeps the embedding figures
    python benchmarks/bench_journeys.py --customers 100000 1000000 --runs 3 --skip-embed   # the issue's 1M target

The shop is generated (parquet) and ingested once into benchmarks/.cache/journeys-<N>/ and reused (a marker
file says the ingest finished, so an interrupted one is redone). Beside wall times, the process's CPU time
(user + system, DuckDB's threads included) is recorded: on a shared machine it moves much less than wall time. Both sides
read the same tables; pandas starts from DataFrames already in memory (its load is not counted), segmint from
the store. The pandas funnel is the usual first-touch version (the first visit, the first click after it, the
first order after that, within 14 days of the visit): simpler than segmint's, which finds the best chain from
any visit, so it can only flatter pandas.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, median, peak_rss_of, write_result  # noqa: E402

STEPS = ["web_visit", "email_click", "order"]
WITHIN = 14 * 86_400


def workspace(n: int):
    from segmint.datasets import write_shop
    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "benchmark-secret-key-0123456789")
    root = CACHE / f"journeys-{n}"
    done = root / "ws" / ".ingested"
    if not done.exists():
        if not (root / "data" / "events.parquet").exists():
            write_shop(root / "data", n, seed=11, format="parquet")
        if (root / "ws").exists():
            shutil.rmtree(root / "ws")  # an ingest that did not finish
        ws = Workspace.init(root / "ws", exist_ok=True)
        for t in ("customers", "orders", "events"):
            ws.ingest(t, str(root / "data" / f"{t}.parquet"))
        ws.close()
        done.write_text("ok\n")
    return Workspace.open(root / "ws")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(out: dict, key: str, fn):
    """Run ``fn``, append its wall and CPU seconds to ``out[key]`` and ``out[key + '_cpu']``."""
    t, c = time.perf_counter(), cpu()
    value = fn()
    out[key].append(time.perf_counter() - t)
    out.setdefault(key + "_cpu", []).append(cpu() - c)
    return value


def pandas_funnel(events, orders):
    import pandas as pd

    visits = events[events.event == STEPS[0]].groupby("customer_id").occurred_at.min().rename("t1").reset_index()
    clicks = events[events.event == STEPS[1]][["customer_id", "occurred_at"]].rename(columns={"occurred_at": "t2"})
    m = visits.merge(clicks, on="customer_id")
    m = m[(m.t2 > m.t1) & ((m.t2 - m.t1).dt.total_seconds() <= WITHIN)]
    m = m.groupby("customer_id").agg(t1=("t1", "first"), t2=("t2", "min")).reset_index()
    buys = orders[~orders.returned.fillna(False)][["customer_id", "ordered_at"]].rename(columns={"ordered_at": "t3"})
    b = m.merge(buys, on="customer_id")
    b = b[(b.t3 > b.t2) & ((b.t3 - b.t1).dt.total_seconds() <= WITHIN)]
    b = b.groupby("customer_id").agg(t2=("t2", "first"), t3=("t3", "min")).reset_index()
    return [len(visits), len(m), len(b)], pd.Series((m.t2 - m.t1).dt.total_seconds()).median()


def pandas_paths(events, orders):
    import pandas as pd

    o = orders[~orders.returned.fillna(False)]
    s = pd.concat([events[["customer_id", "occurred_at", "event"]].rename(columns={"occurred_at": "at", "event": "step"}),
                   o[["customer_id", "ordered_at"]].rename(columns={"ordered_at": "at"}).assign(step="order")])
    s = s.sort_values(["customer_id", "at", "step"], kind="stable")
    gap = s.groupby("customer_id")["at"].diff().dt.total_seconds()
    s["session"] = (gap.isna() | (gap > 1800)).cumsum()
    s = s[s.step.ne(s.groupby("session").step.shift())]  # repeats collapsed
    s["pos"] = s.groupby("session").cumcount()
    first = s[s.step == "web_visit"].groupby("session").pos.min().rename("p0")
    s = s.join(first, on="session", how="inner")
    s = s[(s.pos >= s.p0) & (s.pos < s.p0 + 5)]
    paths = s.groupby("session").step.agg(tuple)
    return paths.value_counts().head(10)


def bench_engine(n: int, runs: int, with_pandas_paths: bool = True) -> dict:
    from segmint.journeys.paths import top_paths
    from segmint.journeys.steps import step_stream

    ws = workspace(n)
    events = ws.store.table("events")
    orders = ws.store.table("orders")
    counts = {t: ws.store.count(t) for t in ("customers", "orders", "events")}
    out: dict = {"counts": counts, "segmint_funnel": [], "segmint_paths": [], "pandas_funnel": [],
                 "pandas_paths": [], "memory_limit": ws.store.setting("memory_limit")}
    for _ in range(runs):
        f = timed(out, "segmint_funnel", lambda: ws.funnel(STEPS, within="14d"))
        p = timed(out, "segmint_paths",
                  lambda: top_paths(step_stream(events, orders), start="web_visit", length=5, gap_seconds=1800))
    out["segmint_funnel_counts"] = [r["customers"] for r in f["overall"]]
    out["segmint_top_path"] = p["paths"][0]
    ev = events.select("customer_id", "occurred_at", "event").to_pandas()
    od = orders.select("customer_id", "ordered_at", "returned").to_pandas()
    ws.close()
    for _ in range(runs):
        counts_pd, _ = timed(out, "pandas_funnel", lambda: pandas_funnel(ev, od))
        if with_pandas_paths:
            top = timed(out, "pandas_paths", lambda: pandas_paths(ev, od))
    out["pandas_funnel_counts"] = counts_pd
    if with_pandas_paths:
        out["pandas_top_path"] = [list(top.index[0]), int(top.iloc[0])]
    return out


def _rows(engine: dict) -> list[str]:
    """The page's two table rows for one shop."""
    c = engine["counts"]
    shop = f"{c['customers']:,} customers, {c['events']:,} events, {c['orders']:,} orders"

    def pd_cell(key: str) -> str:
        if not engine[key]:
            return "not run | not run"
        return f"{median(engine[key]):.2f} s | {median(engine[key + '_cpu']):.2f} s"

    top = engine["segmint_top_path"]
    pandas_top = (f"pandas: {engine['pandas_top_path'][1]:,}" if engine.get("pandas_top_path")
                  else "pandas: not run, see below")
    return [
        f"| {shop} | 3-step funnel web_visit > email_click > order within 14 days | "
        f"{median(engine['segmint_funnel']):.2f} s | {median(engine['segmint_funnel_cpu']):.2f} s | "
        f"{pd_cell('pandas_funnel')} | segmint {engine['segmint_funnel_counts']} (best chain from any visit), "
        f"pandas {engine['pandas_funnel_counts']} (first visit only) |",
        f"| {shop} | sessions (30 min) and the top paths of 5 steps from web_visit, Sankey links included | "
        f"{median(engine['segmint_paths']):.2f} s | {median(engine['segmint_paths_cpu']):.2f} s | "
        f"{pd_cell('pandas_paths')} | top path {' > '.join(top['steps'])} ({top['sessions']:,} sessions; "
        f"{pandas_top}) |",
    ]


EMBED_CODE = """
import json, os, sys, time
import numpy as np
n, kind = int(sys.argv[1]), sys.argv[2]
from segmint.datasets.psycho import _WORDS
rng = np.random.default_rng(0)
extra = ["today", "again", "really", "honestly", "as usual", "this time", "last week", "for my mum", "at work"]
texts = [f"{_WORDS[i]} {extra[j]}" for i, j in zip(rng.integers(0, len(_WORDS), n), rng.integers(0, len(extra), n))]
from segmint.text.embed import embedder
t = time.perf_counter()
e = embedder(kind).fit(texts[:20000])
fit = time.perf_counter() - t
t = time.perf_counter()
X = e.embed(texts)
print(json.dumps({"embed_s": time.perf_counter() - t, "fit_s": fit, "shape": list(X.shape)}))
"""


def bench_embed(n: int) -> list[dict]:
    env_threads = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                   "RAYON_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "true"}
    os.environ.update(env_threads)
    out = []
    for kind in ("wordllama", "tfidf"):
        r = peak_rss_of(EMBED_CODE, str(n), kind)
        r["kind"] = kind
        out.append(r)
    return out


def _previous_embedding() -> list[str]:
    """The embedding section of the last results file (``--skip-embed``), marked as not rerun."""
    from common import RESULTS

    old = (RESULTS / "journeys.md").read_text(encoding="utf-8").splitlines() if (RESULTS / "journeys.md").exists() else []
    start = next((i for i, line in enumerate(old) if line.startswith("Embedding ")), None)
    if start is None:
        return ["Embedding: not measured in this run (--skip-embed) and no earlier figures."]
    end = next((i for i in range(start + 4, len(old)) if not old[i].startswith("|")), len(old))
    note = " Not rerun here (--skip-embed): the figures of the previous run of this script."
    return [old[start].rstrip().replace(note, "") + note,
            *old[start + 1:end]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, nargs="+", default=[50_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--answers", type=int, default=100_000)
    ap.add_argument("--skip-embed", action="store_true", help="keep the embedding figures of the last results file")
    ap.add_argument("--pandas-paths-max", type=int, default=200_000,
                    help="run the pandas paths only for shops up to this many customers (the whole event stream "
                         "sorted in pandas: minutes and many GB at 1M)")
    ap.add_argument("--note", default="", help="a paragraph printed under the table (how the machine was loaded)")
    args = ap.parse_args()
    engines = [bench_engine(n, args.runs, n <= args.pandas_paths_max) for n in args.customers]
    embed = [] if args.skip_embed else bench_embed(args.answers)
    sizes = " ".join(str(n) for n in args.customers)
    lines = [
        "## Journeys and free text (issue 23)",
        "",
        f"`python benchmarks/bench_journeys.py --customers {sizes} --runs {args.runs} "
        + ("--skip-embed" if args.skip_embed else f"--answers {args.answers}") + f"` on {machine()}.",
        "",
        f"Shops: `segmint.datasets.write_shop(seed=11)` as Parquet, ingested once (benchmarks/.cache). Medians of "
        f"{args.runs} runs; pandas starts from DataFrames in memory (its load is not counted), segmint from the "
        f"store, with its default `engine.memory_limit` ({engines[0]['memory_limit']}). CPU time is the "
        "process's user + system time (DuckDB's threads included).",
        "",
        "| shop | task | segmint wall | segmint CPU | pandas wall | pandas CPU | result |",
        "|---|---|---:|---:|---:|---:|---|",
        *[row for e in engines for row in _rows(e)],
        "",
        f"Pandas paths are run for shops up to {args.pandas_paths_max:,} customers (`--pandas-paths-max`). "
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} (the machine has {os.cpu_count()} cores).",
        *([""] + [args.note] if args.note else []),
        "",
        f"Embedding {args.answers:,} free-text answers (generated feedback with varied endings), 2 threads, "
        "in batches of 4,096 (segmint.text.embed), in a fresh process:",
        "",
        "| embedder | fit | embed | peak RSS of the process |",
        "|---|---:|---:|---:|",
    ]
    for r in embed:
        lines.append(f"| {r['kind']} | {r['fit_s']:.1f} s | {r['embed_s']:.1f} s | {r['peak_rss_mb']:.0f} MB |")
    if args.skip_embed:
        lines = lines[:-4] + _previous_embedding()
    lines.append("")
    path = write_result("journeys", "\n".join(lines))
    print(path.read_text())
    print(json.dumps({"engines": engines, "embed": embed}, default=str)[:2000])


if __name__ == "__main__":
    main()
