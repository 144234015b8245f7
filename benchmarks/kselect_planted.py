"""The planted k-selection benchmark: segmint's ``k="auto"`` against the usual ways of choosing k.

Every data set of :func:`segmint.datasets.planted.benchmark_suite` is preprocessed once by
segmint's :class:`~segmint.segment.preprocess.Preprocessor` (inside ``ClusterSegmenter``), and
every method then chooses k in 2..10 on that same matrix, in the same run:

``segmint``
    ``ClusterSegmenter(k="auto")`` with its defaults (it preprocesses the raw table itself;
    the baselines get its preprocessed matrix, so preprocessing is not what differs).
``silhouette``
    ``KMeans(k, n_init=3)`` on at most 20,000 rows for each k (labelling all rows), the k
    with the highest silhouette on a 3,000-row sample (the loop people write by hand).
``gmm_bic``
    ``GaussianMixture(k, covariance_type="full")`` on at most 5,000 rows, the k with the
    lowest BIC; rows go to their most likely component.
``gap``
    The gap statistic (Tibshirani, Walther & Hastie 2001): k-means on at most 3,000 rows
    against 8 reference sets drawn uniformly in the box of the data's principal
    components; the smallest k with ``Gap(k) >= Gap(k+1) - s(k+1)`` (k from 2, so it
    cannot answer 1, which only helps it here).
``kmeans_true_k``
    ``KMeans`` at the planted k (the ceiling: what a method that always knew k would get).

Each method's ARI is that of its model at its chosen k, labelling every row, against the
planted groups.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture

from segmint.datasets.planted import PlantedSpec, make_from_spec
from segmint.segment.cluster import _PRE_PARAMS, ClusterSegmenter
from segmint.segment.preprocess import Preprocessor

K_RANGE = (2, 10)
METHODS = ("segmint", "silhouette", "gmm_bic", "gap", "kmeans_true_k")


def silhouette_max(Z: np.ndarray, k_values: Sequence[int], seed: int) -> tuple[int, dict[int, np.ndarray]]:
    """The k with the best silhouette; the k-means labels of every row at each k."""
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(Z), size=min(20_000, len(Z)), replace=False)
    rows = rng.choice(len(Z), size=min(3_000, len(Z)), replace=False)
    best, fits = (-np.inf, k_values[0]), {}
    for k in k_values:
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(Z[fit_rows])
        fits[k] = km.predict(Z)
        sil = silhouette_score(Z[rows], fits[k][rows])
        if sil > best[0]:
            best = (sil, k)
    return best[1], fits


def gmm_bic(Z: np.ndarray, k_values: Sequence[int], seed: int) -> tuple[int, GaussianMixture]:
    rng = np.random.default_rng(seed)
    S = Z[rng.choice(len(Z), size=min(5_000, len(Z)), replace=False)]
    best = (np.inf, None)
    for k in k_values:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed).fit(S)
        bic = gm.bic(S)
        if bic < best[0]:
            best = (bic, gm)
    return best[1].n_components, best[1]


def gap_statistic(Z: np.ndarray, k_values: Sequence[int], seed: int, n_refs: int = 8) -> int:
    rng = np.random.default_rng(seed)
    S = Z[rng.choice(len(Z), size=min(3_000, len(Z)), replace=False)]
    centred = S - S.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    P = centred @ vt.T  # principal components: the reference box is aligned with them
    lo, hi = P.min(axis=0), P.max(axis=0)
    refs = [rng.uniform(lo, hi, size=P.shape) for _ in range(n_refs)]
    ks = [*k_values, max(k_values) + 1]
    gap, sd = {}, {}
    for k in ks:
        log_w = np.log(KMeans(n_clusters=k, n_init=3, random_state=seed).fit(P).inertia_)
        log_ref = np.array([np.log(KMeans(n_clusters=k, n_init=1, random_state=seed + b).fit(R).inertia_)
                            for b, R in enumerate(refs)])
        gap[k] = float(log_ref.mean() - log_w)
        sd[k] = float(log_ref.std() * np.sqrt(1 + 1 / n_refs))
    for k in k_values:
        if gap[k] >= gap[k + 1] - sd[k + 1]:
            return k
    return max(k_values)


def run_one(spec: PlantedSpec, methods: Sequence[str] = METHODS) -> list[dict]:
    """Every method on one planted data set; one record per method."""
    data = make_from_spec(spec)
    truth = data.labels
    k_values = list(range(K_RANGE[0], K_RANGE[1] + 1))
    seed = spec.seed % 1000
    out = []

    def record(method: str, k: int, labels: np.ndarray, seconds: float, **extra) -> None:
        out.append({"dataset": spec.name, "design": spec.design, "true_k": spec.k, "n": spec.n, "d": spec.d,
                    "method": method, "k": int(k), "exact": int(k) == spec.k,
                    "ari": float(adjusted_rand_score(truth, labels)), "seconds": seconds, **extra})

    if "segmint" in methods:
        t0 = time.perf_counter()
        seg = ClusterSegmenter(k="auto", k_range=K_RANGE, random_state=seed).fit(data.X)
        labels = seg.predict_ids(data.X)
        record("segmint", seg.k_, labels, time.perf_counter() - t0, reason=seg.selection_reason_)
        pre = seg.preprocessor_
    else:  # the same preprocessing as ClusterSegmenter's (every data set fits in its 50,000-row sample)
        defaults = ClusterSegmenter()
        pre = Preprocessor((), **{p: getattr(defaults, p) for p in _PRE_PARAMS}).fit(data.X)
    Z = pre.transform(data.X)
    fits: dict[int, np.ndarray] = {}
    if "silhouette" in methods or "kmeans_true_k" in methods:
        t0 = time.perf_counter()
        k, fits = silhouette_max(Z, k_values, seed)
        record("silhouette", k, fits[k], time.perf_counter() - t0)
    if "kmeans_true_k" in methods:
        t0 = time.perf_counter()
        true_labels = fits[spec.k] if spec.k in fits else KMeans(spec.k, n_init=3, random_state=seed).fit_predict(Z)
        record("kmeans_true_k", spec.k, true_labels, time.perf_counter() - t0)
    if "gmm_bic" in methods:
        t0 = time.perf_counter()
        k, gm = gmm_bic(Z, k_values, seed)
        record("gmm_bic", k, gm.predict(Z), time.perf_counter() - t0)
    if "gap" in methods:
        t0 = time.perf_counter()
        k = gap_statistic(Z, k_values, seed)
        gap_labels = fits[k] if k in fits else KMeans(k, n_init=3, random_state=seed).fit_predict(Z)
        record("gap", k, gap_labels, time.perf_counter() - t0)
    return out


def summarise(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per method: exact-k count, mean ARI, under/over-split counts, time; and per method and design."""
    r = results.assign(under=results["k"] < results["true_k"], over=results["k"] > results["true_k"])
    overall = r.groupby("method", sort=False).agg(
        datasets=("exact", "size"), exact=("exact", "sum"), mean_ari=("ari", "mean"),
        under=("under", "sum"), over=("over", "sum"), seconds=("seconds", "sum"))
    by_design = r.pivot_table(index="design", columns="method", values=["exact", "ari"],
                              aggfunc={"exact": "sum", "ari": "mean"}, sort=False)
    return overall, by_design
