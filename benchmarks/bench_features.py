"""Benchmark the feature snapshot (Ibis on DuckDB) against a plain pandas groupby implementation.

Usage::

    .venv/bin/python benchmarks/bench_features.py                       # 200k customers (~4M orders)
    .venv/bin/python benchmarks/bench_features.py --customers 20000     # quick check
    .venv/bin/python benchmarks/bench_features.py --customers 200000 1000000 --runs 3

The shop comes from :func:`segmint.datasets.make_shop` (customers, orders, events and
survey answers with planted personas) and is loaded straight into a workspace store
(ingest is benchmarked elsewhere). The pandas side is ``tests/features/pandas_reference.py``,
the reference the tests check every family against, run on frames already in memory (so
it pays no read cost); the two results are compared before timing. Timed, medians of
``--runs`` alternating runs in the same process:

* ``engine``: :func:`segmint.features.compute_features` to an Arrow table, no model fit:
  the same features as the pandas side;
* ``pandas``: the reference implementation;
* ``snapshot``: the whole :func:`segmint.features.snapshot` (with the BG/NBD and
  Gamma-Gamma fit and predictions, and the write to the ``features`` table).

The table goes to benchmarks/results/features.md (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "features"))

from common import machine, write_result  # noqa: E402
from pandas_reference import reference_features  # noqa: E402

from segmint.config import FeatureConfig  # noqa: E402
from segmint.features import compute_features, snapshot  # noqa: E402
from segmint.features.snapshot import compute_with_context  # noqa: E402
from segmint.store import Store  # noqa: E402

AS_OF = dt.datetime(2025, 7, 1)
TABLES = ("customers", "orders", "events", "responses")


def load_store(path: Path, frames: dict[str, pd.DataFrame]) -> Store:
    """Write the generated frames into a fresh store, cast to the canonical schemas."""
    store = Store(path)
    for name in TABLES:
        stored = store.table(name)
        schema = stored.schema()
        arrow = pa.Table.from_pandas(frames[name], preserve_index=False)
        src = ibis.memtable(arrow)
        cols = {c: (src[c].cast(schema[c]) if c in src.columns else ibis.null(schema[c])) for c in stored.columns}
        store.con.insert(name, src.select(**cols))
    return store


def timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def engine_only(store: Store) -> pa.Table:
    t, ctx = compute_with_context(store, AS_OF, predictive_models=False)
    out = t.to_pyarrow()
    for name in ctx.temporary:  # as snapshot() does, so repeated runs do not pile up tables
        store.con.drop_table(name, force=True)
    return out


def check_equal(store: Store, frames: dict[str, pd.DataFrame]) -> None:
    """The engine and pandas agree on a few headline features (the tests check them all)."""
    engine = compute_features(store, AS_OF).to_pyarrow().to_pandas().set_index("customer_id").sort_index()
    ref = run_pandas(frames)
    for col in ("frequency", "monetary_total", "recency_days", "r_score", "email_open_rate", "survey_nps"):
        a, b = engine[col].astype(float), ref[col].astype(float)
        ok = ((a - b).abs() <= 1e-6 * (1 + b.abs())) | (a.isna() & b.isna())
        if not ok.all():
            raise SystemExit(f"engine and pandas differ on {col} for {int((~ok).sum())} customers")


def run_pandas(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    s = FeatureConfig()
    return reference_features(frames["customers"], frames["orders"], frames["events"], frames["responses"],
                              AS_OF, s.windows, s.rfm_bins)


def bench(n_customers: int, runs: int, seed: int) -> dict:
    from segmint.datasets import make_shop

    t0 = time.perf_counter()
    shop = make_shop(n_customers, seed=seed)
    frames = {name: getattr(shop, name) for name in TABLES}
    print(f"generated {n_customers:,} customers in {time.perf_counter() - t0:.0f} s: "
          + ", ".join(f"{len(f):,} {n}" for n, f in frames.items()), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = load_store(Path(tmp) / "store.duckdb", frames)
        # The stored frames (timestamps as stored, amounts as decimals) are what pandas gets too.
        frames = {name: store.table(name).to_pyarrow().to_pandas() for name in TABLES}
        check_equal(store, frames)
        times: dict[str, list[float]] = {"engine": [], "pandas": [], "snapshot": []}
        info = {}
        for i in range(runs):
            times["engine"].append(timed(lambda: engine_only(store)))
            times["pandas"].append(timed(lambda: run_pandas(frames)))
            times["snapshot"].append(timed(lambda: info.update(snapshot(store, AS_OF))))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        store.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"customers": n_customers, "orders": len(frames["orders"]), "events": len(frames["events"]),
            "features": len(info["features"]), "skipped": info["skipped"], "runs": runs, **med}


def markdown(results: list[dict]) -> str:
    lines = [
        "# Feature snapshot: Ibis on DuckDB vs pandas",
        "",
        "Generated by `benchmarks/bench_features.py` (see its docstring for what is timed). Medians of "
        f"alternating runs in one process; as_of {AS_OF.date()}.",
        "",
        f"Machine: {machine()}.",
        "",
        "| customers | orders | events | features | engine (s) | pandas (s) | speed-up | full snapshot with "
        "CLV fit + store (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['customers']:,} | {r['orders']:,} | {r['events']:,} | {r['features']} | "
                     f"{r['engine']:.1f} | {r['pandas']:.1f} | {r['pandas'] / r['engine']:.1f}x | "
                     f"{r['snapshot']:.1f} |")
    lines += [
        "",
        "`engine` is `compute_features(...).to_pyarrow()` without the model fit, the same features as the "
        "pandas reference (`tests/features/pandas_reference.py`, ordinary vectorised groupbys on frames "
        "already in memory). `full snapshot` adds the BG/NBD + Gamma-Gamma fit and predictions and the write "
        "of the snapshot to the store.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[200_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="features", help="results file name under benchmarks/results")
    args = parser.parse_args(argv)
    results = [bench(n, args.runs, args.seed) for n in args.customers]
    path = write_result(args.out, markdown(results))
    print(markdown(results))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
