"""Benchmark: choosing k with segmint, against the usual ways of choosing it.

Two parts, one page (benchmarks/results/kselect.md):

1. **Planted data sets** (:mod:`kselect_planted`): 70 data sets with a known number of groups
   (five designs: balanced, imbalanced down to a 3 % group, noise features, anisotropic,
   log-normal; k = 2..8; 2,000-50,000 rows; 3-8 features), on which segmint's ``k="auto"``,
   silhouette-max, GMM BIC and the gap statistic choose k on the same matrices in the same
   run; k-means at the true k is the ceiling. Reported: exact-k count, mean ARI, time.
2. **Speed at 1M rows**, below.

Both sides get the same synthetic customer table (log-normal amounts, counts, shares;
six planted groups). segmint fits ``ClusterSegmenter(k="auto")`` (k = 2..10, bounded
sample, bootstrap stability, one refinement on all rows). The baseline is the loop
people write by hand: ``KMeans(k)`` on all rows for each k = 2..10 plus
``silhouette_score`` on a 10,000-row sample, picking the best silhouette; it runs on
segmint's preprocessed matrix (preprocessing time not counted against it), so both
are measured in the same space. Quality: k-means inertia on all rows at the chosen k.

Run::

    .venv/bin/python benchmarks/bench_kselect.py            # 70 planted data sets; 1M rows, 3 runs
    .venv/bin/python benchmarks/bench_kselect.py --quick --rows 100000 --runs 1   # 15 data sets

Results go to benchmarks/results/kselect.md.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

import segmint
from segmint.datasets.planted import benchmark_suite
from segmint.segment.assign import assign_ids
from segmint.segment.cluster import ClusterSegmenter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kselect_planted  # noqa: E402  (a sibling module of this script)

FEATURES = [
    "recency_days",
    "orders_per_year",
    "revenue",
    "avg_basket",
    "tenure_days",
    "discount_share",
    "web_share",
]
# Planted groups: (share, log recency, log orders, log revenue, log basket, tenure, discount, web)
GROUPS = [
    (0.30, 5.3, 0.3, 3.4, 3.3, 200, 0.10, 0.20),  # one-off, lapsed
    (0.22, 3.0, 1.6, 5.6, 3.9, 900, 0.05, 0.30),  # loyal regulars
    (0.18, 4.5, 0.9, 4.1, 3.2, 500, 0.55, 0.70),  # deal seekers, online
    (0.14, 2.2, 2.6, 7.4, 4.8, 1500, 0.02, 0.15),  # champions
    (0.10, 1.5, 0.2, 4.6, 4.4, 30, 0.20, 0.90),  # new, web-first
    (0.06, 4.0, 1.8, 6.0, 4.1, 1200, 0.40, 0.05),  # at-risk store shoppers
]


def make_customers(rows: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """A realistic feature table with six planted groups; returns (table, true group)."""
    rng = np.random.default_rng(seed)
    shares = np.array([g[0] for g in GROUPS])
    truth = rng.choice(len(GROUPS), size=rows, p=shares / shares.sum())
    g = np.array([g[1:] for g in GROUPS])[truth]
    df = pd.DataFrame(
        {
            "recency_days": np.exp(g[:, 0] + rng.normal(0, 0.35, rows)),
            # a rate, not a count: integer counts near 1-2 would plant extra groups of their own
            "orders_per_year": np.exp(g[:, 1] + rng.normal(0, 0.25, rows)),
            "revenue": np.exp(g[:, 2] + rng.normal(0, 0.3, rows)),
            "avg_basket": np.exp(g[:, 3] + rng.normal(0, 0.25, rows)),
            "tenure_days": np.clip(g[:, 4] + rng.normal(0, 0.15, rows) * g[:, 4], 1, None),
            "discount_share": np.clip(g[:, 5] + rng.normal(0, 0.06, rows), 0, 1),
            "web_share": np.clip(g[:, 6] + rng.normal(0, 0.08, rows), 0, 1),
        }
    )
    return df, truth


def run_segmint(df: pd.DataFrame, seed: int) -> tuple[ClusterSegmenter, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    seg = ClusterSegmenter(FEATURES, k="auto", k_range=(2, 10), random_state=seed).fit(df)
    seg.predict_ids(df)  # label every row: part of the job
    return seg, time.perf_counter() - t0, time.process_time() - c0


def run_baseline(Z: np.ndarray, seed: int) -> tuple[int, KMeans, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(Z), size=min(10_000, len(Z)), replace=False)
    best = (-np.inf, None, None)
    for k in range(2, 11):
        km = KMeans(n_clusters=k, random_state=seed).fit(Z)
        sil = silhouette_score(Z[rows], km.labels_[rows])
        if sil > best[0]:
            best = (sil, k, km)
    return best[1], best[2], time.perf_counter() - t0, time.process_time() - c0


def inertia(Z: np.ndarray, centroids: np.ndarray) -> float:
    """Within-cluster sum of squares of all rows around ``centroids``."""
    labels = assign_ids("kmeans", {"centroids": centroids}, Z)
    return float(sum(((Z[labels == c] - centre) ** 2).sum() for c, centre in enumerate(centroids)))


def markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A small GitHub table without pulling in tabulate."""

    def cell(v: object) -> str:
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)

    rows = [list(frame.columns), ["---"] * frame.shape[1]]
    rows += [[cell(v) for v in rec] for rec in frame.itertuples(index=False)]
    return "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows)


