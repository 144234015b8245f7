"""End-to-end: `segmint run` against the notebook pipeline a data team writes today.

    python benchmarks/bench_e2e.py                                  # 200k and 1M customers, 3 runs a side
    python benchmarks/bench_e2e.py --runs 3 2                       # 3 runs at 200k, 2 at 1M (make bench)
    python benchmarks/bench_e2e.py --customers 200000 --runs 3      # the smaller shop only
    python benchmarks/bench_e2e.py --prepare-only --customers 1000000   # generate + ingest, nothing timed
    python benchmarks/bench_e2e.py --render                         # the page again from the last figures
                                                                    # (after editing e2e-notes.md)

The shops come from :func:`segmint.datasets.write_shop` as Parquet files, cached in benchmarks/.cache
(git-ignored) with the generator's source hash, and are ingested once into a cached segmint workspace (the
ingest is timed then and reported as a one-time load cost, not part of the comparison). Then, alternating,
each run in a fresh process:

* segmint: ``segmint run -w WS --as-of D --json`` on the ingested workspace with the segmentations of
  ``benchmarks/e2e-segments.yaml`` (RFM segments, KMeans with k chosen by evidence in 2..10, CLV tiers):
  features, every segmentation, validation, profiles, memberships, an HTML report per segmentation;
* reference: ``benchmarks/peers/notebook_pipeline.py`` in the peers venv (pandas 1.5 + Lifetimes 0.11.3 +
  scikit-learn), starting from the Parquet files: RFM features, BG/NBD + Gamma-Gamma CLV, KMeans for
  k = 2..10 with a silhouette on a 10k sample, best k, profiles by groupby.

Wall time, CPU time (user + system, fairer on a busy machine) and peak RSS of each process; medians over the
runs, ratios; the adjusted Rand index between segmint's clustering and the reference's at segmint's k.
The page goes to benchmarks/results/e2e.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import CACHE, machine, median, write_result  # noqa: E402

PEERS_PY = HERE / ".venv-peers" / "bin" / "python"
NOTEBOOK = HERE / "peers" / "notebook_pipeline.py"
SEGMENTS = HERE / "e2e-segments.yaml"
SEGMINT = Path(sys.executable).with_name("segmint")
AS_OF = "2025-07-01"
# a fixed key so pseudonymised ids are the same in every run (never a real secret)
ENV = {**os.environ, "SEGMINT_SECRET": "benchmark-secret-key-0123456789"}

# Runs a command in a child and reports the child's own wall time, CPU time and peak RSS: this wrapper
# process stays small, so RUSAGE_CHILDREN measures the command (and any process it waits for) alone.
MEASURE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[2:], capture_output=True, text=True)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(p.stdout)
if p.returncode:
    sys.stderr.write(p.stdout[-3000:] + p.stderr[-5000:]); sys.exit(p.returncode)
print(json.dumps({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def measure(argv: list[str], stdout_to: Path) -> dict:
    """Wall s, CPU s and peak RSS MB of ``argv`` run in a fresh process; its stdout is saved to ``stdout_to``."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(stdout_to), *map(str, argv)],
                          capture_output=True, text=True, env=ENV, cwd=HERE.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed:\n{proc.stderr[-6000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def shop(n_customers: int, seed: int) -> Path:
    """The Parquet shop, generated once (same cache and stamp as bench_features.py)."""
    from bench_features import cached_shop

    return cached_shop(n_customers, seed)


def workspace(n_customers: int, seed: int) -> tuple[Path, dict]:
    """An ingested workspace for the shop (customers and orders), built once; returns it and its load costs.

    The notebook reads customers and orders, so segmint gets the same two tables: event and survey feature
    families are skipped on both sides.
    """
    data = shop(n_customers, seed)
    directory = CACHE / f"ws-{n_customers}-seed{seed}"
    stamp, load_file = directory / "STAMP", directory / "load.json"
    expected = (data / "STAMP").read_text()
    if stamp.exists() and stamp.read_text() == expected and load_file.exists():
        return directory, json.loads(load_file.read_text())
    shutil.rmtree(directory, ignore_errors=True)
    load: dict[str, dict] = {}
    log = CACHE / f"ws-{n_customers}.log"
    subprocess.run([SEGMINT, "init", directory], check=True, env=ENV, capture_output=True)
    for table in ("customers", "orders"):
        t0 = time.perf_counter()
        load[table] = measure([SEGMINT, "ingest", table, data / f"{table}.parquet", "-w", directory, "--json"], log)
        load[table]["rows"] = json.loads(log.read_text()).get("rows_accepted")
        print(f"ingested {table} of {n_customers:,} customers in {time.perf_counter() - t0:.0f} s: "
              f"{load[table]}", flush=True)
    load_file.write_text(json.dumps(load, indent=1))
    stamp.write_text(expected)
    return directory, load


def ensure_peers() -> None:
    """The peers venv with Lifetimes (make_peer_venv.sh) plus scikit-learn and pyarrow for the notebook."""
    if not PEERS_PY.exists():
        subprocess.run(["bash", str(HERE / "peers" / "make_peer_venv.sh")], check=True)
    probe = subprocess.run([PEERS_PY, "-c", "import sklearn, pyarrow, lifetimes"], capture_output=True)
    if probe.returncode:
        # pinned with the old numpy/pandas/scipy so pip does not upgrade what Lifetimes needs
        pins = [line for line in (HERE / "peers" / "requirements-lifetimes.txt").read_text().splitlines()
                if line.startswith(("numpy", "pandas", "scipy"))]
        subprocess.run([PEERS_PY, "-m", "pip", "install", "--quiet", "-r",
                        HERE / "peers" / "requirements-notebook.txt", *pins], check=True)


def segmint_run(ws: Path, scratch: Path, out: Path) -> dict:
    """One ``segmint run`` on a fresh copy of the ingested workspace (a copy: a second run on the same store
    would reuse the stored models instead of fitting them, and the notebook fits every time)."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(ws, scratch)
    (scratch / "segments").mkdir(exist_ok=True)
    shutil.copy(SEGMENTS, scratch / "segments" / SEGMENTS.name)
    m = measure([SEGMINT, "run", "-w", scratch, "--as-of", AS_OF, "--json"], out)
    doc = json.loads(out.read_text())
    m["stages"] = {s["stage"]: s["seconds"] for s in doc["stages"]}
    m["stage_rss_mb"] = {s["stage"]: s.get("peak_rss_mb") for s in doc["stages"]}
    m["k"] = doc["segmentations"]["behaviour"]["k"]
    return m


def notebook_run(data: Path, out_dir: Path, log: Path) -> dict:
    """One run of the reference notebook in the peers venv, from the Parquet files."""
    shutil.rmtree(out_dir, ignore_errors=True)
    m = measure([PEERS_PY, NOTEBOOK, data, out_dir, "--as-of", AS_OF], log)
    doc = json.loads((out_dir / "result.json").read_text())
    m.update(stages=doc["steps"], k=doc["best_k"], customers=doc["customers"], orders=doc["orders"],
             versions=doc["versions"])
    return m


def agreement(scratch: Path, out_dir: Path, k: int) -> dict:
    """ARI between segmint's clustering and the notebook's KMeans at segmint's k, and how close the CLVs are."""
    import duckdb
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.metrics import adjusted_rand_score

    con = duckdb.connect(str(scratch / ".segmint" / "store.duckdb"), read_only=True)
    try:
        seg = con.sql("select customer_id, segment from memberships where segmentation = 'behaviour'").df()
        clv = con.sql(f"select customer_id, predicted_clv_12m from features "
                      f"where as_of = timestamp '{AS_OF}'").df()
    finally:
        con.close()
    ref = pq.read_table(out_dir / "labels.parquet").to_pandas().set_index("customer_id")
    both = seg.set_index("customer_id").join(ref, how="inner")
    clvs = clv.merge(ref[["predicted_clv_12m"]].reset_index(), on="customer_id", suffixes=("", "_ref")).dropna()
    rel = (clvs.predicted_clv_12m - clvs.predicted_clv_12m_ref).abs() / clvs.predicted_clv_12m_ref.abs().clip(1e-9)
    col = f"k{k}"
    return {"customers_compared": len(both), "k": k,
            "ari": float(adjusted_rand_score(both["segment"], both[col])) if col in both else float("nan"),
            "clv_median_rel_diff": float(np.median(rel)), "clv_corr": float(np.corrcoef(
                clvs.predicted_clv_12m, clvs.predicted_clv_12m_ref)[0, 1])}


def profile_run(ws: Path, scratch: Path, top: int = 15) -> dict[str, list[tuple[str, float, float]]]:
    """One extra ``segmint run`` under cProfile (not timed): the functions with the most time of their own,
    and segmint's functions with the most cumulative time."""
    import pstats

    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(ws, scratch)
    (scratch / "segments").mkdir(exist_ok=True)
    shutil.copy(SEGMENTS, scratch / "segments" / SEGMENTS.name)
    prof = scratch.with_suffix(".prof")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", prof, SEGMINT, "run", "-w", scratch, "--as-of", AS_OF,
                    "--json"], check=True, env=ENV, capture_output=True)
    stats = pstats.Stats(str(prof))
    own, ours = [], []
    for (file, line, func), (_, _, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = file.split("site-packages/")[-1].split("/src/")[-1]
        own.append((f"{where}:{line}({func})", tottime, cumtime))
        # segmint's own functions below the command and the workspace facade: where its time goes
        if "/src/segmint/" in file and not where.startswith(("segmint/cli", "segmint/workspace")):
            ours.append((f"{where}:{line}({func})", tottime, cumtime))
    prof.unlink()
    return {"own": sorted(own, key=lambda r: -r[1])[:top], "segmint": sorted(ours, key=lambda r: -r[2])[:top]}


def bench(n: int, runs: int, seed: int, profile: bool) -> dict:
    data = shop(n, seed)
    ws, load = workspace(n, seed)
    scratch, out_dir = CACHE / f"e2e-run-{n}", CACHE / f"e2e-notebook-{n}"
    log = CACHE / f"e2e-{n}.log"
    sg, nb = [], []
    for i in range(runs):
        # alternate who goes first, so a burst of background load does not always hit the same side
        order = ("segmint", "notebook") if i % 2 == 0 else ("notebook", "segmint")
        for side in order:
            if side == "segmint":
                sg.append(segmint_run(ws, scratch, log))
            else:
                nb.append(notebook_run(data, out_dir, log))
            last = (sg if side == "segmint" else nb)[-1]
            print(f"{n:,} run {i + 1} {side}: {last['wall_s']:.1f} s wall, {last['cpu_s']:.1f} s CPU, "
                  f"{last['peak_rss_mb']:,.0f} MB, k={last['k']}", flush=True)
    agree = agreement(scratch, out_dir, sg[-1]["k"])
    print(f"{n:,} agreement: {agree}", flush=True)
    result = {"customers": n, "load": load, "segmint": sg, "notebook": nb, "agreement": agree,
              "orders": load["orders"]["rows"], "notebook_customers": nb[-1]["customers"],
              "load_avg": os.getloadavg()}
    if profile:
        result["profile"] = profile_run(ws, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    return result


def med(runs: list[dict], key: str) -> float:
    return median([r[key] for r in runs])


def stage_medians(runs: list[dict]) -> dict[str, float]:
    return {name: median([r["stages"].get(name, 0.0) for r in runs]) for name in runs[0]["stages"]}


def markdown(results: list[dict], command: str) -> str:
    versions = results[0]["notebook"][0]["versions"]
    lines = [
        "# End to end: `segmint run` vs the notebook pipeline",
        "",
        f"Command: `{command}` (part of `make bench`).  ",
        f"Machine: {machine()}. CPU time (user + system) is given beside wall time: it moves less when other "
        "jobs share the cores.  ",
        "Reference: `benchmarks/peers/notebook_pipeline.py` in benchmarks/.venv-peers: Python "
        f"{versions['python']}, pandas {versions['pandas']}, numpy {versions['numpy']}, Lifetimes "
        f"{versions['lifetimes']}, scikit-learn {versions['scikit-learn']}, pyarrow {versions['pyarrow']}.",
        "",
        "Data: `segmint.datasets.write_shop(seed=0)` as Parquet (cached in benchmarks/.cache); the generator "
        "makes about 21 orders per customer, so the 200k shop has ~4.2M orders (more than the 2M the issue "
        f"names) and the 1M shop ~21M. As of {AS_OF}: the orders before that date count.",
        "",
        "* **segmint**: `segmint run -w WS --as-of D --json` on a fresh copy of the ingested workspace, with "
        "`benchmarks/e2e-segments.yaml`: the feature snapshot (~60 features incl. BG/NBD + Gamma-Gamma CLV), "
        "RFM segments, KMeans with k chosen by evidence in 2..10 (sample fits, silhouette / Calinski-Harabasz "
        "/ Davies-Bouldin, bootstrap stability), CLV tiers; for each: stored memberships, the scorecard, "
        "profiles with persona cards, and an HTML report.",
        "* **notebook**: pandas + Lifetimes + scikit-learn from the Parquet files: RFM features and scores, "
        "Lifetimes summary + BG/NBD + Gamma-Gamma CLV, KMeans on all rows for k = 2..10 with a silhouette on "
        "10k rows, best k by silhouette, profiles by groupby (per cluster, RFM segment, CLV tier).",
        "* **comparable part** of segmint's run: its `features` and `segment` stages, the work the notebook "
        "does too (validation, profiles and reports are work the notebook does not do).",
        "* **load**: `segmint ingest customers` + `segmint ingest orders` from the same Parquet files, every "
        "check on, once per shop (a one-time cost: later runs reuse the store); the notebook reads the Parquet "
        "files in every run (its `load` step).",
        "",
        "| customers | orders | runs | segmint run wall s | CPU s | peak RSS MB | comparable part wall s "
        "| notebook wall s | CPU s | peak RSS MB | speed-up (wall) | speed-up (CPU) | comparable speed-up "
        "| memory ratio | ARI at k | load wall s (peak MB) | totals with load: segmint / notebook s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        sg, nb = r["segmint"], r["notebook"]
        sw, sc, sm = med(sg, "wall_s"), med(sg, "cpu_s"), max(x["peak_rss_mb"] for x in sg)
        nw, nc, nm = med(nb, "wall_s"), med(nb, "cpu_s"), max(x["peak_rss_mb"] for x in nb)
        st = stage_medians(sg)
        comparable = sum(v for k, v in st.items() if k == "features" or k.startswith("segment "))
        load_s = sum(v["wall_s"] for v in r["load"].values())
        load_mb = max(v["peak_rss_mb"] for v in r["load"].values())
        a = r["agreement"]
        lines.append(
            f"| {r['customers']:,} | {r['orders']:,} | {len(sg)} | {sw:.1f} | {sc:.1f} | {sm:,.0f} | {comparable:.1f} "
            f"| {nw:.1f} | {nc:.1f} | {nm:,.0f} | {nw / sw:.2f}x | {nc / sc:.2f}x | {nw / comparable:.2f}x "
            f"| {sm / nm:.2f} | {a['ari']:.3f} (k={a['k']}) | {load_s:.0f} ({load_mb:,.0f}) "
            f"| {load_s + sw:.0f} / {nw:.0f} |")
    lines += ["", "Times are medians of the runs; peak RSS is the largest of the runs. Speed-up = notebook / "
              "segmint; memory ratio = segmint / notebook peak RSS (goal: at most 0.5 and under 4 GB).", ""]
    big = max(results, key=lambda r: r["customers"])
    sw, nw = med(big["segmint"], "wall_s"), med(big["notebook"], "wall_s")
    sm = max(x["peak_rss_mb"] for x in big["segmint"])
    nm = max(x["peak_rss_mb"] for x in big["notebook"])
    ari = big["agreement"]["ari"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines += [f"Goals at {big['customers']:,} customers: at least 5x faster: {verdict(nw / sw >= 5)} "
              f"({nw / sw:.2f}x); peak memory at most half the notebook's: {verdict(sm <= nm / 2)} "
              f"({sm / nm:.2f}); under 4 GB: {verdict(sm < 4096)} ({sm:,.0f} MB); same segments (ARI >= 0.9): "
              f"{verdict(ari >= 0.9)} ({ari:.3f}).", ""]
    notes = HERE / "e2e-notes.md"
    if notes.exists():  # the analysis of the measured gap, written by hand after a run
        lines += [notes.read_text(encoding="utf-8").strip(), ""]
    for r in results:
        sg, nb = r["segmint"], r["notebook"]
        rss = sg[-1].get("stage_rss_mb") or {}
        lines += [f"## {r['customers']:,} customers: where the time goes", "",
                  "| segmint stage | median s | peak MB after it | | notebook step | median s |",
                  "|---|---:|---:|---|---|---:|"]
        st, nt = list(stage_medians(sg).items()), list(stage_medians(nb).items())
        for i in range(max(len(st), len(nt))):
            a = st[i] if i < len(st) else ("", None)
            b = nt[i] if i < len(nt) else ("", None)
            mb = rss.get(a[0])
            lines.append(f"| {a[0]} | {'' if a[1] is None else f'{a[1]:.1f}'} | "
                         f"{'' if mb is None else f'{mb:,.0f}'} | | {b[0]} | "
                         f"{'' if b[1] is None else f'{b[1]:.1f}'} |")
        a = r["agreement"]
        lines += ["", f"Per run (wall s / CPU s / peak MB): segmint "
                  + ", ".join(f"{x['wall_s']:.1f} / {x['cpu_s']:.1f} / {x['peak_rss_mb']:,.0f}" for x in sg)
                  + "; notebook "
                  + ", ".join(f"{x['wall_s']:.1f} / {x['cpu_s']:.1f} / {x['peak_rss_mb']:,.0f}" for x in nb) + ".  ",
                  f"Chosen k: segmint {sorted({x['k'] for x in sg})}, notebook (best silhouette) "
                  f"{sorted({x['k'] for x in nb})}. Agreement on {a['customers_compared']:,} customers "
                  f"(the notebook's buyers): ARI {a['ari']:.3f} at k={a['k']}; 12-month CLV median relative "
                  f"difference {a['clv_median_rel_diff']:.2%}, correlation {a['clv_corr']:.4f}.  ",
                  "Load (one-time, segmint ingest): " + ", ".join(
                      f"{t} {v['rows']:,} rows in {v['wall_s']:.0f} s ({v['cpu_s']:.0f} s CPU, "
                      f"{v['peak_rss_mb']:,.0f} MB)" for t, v in r["load"].items())
                  + f". Load average at the end: {r['load_avg'][0]:.1f}.", ""]
        if r.get("profile"):
            lines += ["One extra `segmint run` under cProfile (not in the table above; cProfile slows it). "
                      "segmint's functions by cumulative time, then all functions by own time:", "",
                      "| segmint function | own s | cumulative s |", "|---|---:|---:|"]
            lines += [f"| `{f}` | {t:.1f} | {c:.1f} |" for f, t, c in r["profile"]["segmint"]]
            lines += ["", "| function | own s | cumulative s |", "|---|---:|---:|"]
            lines += [f"| `{f}` | {t:.1f} | {c:.1f} |" for f, t, c in r["profile"]["own"]]
            lines.append("")
    return "\n".join(lines)


def write_page(name: str, results: list[dict]) -> Path:
    """The results page from the saved figures of each size (with the commands that measured them)."""
    commands = sorted({r["command"] for r in results})
    return write_result(name, markdown(results, "`, then `".join(commands)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[200_000, 1_000_000])
    ap.add_argument("--runs", type=int, nargs="+", default=[3],
                    help="runs per side for each size in turn (the last number serves the remaining sizes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", type=int, nargs="*", default=[200_000],
                    help="sizes to profile with one extra cProfile run of segmint (default: 200000)")
    ap.add_argument("--prepare-only", action="store_true", help="generate and ingest, time nothing else")
    ap.add_argument("--out", default="e2e", help="results page name under benchmarks/results")
    ap.add_argument("--keep", action="store_true",
                    help="keep the last results of the sizes not measured now (rerun one size, keep the page)")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: rewrite the results page from the last run's saved figures (after "
                         "editing benchmarks/e2e-notes.md, the analysis embedded in it)")
    args = ap.parse_args(argv)
    saved = CACHE / f"e2e-{args.out}.json"
    if args.render:
        if not saved.exists():
            sys.exit(f"no saved figures at {saved}: run the benchmark first")
        results = json.loads(saved.read_text())
        print(write_page(args.out, results))
        return
    ensure_peers()
    if args.prepare_only:
        for n in args.customers:
            print(workspace(n, args.seed))
        return
    command = " ".join(["python benchmarks/bench_e2e.py", *(sys.argv[1:] if argv is None else argv)])
    results = []
    if args.keep and saved.exists():
        results = [r for r in json.loads(saved.read_text()) if r["customers"] not in args.customers]
    for i, n in enumerate(args.customers):
        runs = args.runs[min(i, len(args.runs) - 1)]
        results.append({**bench(n, runs, args.seed, n in args.profile), "command": command})
        results.sort(key=lambda r: r["customers"])
        # written after each size, so a stopped run keeps what it measured
        saved.write_text(json.dumps(results, indent=1, default=str))
        path = write_page(args.out, results)
    print(path.read_text())


if __name__ == "__main__":
    main()
