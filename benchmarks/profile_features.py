"""Where the feature snapshot's time goes inside the engine: DuckDB's own profile of its largest query.

    python benchmarks/profile_features.py                       # the cached 1M-customer shop of bench_e2e.py
    python benchmarks/profile_features.py --customers 200000

cProfile (in bench_e2e.py's page) sees the snapshot as one call into DuckDB. This opens a copy of the
ingested workspace that ``bench_e2e.py`` cached, compiles the query that joins every family's per-customer
aggregates (:func:`segmint.features.snapshot._aggregates`, materialised once per snapshot) and runs it with
DuckDB's profiler on, then times one whole ``snapshot`` (the aggregates, the derived columns and RFM scores,
the CLV models, the write). Operator times are CPU seconds summed over DuckDB's threads; the page goes to
benchmarks/results/profile.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, write_result  # noqa: E402

AS_OF = "2025-07-01"  # the as_of of bench_e2e.py


def operators(node: dict) -> list[tuple[float, str, int]]:
    """(CPU seconds, operator, rows out) of every operator of a DuckDB JSON profile, depth first."""
    out = []
    if "operator_type" in node:
        out.append((float(node.get("operator_timing", 0.0)), _describe(node), int(node.get("operator_cardinality", 0))))
    for child in node.get("children", []):
        out.extend(operators(child))
    return out


def _describe(node: dict) -> str:
    info = node.get("extra_info") or {}
    what = node["operator_type"]
    for key in ("Function", "Table", "Join Type", "Groups", "Aggregates", "Projections"):
        value = info.get(key)
        if value:
            text = ", ".join(value) if isinstance(value, list) else str(value)
            return f"{what} ({key.lower()}: {text[:90]}{'...' if len(text) > 90 else ''})"
    return what


def profile(n: int, seed: int, top: int) -> dict:
    source = CACHE / f"ws-{n}-seed{seed}"
    if not source.exists():
        sys.exit(f"no cached workspace at {source}: run `python benchmarks/bench_e2e.py --prepare-only "
                 f"--customers {n}` first")
    from segmint.features.asof import make_context
    from segmint.workspace import Workspace

    snapshot = importlib.import_module("segmint.features.snapshot")  # the package exports a function of that name
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "ws"
        shutil.copytree(source, copy)
        ws = Workspace.open(copy)
        try:
            store = ws.store
            ctx = make_context(store, AS_OF, ws.config.features)
            t0 = time.perf_counter()
            joined, _ = snapshot._aggregates(ctx)
            sql = store.con.compile(joined)
            compile_s = time.perf_counter() - t0
            con = store.con.con
            out = Path(scratch) / "profile.json"
            con.execute("PRAGMA enable_profiling='json'")
            con.execute(f"PRAGMA profiling_output='{out}'")
            t0 = time.perf_counter()
            con.execute(f"CREATE TEMP TABLE _profiled AS {sql}")
            aggregate_s = time.perf_counter() - t0
            con.execute("PRAGMA disable_profiling")
            con.execute("DROP TABLE _profiled")
            tree = json.loads(out.read_text())
            ops = operators(tree)
            t0 = time.perf_counter()
            info = snapshot.snapshot(store, AS_OF, ws.config.features)
            snapshot_s = time.perf_counter() - t0
        finally:
            ws.close()
    return {"customers": n, "orders_query_s": aggregate_s, "compile_s": compile_s, "snapshot_s": snapshot_s,
            "query_cpu_s": float(tree.get("cpu_time", 0.0)), "snapshot_customers": info["customers"],
            "features": len(info["features"]), "operators": sorted(ops, key=lambda o: -o[0])[:top],
            "operators_cpu_s": sum(o[0] for o in ops)}


def markdown(r: dict, command: str) -> str:
    lines = [
        "# Inside the feature snapshot: DuckDB's profile",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}",
        "",
        f"Shop of {r['customers']:,} customers (bench_e2e.py's cache), as of {AS_OF}: "
        f"{r['snapshot_customers']:,} customers, {r['features']} features.",
        "",
        f"- one whole `snapshot` (aggregates, derived columns and RFM scores, CLV models, write): "
        f"**{r['snapshot_s']:.1f} s**;",
        f"- of which the query that joins every family's per-customer aggregates: {r['orders_query_s']:.1f} s wall, "
        f"{r['operators_cpu_s']:.1f} s of CPU over DuckDB's threads (Ibis compiled it in {r['compile_s']:.2f} s).",
        "",
        "Its operators by CPU time (summed over threads):",
        "",
        "| operator | CPU s | rows out |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name.replace('|', '/')} | {cpu:.2f} | {rows:,} |" for cpu, name, rows in r["operators"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top", type=int, default=12, help="operators to list")
    ap.add_argument("--out", default="profile", help="results page name under benchmarks/results")
    args = ap.parse_args(argv)
    command = " ".join(["python benchmarks/profile_features.py", *(sys.argv[1:] if argv is None else argv)])
    result = profile(args.customers, args.seed, args.top)
    print(write_result(args.out, markdown(result, command)).read_text())


if __name__ == "__main__":
    main()