def _run_planted_one(spec, methods=kselect_planted.METHODS):
    with threadpool_limits(1):
        return kselect_planted.run_one(spec, methods)


PLANTED_CSV = Path(__file__).resolve().parent / ".cache" / "kselect_planted.csv"


HELDOUT_CSV = PLANTED_CSV.with_name("kselect_heldout.csv")
#: Seed of the held-out suite: data sets the rule was not chosen on (the benchmark's is 0).
HELDOUT_SUITE_SEED = 1


def _run_specs(specs: list, methods: tuple[str, ...], workers: int, csv: Path, kept: pd.DataFrame) -> None:
    """Run ``methods`` on every spec, writing the raw results (after ``kept``) to ``csv`` as they come."""
    t0 = time.perf_counter()
    csv.parent.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = []
    run = functools.partial(_run_planted_one, methods=methods)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for part in pool.imap(run, specs, chunksize=1):
            parts.append(part)  # raw results so far, so an interrupted run leaves what it measured
            new = pd.DataFrame([r for p in parts for r in p])
            new = new.assign(run_wall_s=time.perf_counter() - t0, run_started=started)
            pd.concat([kept, new], ignore_index=True).to_csv(csv, index=False)
            print(f"{len(parts)}/{len(specs)} {part[0]['dataset']}: "
                  + ", ".join(f"{r['method']} k={r['k']} ARI={r['ari']:.3f}" for r in part), file=sys.stderr)


def heldout_section(per_design: int, workers: int, from_csv: bool) -> list[str]:
    """segmint on planted data sets drawn with another seed than the benchmark's (not used to choose the rule)."""
    if not from_csv:
        specs = benchmark_suite(per_design=per_design, seed=HELDOUT_SUITE_SEED)
        _run_specs(specs, ("segmint",), workers, HELDOUT_CSV, pd.DataFrame())
    results = pd.read_csv(HELDOUT_CSV)
    overall, _ = kselect_planted.summarise(results)
    row = overall.loc["segmint"]
    per = results.groupby("design", sort=False).agg(exact=("exact", "sum"), count=("exact", "size"),
                                                    ari=("ari", "mean"))
    lines = [
        "### Held-out planted data sets",
        "",
        (f"{int(row['datasets'])} more data sets of the same five designs, drawn with "
         f"`benchmark_suite(per_design={int(row['datasets']) // 5}, seed={HELDOUT_SUITE_SEED})` (other sizes, "
         "features, separations and seeds than the 70 above). The 70 above were used to choose the rule's "
         "tolerance; these were not, so they say how well it carries over. segmint only (run "
         f"{results['run_started'].iloc[0]}, {float(results['run_wall_s'].max()) / 60:.1f} min)."),
        "",
        "| | exact k | mean ARI | under-split | over-split |",
        "|---|---|---|---|---|",
        (f"| segmint `k='auto'` | {int(row['exact'])} / {int(row['datasets'])} "
         f"({row['exact'] / row['datasets']:.0%}) | {row['mean_ari']:.3f} | {int(row['under'])} | "
         f"{int(row['over'])} |"),
        "",
        "| design | " + " | ".join(per.index) + " |",
        "|---" * (len(per) + 1) + "|",
        "| segmint | " + " | ".join(f"{int(r.exact)}/{int(r.count)} / {r.ari:.3f}" for r in per.itertuples()) + " |",
        "",
    ]
    return lines


