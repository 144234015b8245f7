"""Choosing the number of segments by evidence.

:func:`select_k` fits one model per candidate ``k`` on a (bounded) sample and records,
for every ``k``:

* ``silhouette``: mean silhouette on a fixed random subset (``silhouette_sample`` rows),
  higher is better;
* ``calinski_harabasz``: between / within dispersion on the whole sample, higher is better;
* ``davies_bouldin``: mean worst-case cluster similarity, lower is better;
* ``bic`` and ``icl``: Bayesian information criterion and integrated completed likelihood
  of a Gaussian mixture, lower is better: the mixture's own for ``gmm``; for k-means, a
  full-covariance mixture started from the k-means groups on ``BIC_SAMPLE`` rows, fitted
  only for the ``k`` the silhouette cannot tell apart, smallest first, until one collapses
  onto repeated values (NaN: that one, and the ``k`` not fitted). The ICL is the BIC plus
  twice the entropy of the rows' posterior probabilities (:func:`mixture_scores`);
* ``stability``: mean adjusted Rand index between ``n_bootstrap`` models fitted on
  bootstrap resamples, all compared on the same reference rows (pairwise, so a
  ``k`` that splits the data a different way on every resample scores low);
* ``inertia``: within-cluster sum of squares of the sample fit (k-means, for elbow plots).

The model kept at each ``k`` is the first fit, or a fit restarted from the best of the
stability resamples' solutions (``restart``) when that scores higher on the sample, so no
``k`` is judged on a local optimum that one seed happened to land in.

The rule (:func:`choose_k`) uses the scores themselves, not their ranks, so it can be
questioned with the numbers in the table:

1. **Stability gate.** Keep the ``k`` whose stability is at least
   ``stability_threshold`` (default 0.8). If none passes, keep the ``k`` within
   0.05 of the most stable one, and say so in the reason.
2. **Separation: the silhouette.** Among the kept ``k``, those whose silhouette is within
   ``SILHOUETTE_TOLERANCE`` (0.05) of the best are ``near_best``. When one ``k`` is alone
   there, it is chosen: a clearly better separation (0.741 at k=2 against 0.298 at k=4 on
   a 97 %/3 % log-normal shop) is not outvoted.
3. **Ties: the Gaussian-mixture ICL.** Between ``near_best`` ``k`` the silhouette gives no
   evidence; it also under-rates a small group (3 % of the rows move the mean silhouette
   little) and an elongated one (which k-means cuts in two), so the best silhouette is
   often one group short (0.449 at k=3 against 0.413 at the planted k=4). A Gaussian
   mixture with one full covariance per group sees both. Its BIC charges every extra
   group its parameters (parsimony) but counts the Gaussian components a density needs,
   and a skewed or flat-topped group needs two; the ICL also charges two components that
   share their rows (their classification entropy), so it counts the groups that are told
   apart, which is what a segmentation wants (Biernacki, Celeux & Govaert 2000). The ``k``
   with the lowest ICL wins. When a mixture collapsed onto repeated values (zero-inflated
   shares, counts, one-hot levels) its likelihood is unbounded and it is no evidence: then
   the best silhouette wins.

CH and DB are recorded for reading, not used: both depend on the units and CH favours
the top split of a hierarchy. Why this rule, and why 0.05: see the module notes of
``benchmarks/bench_kselect.py`` and the k-selection section of BENCHMARKS.md. In short,
on the 70 planted data sets (:mod:`segmint.datasets.planted`) it finds the planted ``k``
more often than the silhouette alone, the GMM BIC alone and the gap statistic, and more
often than the previous rule (silhouette within 0.02, then the BIC of a mixture started
from the centres only); the tolerance was chosen on those 70 and checked on 35 other
planted data sets (other seeds), and with the ICL any tolerance from 0.05 to 0.20 finds
the planted ``k`` as often on both (61 of 70, 30 of 35): the silhouette's margin only
decides when one ``k`` separates clearly better. It keeps the seven personas of the
generated shop and finds the five groups of the mall customers with every seed (0-9).

The same resamples and reference rows serve every ``k`` (common random numbers), so
differences between ``k`` are not sampling noise. Everything derives from
``random_state``: the same seed gives the same table and the same choice.

Examples
--------
>>> rows = [
...     {"k": 2, "silhouette": 0.741, "stability": 1.00, "bic": 900.0},
...     {"k": 3, "silhouette": 0.35, "stability": 0.97, "bic": 700.0},
...     {"k": 4, "silhouette": 0.298, "stability": 0.95, "bic": 600.0},
... ]
>>> k, reason, _ = choose_k(rows)
>>> k
2
>>> print(reason)
k=2 has the best silhouette 0.741; the next best, 0.350 at k=3, is more than 0.05 below it
>>> rows = [
...     {"k": 2, "silhouette": 0.722, "stability": 1.00, "bic": 13507.0, "icl": 13510.0},
...     {"k": 3, "silhouette": 0.701, "stability": 1.00, "bic": 12392.0, "icl": 12398.0},
...     {"k": 4, "silhouette": 0.706, "stability": 1.00, "bic": 12210.0, "icl": 13950.0},
...     {"k": 5, "silhouette": 0.406, "stability": 0.60, "bic": float("nan"), "icl": float("nan")},
... ]
>>> print(choose_k(rows)[1])
k=3 has the lowest Gaussian-mixture ICL, 12398 (against 13510 at k=2, 13950 at k=4), among the k with silhouettes within 0.05 of the best 0.722 (k=2): k=2, 3, 4; k=5 failed the stability gate (< 0.80)
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from threadpoolctl import ThreadpoolController

from segmint.segment.assign import assign_ids

#: criterion -> True when higher is better (recorded for every k; see choose_k for which decide).
CRITERIA = {
    "silhouette": True, "calinski_harabasz": True, "davies_bouldin": False, "bic": False, "icl": False,
}
#: Silhouettes this close to the best are a tie on separation; the mixture's ICL then decides.
#: Chosen on the planted benchmark, checked on held-out planted data sets: with the ICL as the
#: voice, 0.05 to 0.20 find the planted k as often on both (61/70, 30/35); 0.02 left the
#: silhouette's preference for fewer groups to decide (0.449 at k=3 against 0.413 at the planted k=4).
SILHOUETTE_TOLERANCE = 0.05
#: A mixture component with a variance under this fraction of the data's (median feature variance)
#: has collapsed onto repeated values; the mixture's BIC is then not used.
DEGENERATE_VARIANCE = 1e-4
#: Rows of the sample on which the Gaussian mixture of each k-means model is fitted for its BIC.
BIC_SAMPLE = 3_000
#: Fits on at most this many rows run single-threaded: OpenMP start-up and contention
#: cost more than they save on small data (10x slower measured on a busy 2-core machine).
#: The bound covers the default 50,000-row sample: on the 200,000-customer benchmark the
#: k selection took 9.3 s of CPU with two OpenMP threads and 3.1 s with one (same centroids);
#: a k-means iteration over 50,000 rows of a few features is too short to share.
SINGLE_THREAD_ROWS = 200_000
#: When no k reaches the threshold, keep those this close to the most stable one.
STABILITY_SLACK = 0.05


@dataclass
class KSelection:
    """Outcome of :func:`select_k`: the table, the chosen ``k``, why, and the fitted models."""

    table: pd.DataFrame
    k: int
    reason: str
    models: dict[int, Any] = field(default_factory=dict, repr=False)


_CONTROLLER: list[ThreadpoolController] = []


def _threads_for(rows: int) -> Any:
    if rows > SINGLE_THREAD_ROWS:
        return nullcontext()
    if not _CONTROLLER:  # inspecting the loaded thread pools is the slow part: do it once
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1)


def quality_scores(X: np.ndarray, labels: np.ndarray, silhouette_rows: np.ndarray,
                   distances: np.ndarray | None = None) -> dict[str, float]:
    """Silhouette (on ``silhouette_rows``), Calinski-Harabasz and Davies-Bouldin of ``labels``.

    Returns NaN for every score when the labels form fewer than two clusters. ``distances``,
    when given, is the Euclidean distance matrix of ``X[silhouette_rows]``: :func:`select_k`
    computes it once for every ``k`` (the silhouette is then the same number, 5x faster).

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> s = quality_scores(X, np.array([0, 0, 1, 1]), np.arange(4))
    >>> round(s["silhouette"], 3)
    0.98
    """
    nan = {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    if len(np.unique(labels)) < 2:
        return nan
    sub = labels[silhouette_rows]
    if not 1 < len(np.unique(sub)) < len(sub):
        sil = np.nan
    elif distances is not None:
        sil = silhouette_score(distances, sub, metric="precomputed")
    else:
        sil = silhouette_score(X[silhouette_rows], sub)
    return {
        "silhouette": float(sil),
        "calinski_harabasz": float(calinski_harabasz_score(X, labels)),
        "davies_bouldin": float(davies_bouldin_score(X, labels)),
    }


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings of small non-negative integers.

    Same value as :func:`sklearn.metrics.adjusted_rand_score` (Hubert & Arabie, 1985),
    from a dense contingency table: scikit-learn's input checks and sparse table cost
    ~10 ms a call, which adds up to a fifth of ``k="auto"`` on large data.

    Examples
    --------
    >>> adjusted_rand(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    1.0
    """
    a, b = np.asarray(a, dtype="int64"), np.asarray(b, dtype="int64")
    n = len(a)
    table = np.bincount(a * (int(b.max()) + 1) + b, minlength=(int(a.max()) + 1) * (int(b.max()) + 1))

    def pairs(counts: np.ndarray) -> float:
        counts = counts.astype("float64")
        return float(np.sum(counts * (counts - 1.0)) / 2.0)

    index = pairs(table)
    rows = pairs(np.bincount(a))
    cols = pairs(np.bincount(b))
    total = n * (n - 1) / 2.0
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2.0
    if maximum == expected:  # both labelings trivial (one cluster, or all singletons)
        return 1.0
    return float((index - expected) / (maximum - expected))


