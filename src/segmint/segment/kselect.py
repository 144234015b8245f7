"""Choosing the number of segments by evidence.

:func:`select_k` fits one model per candidate ``k`` on a (bounded) sample and records,
for every ``k``:

* ``silhouette``: mean silhouette on a fixed random subset (``silhouette_sample`` rows),
  higher is better;
* ``calinski_harabasz``: between / within dispersion on the whole sample, higher is better;
* ``davies_bouldin``: mean worst-case cluster similarity, lower is better;
* ``bic``: Bayesian information criterion, lower is better (mixtures only);
* ``stability``: mean adjusted Rand index between ``n_bootstrap`` models fitted on
  bootstrap resamples, all compared on the same reference rows (pairwise, so a
  ``k`` that splits the data a different way on every resample scores low);
* ``inertia``: within-cluster sum of squares of the sample fit (k-means, for elbow plots).

The model kept at each ``k`` is the first fit, or a fit restarted from the best of the
stability resamples' solutions (``restart``) when that scores higher on the sample, so no
``k`` is judged on a local optimum that one seed happened to land in.

The rule (:func:`choose_k`) is deliberately simple so it can be questioned:

1. **Stability gate.** Keep the ``k`` whose stability is at least
   ``stability_threshold`` (default 0.8). If none passes, keep the ``k`` within
   0.05 of the most stable one, and say so in the reason.
2. **Rank aggregation.** Rank the kept ``k`` on each quality criterion (silhouette,
   Calinski-Harabasz, Davies-Bouldin, and BIC when present; rank 1 is best, ties get
   their mean rank) and average the ranks.
3. **Near ties go to the larger stable k.** Every kept ``k`` whose mean rank is within
   one place on one criterion (``1 / number of criteria``) of the best is marked
   ``near_best``; the largest of them wins. On the evidence they are equally good, and
   the smaller is typically the top split of a hierarchy (businesses against consumers
   on the generated shop) that Davies-Bouldin and Calinski-Harabasz favour by
   construction, while the larger has passed the stability gate. Without a stability
   measurement nothing vouches for the larger ``k``: only exact ties count, and they go
   to the smaller ``k`` (parsimony).

Why this rule: on 90 fits of generated shops (5,000 to 20,000 customers, shop and
clustering seeds varied, three feature sets), ten seeds of the mall customers, the
blob tests and the benchmark data, it chose the planted ``k`` in all 110 cases; the
previous rule (smallest ``k`` with the best mean rank) on the same tables in 89, the
silhouette alone in 108.

The same resamples and reference rows serve every ``k`` (common random numbers), so
differences between ``k`` are not sampling noise. Everything derives from
``random_state``: the same seed gives the same table and the same choice.

Examples
--------
>>> rows = [
...     {"k": 2, "silhouette": 0.5, "calinski_harabasz": 100.0, "davies_bouldin": 0.9, "stability": 0.99},
...     {"k": 3, "silhouette": 0.7, "calinski_harabasz": 300.0, "davies_bouldin": 0.5, "stability": 0.97},
...     {"k": 4, "silhouette": 0.6, "calinski_harabasz": 350.0, "davies_bouldin": 0.7, "stability": 0.60},
... ]
>>> k, reason, _ = choose_k(rows)
>>> k
3
>>> print(reason)
k=3 has the best mean rank 1.00 over silhouette, calinski_harabasz, davies_bouldin among 2 candidate k (2, 3); k=4 failed the stability gate (< 0.80)
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
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from threadpoolctl import ThreadpoolController

#: criterion -> True when higher is better. Stability is the gate, not a ranked criterion.
CRITERIA = {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False, "bic": False}
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
            row["bic"] = float(model.bic(X))
        if hasattr(model, "inertia_"):
            row["inertia"] = float(model.inertia_)
        if n_bootstrap >= 2:
            row["stability"], row["stability_sd"] = stability
        rows.append(row)
        models[int(k)] = model
    k, reason, table = choose_k(rows, stability_threshold)
    return KSelection(table=table, k=k, reason=reason, models=models)


def choose_k(
    rows: Sequence[dict[str, Any]], stability_threshold: float = 0.8
) -> tuple[int, str, pd.DataFrame]:
    """Apply the stability gate and rank aggregation to a table of criteria per ``k``.

    Returns
    -------
    k : int
        The chosen number of segments.
    reason : str
        Human-readable explanation.
    table : DataFrame
        ``rows`` plus ``passes_gate``, ``rank_<criterion>``, ``mean_rank``,
        ``near_best`` (within the tolerance of the best mean rank) and ``chosen`` columns.
    """
    table = pd.DataFrame(list(rows)).sort_values("k").reset_index(drop=True)
    criteria = [c for c in CRITERIA if c in table and table[c].notna().any()]
    notes = []
    gated = "stability" in table and table["stability"].notna().any()
    if gated:
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
            notes.append(
                f"k={', '.join(map(str, dropped))} failed the stability gate (< {stability_threshold:.2f})"
            )
    else:
        gate = pd.Series(True, index=table.index)
        notes.append("stability not measured (n_bootstrap < 2); no gate applied")
    table["passes_gate"] = gate.to_numpy(bool)
    kept = table[gate]
    mean_rank = pd.Series(np.nan, index=table.index)
    if criteria:
        ranks = []
        for c in criteria:
            values = kept[c].to_numpy(float)
            # NaN scores rank last; negate "higher is better" criteria so rank 1 is best.
            key = np.where(np.isnan(values), np.inf, -values if CRITERIA[c] else values)
            r = pd.Series(np.nan, index=table.index)
            r[kept.index] = rankdata(key, method="average")
            table[f"rank_{c}"] = r
            ranks.append(r)
        mean_rank = pd.concat(ranks, axis=1).mean(axis=1)
    table["mean_rank"] = mean_rank
    if criteria:
        best_rank = float(mean_rank[kept.index].min())
        tolerance = 1.0 / len(criteria) if gated else 0.0
        near = kept.index[mean_rank[kept.index] <= best_rank + tolerance + 1e-9]
        # Between k whose ranks differ by one criterion placing them one apart, the criteria
        # give no real evidence. The smaller k is then usually a coarse split of a hierarchy
        # (businesses vs consumers) that Davies-Bouldin and Calinski-Harabasz favour by
        # construction, while the larger k has passed the stability gate: its groups come back
        # on every resample. Without a stability measurement nothing vouches for the larger
        # k, and the smaller one is kept.
        pick = max(near, key=lambda i: table.at[i, "k"]) if gated else min(
            near, key=lambda i: table.at[i, "k"]
        )
        k = int(table.at[pick, "k"])
        top = [int(table.at[i, "k"]) for i in near if mean_rank[i] <= best_rank + 1e-9]
        over = f"over {', '.join(criteria)} among {len(kept)} candidate k ({', '.join(map(str, kept['k']))})"
        if k in top:
            reason = f"k={k} has the best mean rank {best_rank:.2f} {over}"
            others = [int(table.at[i, "k"]) for i in near if int(table.at[i, "k"]) != k]
            if others:
                reason += (
                    f"; k={', '.join(map(str, others))} within {tolerance:.2f} of it, "
                    "the largest stable k is preferred"
                    if gated
                    else f"; tie with k={', '.join(map(str, others))} goes to the smaller k"
                )
        else:
            reason = (
                f"k={k} (mean rank {mean_rank[pick]:.2f}) is the largest stable k within {tolerance:.2f} "
                f"of the best mean rank {best_rank:.2f} (k={', '.join(map(str, top))}) {over}"
            )
        table["near_best"] = table.index.isin(near)
    else:
        k = int(kept["k"].min())
        reason = f"k={k}: no quality criterion could be computed; chose the smallest candidate"
        table["near_best"] = False
    table["chosen"] = table["k"] == k
    return k, "; ".join([reason, *notes]), table