def planted_section(quick: bool, workers: int, from_csv: bool = False,
                    methods: tuple[str, ...] = kselect_planted.METHODS) -> list[str]:
    """Run the planted benchmark (or read its last raw results); its part of the page.

    With a subset of ``methods``, only those are run again; the other methods' rows are kept
    from the last raw results (same data sets, same matrices: the baselines do not change
    when segmint's rule does), and the page says which run measured what.
    """
    specs = benchmark_suite(per_design=3 if quick else 14)
    if from_csv:
        results = pd.read_csv(PLANTED_CSV)
    else:
        kept = pd.DataFrame()
        if set(methods) != set(kselect_planted.METHODS) and PLANTED_CSV.exists():
            kept = pd.read_csv(PLANTED_CSV)
            kept = kept[~kept["method"].isin(methods)]
        _run_specs(specs, methods, workers, PLANTED_CSV, kept)
        results = pd.read_csv(PLANTED_CSV)
    if "run_started" not in results:
        results["run_started"] = "earlier run"
    runs = results.groupby("run_started", sort=True).agg(wall=("run_wall_s", "max"),
                                                          methods=("method", lambda m: sorted(set(m))))
    wall = float(runs["wall"].sum())
    specs = specs[: results["dataset"].nunique()]
    overall, by_design = kselect_planted.summarise(results)
    names = {"segmint": "segmint `k='auto'`", "silhouette": "silhouette-max", "gmm_bic": "GMM BIC",
             "gap": "gap statistic", "kmeans_true_k": "k-means at the true k (ceiling)"}
    n = len(specs)
    lines = [
        "## Planted data sets: is the right k chosen?",
        "",
        (f"{n} data sets from `segmint.datasets.planted.benchmark_suite` ({n // 5} per design: balanced, "
         "imbalanced down to a 3 % group, noise features, anisotropic, log-normal; k = 2..8; 2,000-50,000 rows; "
         "3-8 features; one seed each). Every method chooses k in 2..10 on the same preprocessed matrix in the "
         "same run (segmint's own preprocessing; see `benchmarks/kselect_planted.py` for each method's "
         f"settings). Wall time of the whole part: {wall / 60:.1f} min"
         + (" (read back from the raw results, benchmarks/.cache/kselect_planted.csv)" if from_csv
            else f" with {workers} worker process(es)")
         + ("" if len(runs) == 1 else " in " + "; ".join(
             f"{', '.join(r.methods)} run {when}" for when, r in runs.iterrows()) + " (same data sets and matrices)")
         + " on a machine shared with other jobs; the seconds below are summed over the data sets, each "
         "method single-threaded, and include waiting for a CPU."),
        "",
        "| method | exact k | mean ARI | under-split | over-split | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for method in kselect_planted.METHODS:
        if method not in overall.index:
            continue
        row = overall.loc[method]
        exact = f"{int(row['exact'])} / {int(row['datasets'])} ({row['exact'] / row['datasets']:.0%})"
        lines.append(f"| {names[method]} | {exact} | {row['mean_ari']:.3f} | {int(row['under'])} | "
                     f"{int(row['over'])} | {row['seconds']:.0f} |")
    lines += ["", "Per design (exact k out of the design's data sets / mean ARI):", "",
              "| design | " + " | ".join(names[m] for m in kselect_planted.METHODS) + " |",
              "|---" * (len(kselect_planted.METHODS) + 1) + "|"]
    per = results.groupby(["design", "method"]).agg(exact=("exact", "sum"), count=("exact", "size"),
                                                     ari=("ari", "mean"))
    for design in results["design"].unique():
        cells = [f"{int(per.loc[(design, m), 'exact'])}/{int(per.loc[(design, m), 'count'])} "
                 f"/ {per.loc[(design, m), 'ari']:.3f}" for m in kselect_planted.METHODS]
        lines.append(f"| {design} | " + " | ".join(cells) + " |")
    seg = results[results["method"] == "segmint"]
    missed = seg[~seg["exact"]]
    lines += ["", f"Where segmint missed the planted k ({len(missed)} of {len(seg)}):", ""]
    if len(missed):
        lines += ["| data set | true k | chosen k | ARI | reason |", "|---|---|---|---|---|"]
        lines += [f"| {r.dataset} | {r.true_k} | {r.k} | {r.ari:.3f} | {r.reason} |"
                  for r in missed.itertuples()]
    else:
        lines.append("none.")
    lines.append("")
    return lines


def _header(argv: list[str] | None) -> list[str]:
    return [
        f"- command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_kselect.py', *(argv or sys.argv[1:])])}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical CPUs ({platform.platform()})",
        (
            f"- versions: segmint {segmint.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
            f"pandas {pd.__version__}, Python {platform.python_version()}"
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=1, help="OpenMP/BLAS threads for both sides (0: library default)"
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "kselect.md"))
    ap.add_argument("--quick", action="store_true", help="15 planted data sets (3 per design) instead of 70")
    ap.add_argument("--workers", type=int, default=1, help="processes for the planted data sets")
    ap.add_argument("--no-speed", action="store_true", help="skip the 1M-row speed part")
    ap.add_argument("--from-csv", action="store_true",
                    help="rebuild the planted part from the last run's raw results (benchmarks/.cache)")
    ap.add_argument("--methods", default=",".join(kselect_planted.METHODS),
                    help="planted methods to run again (comma-separated); the others' rows are kept from the "
                         "last raw results")
    ap.add_argument("--held-out", type=int, default=0, metavar="N",
                    help="also run segmint on N held-out data sets per design (other seeds than the benchmark's)")
    args = ap.parse_args(argv)
    methods = tuple(m for m in kselect_planted.METHODS if m in args.methods.split(","))
    planted = planted_section(args.quick, args.workers, args.from_csv, methods)
    if args.held_out or HELDOUT_CSV.exists():
        planted += heldout_section(args.held_out, args.workers, args.from_csv or not args.held_out)
    if args.no_speed:
        text = "\n".join(["# k selection", "", *_header(argv), "", *planted])
        Path(args.out).write_text(text)
        print(text)
        return
    limit = threadpool_limits(args.threads) if args.threads else None
    df, truth = make_customers(args.rows)
    records = []
    for run in range(args.runs):
        seg, t_seg, c_seg = run_segmint(df, seed=run)
        Z = seg.preprocessor_.transform(df)
        k_base, km, t_base, c_base = run_baseline(Z, seed=run)
        ids = seg.predict_ids(df)
        rec = {
            "run": run,
            "segmint_s": t_seg,
            "baseline_s": t_base,
            "segmint_cpu_s": c_seg,
            "baseline_cpu_s": c_base,
            "segmint_k": seg.k_,
            "baseline_k": k_base,
            "segmint_inertia": inertia(Z, seg.params_["centroids"]),
            "baseline_inertia": float(km.inertia_),
            "segmint_ari_truth": adjusted_rand_score(truth, ids),
        }
        if k_base != seg.k_:  # compare quality at segmint's k: fit the baseline there too
            rec["baseline_inertia"] = float(KMeans(n_clusters=seg.k_, random_state=run).fit(Z).inertia_)
        records.append(rec)
        print(rec, file=sys.stderr)
    table = pd.DataFrame(records)
    t_seg, t_base = table["segmint_s"].median(), table["baseline_s"].median()
    c_seg, c_base = table["segmint_cpu_s"].median(), table["baseline_cpu_s"].median()
    gap = (table["segmint_inertia"] / table["baseline_inertia"] - 1).median()
    last = seg.selection_[
        [
            c
            for c in (
                "k",
                "silhouette",
                "calinski_harabasz",
                "davies_bouldin",
                "stability",
                "bic",
                "passes_gate",
                "silhouette_gap",
                "near_best",
                "chosen",
            )
            if c in seg.selection_
        ]
    ]
    lines = [
        "# k selection",
        "",
        *_header(argv),
        "",
        *planted,
        "## Speed: 1M rows against a plain scikit-learn loop",
        "",
        f"- data: {args.rows:,} rows x {len(FEATURES)} features, {len(GROUPS)} planted groups; {args.runs} runs; "
        f"threads per side: {args.threads or 'library default'}",
        "",
        "| | segmint `ClusterSegmenter(k='auto')` | scikit-learn loop |",
        "|---|---|---|",
        f"| median wall time (s) | {t_seg:.1f} | {t_base:.1f} |",
        f"| speed-up (wall) | {t_base / t_seg:.1f}x | 1x |",
        f"| median CPU time (s) | {c_seg:.1f} | {c_base:.1f} |",
        f"| speed-up (CPU) | {c_base / c_seg:.1f}x | 1x |",
        f"| chosen k (per run) | {', '.join(map(str, table['segmint_k']))} | {', '.join(map(str, table['baseline_k']))} |",
        f"| inertia on all rows at segmint's k (median gap) | {gap:+.2%} | reference |",
        f"| ARI vs planted groups (median) | {table['segmint_ari_truth'].median():.3f} | |",
        (
            "| what it computes | sample fits k=2..10 (restarted from the best resample fit when better), "
            "silhouette/CH/DB, 5-resample stability, a Gaussian-mixture BIC for silhouette ties, refine on all "
            "rows, label all rows "
            "| full-data KMeans k=2..10 + silhouette on 10k |"
        ),
        "",
        "Per run:",
        "",
        markdown(table),
        "",
        (
            f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs. Both sides run "
            "single-threaded, so on a shared machine wall time includes waiting for a CPU; CPU time "
            "(process_time) is then the fairer comparison."
        ),
        "",
        "segmint's selection table (last run):",
        "",
        markdown(last, 3),
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    if limit is not None:
        limit.restore_original_limits()


if __name__ == "__main__":
    main()