def mixture_bic(X: np.ndarray, centres: np.ndarray, max_iter: int = 50) -> float:
    """BIC of the Gaussian mixture of :func:`mixture_scores` (NaN when it collapsed).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    >>> mixture_bic(X, np.array([[0.0, 0.0], [8.0, 8.0]])) < mixture_bic(X, np.array([[4.0, 4.0]]))
    True
    """
    return mixture_scores(X, centres, max_iter)[0]


def classification_entropy(resp: np.ndarray) -> float:
    """``-sum(t log t)`` over the posterior probabilities ``resp`` (rows x components); 0 for crisp ones.

    Examples
    --------
    >>> round(classification_entropy(np.array([[1.0, 0.0], [0.5, 0.5]])), 6) == round(float(np.log(2)), 6)
    True
    """
    resp = np.asarray(resp, dtype="float64")
    return float(-np.sum(resp * np.log(np.where(resp > 0, resp, 1.0))))


def mixture_scores(X: np.ndarray, centres: np.ndarray, max_iter: int = 50) -> tuple[float, float]:
    """BIC and ICL of a full-covariance Gaussian mixture on ``X``, started from the k-means solution.

    The model-based voice of :func:`choose_k`: one component per centre, each with its own
    covariance and weight, so an elongated or a small group is not penalised as it is by
    the silhouette. EM starts from the k-means partition of ``X`` itself: each component
    from one k-means group (its share, its centre, its covariance), so it converges in a few
    steps and the BIC is a function of the k-means solution alone. (Passing only the centres
    let scikit-learn take the starting weights and covariances from a k-means of its own,
    whose groups come in another order: each centre started with another group's covariance,
    and the same k-means solution got a BIC of 757 or 789 on the mall customers depending on
    how its centres were ordered.)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    >>> bic, icl = mixture_scores(X, np.array([[0.0, 0.0], [8.0, 8.0]]))
    >>> bool(icl < mixture_scores(X, np.array([[4.0, 4.0]]))[1]), bool(icl >= bic)
    (True, True)
    >>> mixture_scores(X, np.array([[8.0, 8.0], [0.0, 0.0]])) == (bic, icl)
    True

    The ICL (integrated completed likelihood, Biernacki, Celeux & Govaert 2000) is the BIC
    plus twice the entropy of the rows' posterior probabilities (:func:`classification_entropy`):
    the BIC counts the Gaussian components a density needs, and a skewed or flat-topped
    group needs two, so the BIC over-splits it; two components that share their rows cost
    the ICL their entropy, so it counts the groups that are told apart.
    """
    nan = (float("nan"), float("nan"))
    centres = np.asarray(centres, dtype="float64")
    k, d = centres.shape
    labels = assign_ids("kmeans", {"centroids": centres}, X)
    counts = np.bincount(labels, minlength=k)
    weights = np.maximum(counts, 1) / np.maximum(counts, 1).sum()  # an empty group starts with a token weight
    for reg_covar in (1e-6, 1e-3):  # a constant column inside a group (a one-hot level) needs the larger
        try:
            precisions = np.array([
                np.linalg.inv(_group_covariance(X[labels == j] - centres[j], d) + reg_covar * np.eye(d))
                for j in range(k)
            ])
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=ConvergenceWarning)
                gm = GaussianMixture(
                    n_components=k, covariance_type="full", weights_init=weights, means_init=centres,
                    precisions_init=precisions, max_iter=max_iter, reg_covar=reg_covar, random_state=0,
                ).fit(X)
        except (ValueError, np.linalg.LinAlgError):
            continue
        # A component that collapsed onto repeated values (a zero-inflated share, a count, a
        # one-hot level) has a near-zero variance and an unbounded likelihood: its BIC is no
        # evidence for that k, so there is none (NaN).
        floor = DEGENERATE_VARIANCE * float(np.median(X.var(axis=0)) or 1.0)
        if float(np.linalg.eigvalsh(gm.covariances_).min()) < floor:
            return nan
        return mixture_icl(gm, X)
    return nan


