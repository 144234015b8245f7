"""A daily refresh after one day of new orders, against a full `segmint run` and the notebook (issue 17).

    python benchmarks/bench_refresh.py --customers 200000 --runs 3
    python benchmarks/bench_refresh.py --customers 1000000 --runs 2

The shop and its ingested workspace are bench_e2e.py's (cached in benchmarks/.cache). A copy of that
workspace loses the orders of the last day before ``AS_OF`` (and later ones), gets `segmint run --as-of
DAY_BEFORE` (the models and the running feature state at the day before), then ingests that day's orders
again (about 20k at 1M customers): the "yesterday's run, today's orders" workspace. Then, alternating, each
run in a fresh process on a fresh copy:

* **refresh**: ``segmint refresh --as-of AS_OF`` on that workspace (incremental snapshot, every
  segmentation assigned with its stored model, monitoring, alerts);
* **daily run**: ``segmint run --as-of AS_OF`` on that workspace: the e2e page's repeated run (the snapshot
  incremental, the stored models reused);
* **full run**: ``segmint run --as-of AS_OF`` on a copy of e2e's ingested workspace (no state, no models:
  every feature from every order, every model fitted), exactly as bench_e2e.py times it;
* **notebook**: ``benchmarks/peers/notebook_pipeline.py`` (when benchmarks/.venv-peers exists), which
  recomputes everything every day.

Goals (issue 17): refresh at most 1/10 of the full run; daily run at least 5x faster than the notebook.
The page goes to benchmarks/results/refresh.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_e2e import (AS_OF, ENV, PEERS_PY, SEGMENTS, SEGMINT, measure, notebook_run,  # noqa: E402
                       segmint_run, shop, workspace)
from common import CACHE, machine, median, write_result  # noqa: E402

DAY_BEFORE = (dt.date.fromisoformat(AS_OF) - dt.timedelta(days=1)).isoformat()


def daily_workspace(n: int, seed: int) -> tuple[Path, int]:
    """Yesterday's workspace with today's orders ingested (built once); returns it and the new orders' count."""
    base, _ = workspace(n, seed)
    directory = CACHE / f"refresh-ws-{n}-seed{seed}"
    stamp = directory / "STAMP"
    expected = (base / "STAMP").read_text() + "|refresh-1"
    if stamp.exists() and stamp.read_text() == expected:
        return directory, int((directory / "NEW_ORDERS").read_text())
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(base, directory)
    (directory / "segments").mkdir(exist_ok=True)
    shutil.copy(SEGMENTS, directory / "segments" / SEGMENTS.name)
    day_file = CACHE / f"refresh-day-{n}-seed{seed}.parquet"
    script = f"""
import ibis, sys
from segmint.workspace import Workspace
ws = Workspace.open({str(directory)!r})
o = ws.store.table("orders")
late = o.filter(o.ordered_at >= ibis.literal({DAY_BEFORE!r}).cast("timestamp"))
day = late.filter(late.ordered_at < ibis.literal({AS_OF!r}).cast("timestamp"))
day.drop("_source", "_ingested_at").to_parquet({str(day_file)!r})
n = day.count().execute()  # before the delete below empties the expression
with ws.store.transaction():
    ws.store.delete_keys("orders", ["order_id"], late.select("order_id"))
print(n)
ws.close()
"""
    import subprocess

    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, env=ENV)
    new = int(out.stdout.strip().splitlines()[-1])
    log = CACHE / f"refresh-{n}.log"
    m = measure([SEGMINT, "run", "-w", directory, "--as-of", DAY_BEFORE, "--json"], log)
    print(f"yesterday's run at {n:,}: {m}", flush=True)
    m = measure([SEGMINT, "ingest", "orders", day_file, "-w", directory, "--json"], log)
    print(f"today's {new:,} orders ingested: {m}", flush=True)
    (directory / "NEW_ORDERS").write_text(str(new))
    stamp.write_text(expected)
    return directory, new


