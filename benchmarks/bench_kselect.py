"""Benchmark: choosing k with segmint vs a plain scikit-learn loop.

Both sides get the same synthetic customer table (log-normal amounts, counts, shares;
six planted groups). segmint fits ``ClusterSegmenter(k="auto")`` (k = 2..10, bounded
sample, bootstrap stability, one refinement on all rows). The baseline is the loop
people write by hand: ``KMeans(k)`` on all rows for each k = 2..10 plus
``silhouette_score`` on a 10,000-row sample, picking the best silhouette; it runs on
segmint's preprocessed matrix (preprocessing time not counted against it), so both
are measured in the same space. Quality: k-means inertia on all rows at the chosen k.

Run::

    .venv/bin/python benchmarks/bench_kselect.py            # 1M rows, 3 runs
    .venv/bin/python benchmarks/bench_kselect.py --rows 100000 --runs 1

Results go to benchmarks/results/kselect.md.
"""

from __future__ import annotations

import argparse
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
from segmint.segment.assign import assign_ids
from segmint.segment.cluster import ClusterSegmenter

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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=1, help="OpenMP/BLAS threads for both sides (0: library default)"
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "kselect.md"))
    args = ap.parse_args(argv)
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
                "passes_gate",
                "mean_rank",
                "near_best",
                "chosen",
            )
            if c in seg.selection_
        ]
    ]
    lines = [
        "# k selection: segmint vs a plain scikit-learn loop",
        "",
        f"- command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_kselect.py', *(argv or sys.argv[1:])])}`",
        (
            f"- machine: {platform.machine()}, {os.cpu_count()} logical CPUs ({platform.platform()}); "
            f"threads per side: {args.threads or 'library default'}"
        ),
        (
            f"- versions: segmint {segmint.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
            f"pandas {pd.__version__}, Python {platform.python_version()}"
        ),
        f"- data: {args.rows:,} rows x {len(FEATURES)} features, {len(GROUPS)} planted groups; {args.runs} runs",
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
            "silhouette/CH/DB, 5-resample stability, refine on all rows, label all rows "
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