def mixture_icl(gm: GaussianMixture, X: np.ndarray) -> tuple[float, float]:
    """BIC and ICL (BIC plus twice the classification entropy) of a fitted mixture on ``X``."""
    bic = float(gm.bic(X))
    return bic, bic + 2.0 * classification_entropy(gm.predict_proba(X))


def _group_covariance(residuals: np.ndarray, d: int) -> np.ndarray:
    """Maximum-likelihood covariance of a group's residuals around its centre (zeros when it is empty)."""
    if not len(residuals):
        return np.zeros((d, d))
    return residuals.T @ residuals / len(residuals)


def bootstrap_stability(
    X: np.ndarray,
    make_model: Callable[[int], Any],
    resamples: Sequence[np.ndarray],
    reference: np.ndarray,
    models: list[Any] | None = None,
) -> tuple[float, float]:
    """Mean and standard deviation of pairwise ARI between models fitted on resamples.

    Parameters
    ----------
    X : ndarray
        Data the resamples index into.
    make_model : callable
        ``make_model(b)`` returns an unfitted estimator with ``fit``/``predict`` for resample ``b``.
    resamples : sequence of index arrays
        One bootstrap resample per model.
    reference : ndarray
        Rows of ``X`` on which all models are compared.
    models : list, optional
        When given, the fitted resample models are appended to it (they serve as extra
        starting points for the model kept at this ``k``, see :func:`select_k`).
    """
    labels = []
    for b, rows in enumerate(resamples):
        with _threads_for(len(rows)), warnings.catch_warnings():
            # A bootstrap resample repeats rows, so on small data it can hold fewer distinct points
            # than k, and k-means warns that it found fewer clusters. That is no fault to report:
            # such a k splits each resample differently, which is what the ARI below measures.
            warnings.filterwarnings("ignore", "Number of distinct clusters", ConvergenceWarning)
            fitted = make_model(b).fit(X[rows])
            labels.append(fitted.predict(X[reference]))
        if models is not None:
            models.append(fitted)
    aris = [adjusted_rand(a, c) for a, c in itertools.combinations(labels, 2)]
    if not aris:
        return np.nan, np.nan
    return float(np.mean(aris)), float(np.std(aris))