def _copy(src: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def refresh_run(ws: Path, scratch: Path, out: Path) -> dict:
    m = measure([SEGMINT, "refresh", "-w", _copy(ws, scratch), "--as-of", AS_OF, "--json"], out)
    doc = json.loads(out.read_text())
    m["snapshot_mode"], m["snapshot_s"] = doc["snapshot"]["mode"], doc["snapshot"]["seconds"]
    return m


def daily_run(ws: Path, scratch: Path, out: Path) -> dict:
    m = measure([SEGMINT, "run", "-w", _copy(ws, scratch), "--as-of", AS_OF, "--json"], out)
    doc = json.loads(out.read_text())
    m["stages"] = {s["stage"]: s["seconds"] for s in doc["stages"]}
    return m


def bench(n: int, runs: int, seed: int, on_round=None) -> dict:
    """``runs`` rounds of the four sides at ``n`` customers; ``on_round(result so far)`` after each round."""
    data = shop(n, seed)
    full_ws, _ = workspace(n, seed)
    daily_ws, new_orders = daily_workspace(n, seed)
    peers = PEERS_PY.exists()
    sides: dict[str, list[dict]] = {"refresh": [], "daily run": [], "full run": [], "notebook": []}
    scratch = CACHE / f"refresh-scratch-{n}"
    log = CACHE / f"refresh-{n}.log"
    for i in range(runs):
        order = ["refresh", "daily run", "full run", "notebook"]
        if i % 2:
            order.reverse()
        for side in order:
            if side == "refresh":
                sides[side].append(refresh_run(daily_ws, scratch, log))
            elif side == "daily run":
                sides[side].append(daily_run(daily_ws, scratch, log))
            elif side == "full run":
                sides[side].append(segmint_run(full_ws, scratch, log))
            elif peers:
                sides[side].append(notebook_run(data, CACHE / f"refresh-notebook-{n}", log))
            print(f"{n:,} run {i + 1} {side}: {sides[side][-1] if sides[side] else 'skipped (no peers venv)'}",
                  flush=True)
        if on_round is not None:
            on_round({"customers": n, "new_orders": new_orders, "runs": i + 1, **sides})
    shutil.rmtree(scratch, ignore_errors=True)
    return {"customers": n, "new_orders": new_orders, "runs": runs, **sides}


def markdown(results: list[dict], command: str, note: str) -> str:
    lines = [
        "# Daily refresh: incremental snapshot vs full run vs notebook (issue 17)", "",
        f"Command: `{command}`.  ", f"Machine: {machine()}.", "",
        "Data: bench_e2e.py's generated shop and ingested workspace (about 21 orders per customer). The daily "
        f"workspace is that one after `segmint run --as-of {DAY_BEFORE}` (models and running feature state as of "
        f"the day before), with the orders of {DAY_BEFORE} ingested afterwards: one day of new orders.", "",
        f"* **refresh**: `segmint refresh --as-of {AS_OF}` on a fresh copy of the daily workspace: incremental "
        "feature snapshot (docs/monitoring.md), every segmentation assigned with its stored model, monitoring "
        "figures, alerts.",
        f"* **daily run**: `segmint run --as-of {AS_OF}` on a fresh copy of the daily workspace (the e2e page's "
        "repeated run: incremental snapshot, stored models reused, validation, profiles, reports).",
        f"* **full run**: `segmint run --as-of {AS_OF}` on a fresh copy of the ingested workspace, as bench_e2e.py "
        "times it: every feature from every order, every model fitted.",
        "* **notebook**: benchmarks/peers/notebook_pipeline.py, which recomputes everything each day.", "",
        "| customers | new orders | runs | refresh wall s (CPU s) | snapshot s (mode) | daily run wall s (CPU s) "
        "| full run wall s (CPU s) | notebook wall s (CPU s) | full / refresh | notebook / daily run |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(runs: list[dict]) -> str:
        if not runs:
            return "not run"
        return f"{median([r['wall_s'] for r in runs]):.1f} ({median([r['cpu_s'] for r in runs]):.1f})"

    verdicts = []
    for r in results:
        rf, dr, fr, nb = (median([x["wall_s"] for x in r[k]]) if r[k] else None
                          for k in ("refresh", "daily run", "full run", "notebook"))
        modes = sorted({x["snapshot_mode"] for x in r["refresh"]})
        snap = median([x["snapshot_s"] for x in r["refresh"]])
        lines.append(f"| {r['customers']:,} | {r['new_orders']:,} | {r['runs']} | {cell(r['refresh'])} | "
                     f"{snap:.1f} ({', '.join(modes)}) | {cell(r['daily run'])} | {cell(r['full run'])} | "
                     f"{cell(r['notebook'])} | {fr / rf:.1f}x | " + (f"{nb / dr:.1f}x |" if nb else "not run |"))
        verdicts.append(f"At {r['customers']:,} customers: refresh at most 1/10 of the full run: "
                        f"**{'met' if rf <= fr / 10 else 'not met'}** ({rf / fr:.3f} of it); daily run at least 5x "
                        "faster than the notebook: " + (f"**{'met' if nb / dr >= 5 else 'not met'}** ({nb / dr:.1f}x)"
                                                        if nb else "not measured (no peers venv)") + ".")
    lines += ["", "Times are medians of the runs (wall, with CPU time in brackets: it moves less when other jobs "
              "share the cores).", "", *verdicts, "", note, ""]
    stages = [r for r in results if r["daily run"]]
    for r in stages:
        names = list(r["daily run"][0]["stages"])
        lines += [f"Daily run stages at {r['customers']:,} (median s): "
                  + ", ".join(f"{s} {median([x['stages'][s] for x in r['daily run']]):.1f}" for s in names)
                  + "; full run: " + ", ".join(f"{s} {median([x['stages'][s] for x in r['full run']]):.1f}"
                                               for s in r["full run"][0]["stages"]) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[200_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="", help="a paragraph for the page (e.g. how busy the machine was)")
    args = ap.parse_args(argv)
    command = "python benchmarks/bench_refresh.py " + " ".join(sys.argv[1:] if argv is None else argv)
    results: list[dict] = []

    def write(partial: dict) -> None:
        # the page after every round: a long benchmark on a busy machine still leaves its figures so far
        done = [*results, partial]
        (CACHE / "refresh-results.json").write_text(json.dumps(done, indent=1, default=str))
        print(write_result("refresh", markdown(done, command, args.note)), flush=True)

    for n in args.customers:
        results.append(bench(n, args.runs, args.seed, on_round=write))


if __name__ == "__main__":
    main()