def select_k(
    X: np.ndarray,
    k_values: Sequence[int],
    make_model: Callable[[int, int, bool], Any],
    *,
    n_bootstrap: int = 5,
    stability_sample: int = 10_000,
    reference_size: int = 2_000,
    silhouette_sample: int = 2_000,
    stability_threshold: float = 0.8,
    random_state: int = 0,
    with_bic: bool = False,
    restart: Callable[[Any], Any] | None = None,
) -> KSelection:
    """Fit one model per ``k`` on ``X``, score each, and choose ``k`` with :func:`choose_k`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The (already sampled and preprocessed) data.
    k_values : sequence of int
        Candidate numbers of segments.
    make_model : callable
        ``make_model(k, seed, bootstrap)`` returns an unfitted estimator; ``bootstrap`` is
        True for the cheaper stability fits.
    n_bootstrap : int
        Resamples for stability (0 or 1 disables it; the gate is then skipped).
    stability_sample, reference_size, silhouette_sample : int
        Bounds on rows per stability fit, reference rows, silhouette rows.
    stability_threshold : float
        Gate of :func:`choose_k`.
    random_state : int
        Seed for every random choice.
    with_bic : bool
        Record the model's ``bic(X)``.
    restart : callable, optional
        ``restart(fitted)`` returns an unfitted estimator that starts from a resample
        model's solution. When the resample model with the best ``score(X)`` beats the
        first fit, it is refitted on ``X`` from there and kept if it is still better.
    """
    rng = np.random.default_rng(random_state)
    n = len(X)
    sil_rows = np.sort(rng.choice(n, size=min(n, silhouette_sample), replace=False))
    reference = np.sort(rng.choice(n, size=min(n, reference_size), replace=False))
    m = min(n, stability_sample)
    resamples = [rng.choice(n, size=m, replace=True) for _ in range(n_bootstrap)]
    seeds = rng.integers(0, 2**31 - 1, size=n_bootstrap + 1)
    bic_rows = np.sort(rng.choice(n, size=min(n, BIC_SAMPLE), replace=False))
    with _threads_for(n):
        # The silhouette rows are the same for every k: their distances are computed once.
        distances = pairwise_distances(X[sil_rows])
    rows, models = [], {}
    for k in k_values:
        fits: list[Any] = []
        if n_bootstrap >= 2:
            stability = bootstrap_stability(
                X, lambda b, k=k: make_model(k, int(seeds[b + 1]), True), resamples, reference, fits
            )
        with _threads_for(n):
            model = make_model(k, int(seeds[0]), False).fit(X)
            # The resample fits are free starting points that already sit near an optimum.
            # Restarting from the best of them when it beats the first fit makes the model
            # at each k as good as any the stability check saw, so a k is not judged on the
            # local optimum one seed happened to land in. Scoring the starts first costs one
            # pass over X each; only the best one is refitted.
            if restart is not None and fits:
                best = model.score(X)
                scores = [fitted.score(X) for fitted in fits]
                start = int(np.argmax(scores))
                if scores[start] > best + 1e-9 * abs(best):
                    candidate = restart(fits[start]).fit(X)
                    if candidate.score(X) > best:
                        model = candidate
            labels = model.predict(X)
        row: dict[str, Any] = {"k": int(k), **quality_scores(X, labels, sil_rows, distances)}
        if with_bic:
            row["bic"], row["icl"] = mixture_icl(model, X)
        if hasattr(model, "inertia_"):
            row["inertia"] = float(model.inertia_)
        if n_bootstrap >= 2:
            row["stability"], row["stability_sd"] = stability
        rows.append(row)
        models[int(k)] = model
    if not with_bic:
        # The model-based voice, only where the silhouette cannot decide (see choose_k): a Gaussian
        # mixture per tied k, started from its k-means centres, on BIC_SAMPLE rows.
        # A collapsed mixture takes the mixtures out of the decision (see choose_k), so the fits stop there.
        tied = near_best(rows, stability_threshold)
        for row in rows:
            row["bic"] = row["icl"] = np.nan
        for row in sorted((r for r in rows if len(tied) > 1 and r["k"] in tied), key=lambda r: r["k"]):
            if not hasattr(models[row["k"]], "cluster_centers_"):
                break
            with _threads_for(len(bic_rows)):
                row["bic"], row["icl"] = mixture_scores(X[bic_rows], models[row["k"]].cluster_centers_)
            if np.isnan(row["icl"]):
                break
    k, reason, table = choose_k(rows, stability_threshold)
    return KSelection(table=table, k=k, reason=reason, models=models)


def _gate(table: pd.DataFrame, stability_threshold: float) -> tuple[pd.Series, list[str]]:
    """The stability gate over ``table`` and the notes explaining it."""
    notes = []
    if "stability" in table and table["stability"].notna().any():
        stab = table["stability"].fillna(-1.0)
        gate = stab >= stability_threshold
        if not gate.any():
            gate = stab >= stab.max() - STABILITY_SLACK
            notes.append(
                f"no k reached stability {stability_threshold:.2f} (best {stab.max():.3f}); "
                f"kept k within {STABILITY_SLACK} of the most stable"
            )
        dropped = table.loc[~gate, "k"].tolist()
        if dropped and not notes:
            notes.append(f"k={_ks(dropped)} failed the stability gate (< {stability_threshold:.2f})")
    else:
        gate = pd.Series(True, index=table.index)
        notes.append("stability not measured (n_bootstrap < 2); no gate applied")
    return gate, notes


def near_best(
    rows: Sequence[dict[str, Any]],
    stability_threshold: float = 0.8,
    silhouette_tolerance: float = SILHOUETTE_TOLERANCE,
) -> list[int]:
    """The ``k`` that pass the stability gate with a silhouette within the tolerance of the best.

    Examples
    --------
    >>> near_best([{"k": 2, "silhouette": 0.50, "stability": 1.0}, {"k": 3, "silhouette": 0.51, "stability": 0.9},
    ...            {"k": 4, "silhouette": 0.60, "stability": 0.5}])
    [2, 3]
    """
    table = pd.DataFrame(list(rows)).sort_values("k").reset_index(drop=True)
    if "silhouette" not in table:
        return []
    gate, _ = _gate(table, stability_threshold)
    sil = table["silhouette"]
    if not sil[gate].notna().any():
        return []
    return [int(k) for k in table.loc[gate & (sil >= sil[gate].max() - silhouette_tolerance - 1e-12), "k"]]


def choose_k(
    rows: Sequence[dict[str, Any]],
    stability_threshold: float = 0.8,
    silhouette_tolerance: float = SILHOUETTE_TOLERANCE,
) -> tuple[int, str, pd.DataFrame]:
    """Apply the stability gate, the silhouette margin and the BIC to a table of criteria per ``k``.

    Returns
    -------
    k : int
        The chosen number of segments.
    reason : str
        Human-readable explanation, with the numbers that decided.
    table : DataFrame
        ``rows`` plus ``passes_gate``, ``silhouette_gap`` (best silhouette among the gated
        ``k`` minus this one's), ``near_best`` (gated and within ``silhouette_tolerance``
        of the best silhouette) and ``chosen`` columns.
    """
    table = pd.DataFrame(list(rows)).sort_values("k").reset_index(drop=True)
    gate, notes = _gate(table, stability_threshold)
    table["passes_gate"] = gate.to_numpy(bool)
    kept = table[gate]
    sil = table["silhouette"] if "silhouette" in table else pd.Series(np.nan, index=table.index)
    # The model-based voice: the ICL; tables from before it (and hand-written ones) have only the BIC.
    voice = "icl" if "icl" in table else "bic"
    has_voice = voice in table and table.loc[gate, voice].notna().any()
    if not sil[gate].notna().any():
        k = int(kept["k"].min())
        table["silhouette_gap"] = np.nan
        table["near_best"] = False
        table["chosen"] = table["k"] == k
        reason = f"k={k}: the silhouette could not be computed; chose the smallest candidate"
        return k, "; ".join([reason, *notes]), table
    best_sil = float(sil[gate].max())
    table["silhouette_gap"] = np.where(gate, best_sil - sil, np.nan)
    near_mask = gate & (sil >= best_sil - silhouette_tolerance - 1e-12)
    table["near_best"] = near_mask.to_numpy(bool)
    near = table[near_mask]
    top = int(table.loc[sil[gate].idxmax(), "k"])  # idxmax: the first, so the smaller k on a tie
    if len(near) == 1:
        k = top
        others = sil[gate & ~near_mask]
        if len(others):
            second = others.idxmax()
            reason = (
                f"k={k} has the best silhouette {best_sil:.3f}; the next best, {float(sil[second]):.3f} at "
                f"k={int(table.at[second, 'k'])}, is more than {silhouette_tolerance:.2f} below it"
            )
        else:
            reason = f"k={k} is the only candidate left, silhouette {best_sil:.3f}"
    elif has_voice and near[voice].notna().all():
        pick = near[voice].idxmin()
        k = int(table.at[pick, "k"])
        rivals = ", ".join(
            f"{float(table.at[i, voice]):.0f} at k={int(table.at[i, 'k'])}" for i in near.index if i != pick
        )
        within = f"silhouettes within {silhouette_tolerance:.2f} of the best {best_sil:.3f} (k={top})"
        reason = (
            f"k={k} has the lowest Gaussian-mixture {voice.upper()}, {float(table.at[pick, voice]):.0f} "
            f"(against {rivals}), among the k with {within}: k={_ks(near['k'].tolist())}"
        )
    else:
        # No usable model-based voice (the mixtures collapsed onto repeated values, or none was
        # fitted): the best silhouette, the smaller k on an exact tie.
        k = top
        why = ("a mixture component collapsed onto repeated values" if voice in table
               else "none was computed")
        reason = (
            f"k={k} has the best silhouette {best_sil:.3f}; k={_ks([v for v in near['k'] if v != k])} "
            f"within {silhouette_tolerance:.2f} of it, and no Gaussian-mixture {voice.upper()} to tell them "
            f"apart ({why})"
        )
    table["chosen"] = table["k"] == k
    return k, "; ".join([reason, *notes]), table


def _ks(values: Sequence[Any]) -> str:
    return ", ".join(str(int(v)) for v in values)
