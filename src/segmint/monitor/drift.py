"""Feature drift between a reference sample and a current one: PSI, Wasserstein, Jensen-Shannon, p-values.

Definitions follow Evidently's (``evidently/legacy/calculations/stattests``): the normalised
Wasserstein distance is ``wasserstein_distance(ref, cur) / max(std(ref), 0.001)``; the
Jensen-Shannon *distance* (the square root of the divergence, base e, as SciPy's
``jensenshannon``) and the population stability index ``sum((r - c) * ln(r / c))`` are computed on
binned shares with empty bins set to 0.0001. One difference, on purpose: numeric bins are the
reference's quantiles (fixed by the reference, so a second comparison against the same reference
bins the same way), where Evidently bins the two samples pooled. KS (numeric) and chi-square
(categorical) p-values are secondary figures: at a million rows they flag any difference.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(0, 1, 5000)
>>> same = numeric_drift(ref, rng.normal(0, 1, 5000))
>>> moved = numeric_drift(ref, rng.normal(0.5, 1, 5000))
>>> same["wasserstein"] < 0.1 <= moved["wasserstein"], same["psi"] < 0.1 <= moved["psi"]
(True, True)
>>> c = categorical_drift(np.array(["a"] * 50 + ["b"] * 50), np.array(["a"] * 90 + ["b"] * 10))
>>> round(c["jensenshannon"], 3), c["psi"] > 0.1
(0.319, True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from scipy.stats import _stats_py as _scipy_stats_py
from scipy.spatial import distance

__all__ = ["EMPTY_SHARE", "categorical_drift", "compare_frames", "is_numeric", "numeric_drift", "psi"]

#: The share given to an empty bin (Evidently's), so that logarithms and ratios stay finite.
EMPTY_SHARE = 0.0001
MISSING = "(missing)"


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype="float64")
    return np.where(shares == 0, EMPTY_SHARE, shares)


def psi(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    """Population stability index of two share vectors (empty bins already replaced)."""
    return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares)))


def _edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner edges: the reference's quantiles, repeated ones dropped (a mass point is one bin)."""
    qs = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def numeric_drift(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Drift of a numeric feature: ``wasserstein`` (normalised), ``psi``, ``jensenshannon``, ``ks_p_value``.

    Missing values are left out of the statistics; their shares come back as ``missing_ref``/``missing_cur``.
    """
    ref = np.asarray(ref, dtype="float64")
    cur = np.asarray(cur, dtype="float64")
    out: dict[str, Any] = {"n_ref": int(ref.size), "n_cur": int(cur.size),
                           "missing_ref": float(np.isnan(ref).mean()) if ref.size else 0.0,
                           "missing_cur": float(np.isnan(cur).mean()) if cur.size else 0.0}
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return {**out, "wasserstein": None, "psi": None, "jensenshannon": None, "ks_p_value": None,
                "mean_ref": None, "mean_cur": None}
    # Each side is sorted once; the bins, the Wasserstein distance and the KS statistic all read the
    # sorted arrays (SciPy's functions each sort both sides again: most of a refresh's time, issue 17).
    ref, cur = np.sort(ref), np.sort(cur)
    edges = _edges(ref, bins)
    r = _shares(_bin_counts(ref, edges))
    c = _shares(_bin_counts(cur, edges))
    norm = max(float(np.std(ref)), 0.001)
    w, d = _wasserstein_and_ks(ref, cur)
    return {**out, "wasserstein": float(w / norm), "psi": psi(r, c),
            "jensenshannon": float(distance.jensenshannon(r, c)),
            "ks_p_value": _ks_p(ref, cur, d),
            "mean_ref": float(ref.mean()), "mean_cur": float(cur.mean())}


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted ``values`` in the bins ``(-inf, e0), [e0, e1), ..., [ek, inf)``."""
    cuts = np.searchsorted(values, edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [values.size]))).astype("float64")


def _wasserstein_and_ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """The 1-Wasserstein distance and the two-sample KS statistic of two sorted samples.

    Both read the two empirical CDFs at every pooled value, as SciPy's ``wasserstein_distance`` and
    ``ks_2samp`` do (the same figures to rounding), from one merge of the sorted samples.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> a, b = np.sort(np.array([0.0, 1.0, 3.0])), np.sort(np.array([5.0, 6.0, 8.0]))
    >>> w, d = _wasserstein_and_ks(a, b)
    >>> bool(np.isclose(w, stats.wasserstein_distance(a, b))), bool(d == stats.ks_2samp(a, b).statistic)
    (True, True)
    """
    n, m = ref.size, cur.size
    pooled = np.concatenate((ref, cur))
    order = np.argsort(pooled, kind="stable")  # two sorted runs: a merge, which also says where each came from
    values = pooled[order]
    below_ref = np.cumsum(order < n)  # values of ref at or before each position
    below_cur = np.arange(1, n + m + 1) - below_ref
    # A CDF at a value counts every value equal to it: read both at the last of each run of equal values (the
    # gaps inside a run are zero). Counting the merge instead of searching both samples for every pooled value
    # is 1.4x to 5x faster, most with the repeated values of counts and scores.
    last = np.flatnonzero(np.r_[values[1:] != values[:-1], True])
    diff = np.abs(below_ref[last] / n - below_cur[last] / m)
    return float(np.sum(diff[:-1] * np.diff(values[last]))), float(diff.max())


#: Up to this many values a side, SciPy's ``ks_2samp`` computes the exact p-value (its ``MAX_AUTO_N``).
KS_EXACT_MAX = 10_000


def _ks_p(ref: np.ndarray, cur: np.ndarray, d: float) -> float:
    """The two-sided KS p-value of statistic ``d``: SciPy's ``ks_2samp`` (its exact distribution) up to
    :data:`KS_EXACT_MAX` values a side, and its asymptotic one up to an effective size
    ``n = n_ref n_cur / (n_ref + n_cur)`` of :data:`KS_EXACT_MAX`; above, the Kolmogorov distribution with
    Stephens' correction, ``K((sqrt(n) + 0.12 + 0.11 / sqrt(n)) d)``, within 1% of SciPy's
    finite-sample figure (which took up to 2 s a feature in its tail, a third of a refresh; issue 17).
    """
    en = ref.size * cur.size / (ref.size + cur.size)
    if max(ref.size, cur.size) <= KS_EXACT_MAX:
        exact = getattr(_scipy_stats_py, "_attempt_exact_2kssamp", None)
        if exact is None:  # another SciPy: its public function (which may warn as it falls back)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful",
                                        category=RuntimeWarning)
                return float(stats.ks_2samp(ref, cur).pvalue)
        # SciPy's own steps, without its warning when the exact distribution overflows: a warnings filter
        # is process-wide, and another thread restoring its own (pandas does, often) let the warning through
        success, d, prob = exact(ref.size, cur.size, math.gcd(ref.size, cur.size), d, "two-sided")
        if success:
            return float(np.clip(prob, 0, 1))
        return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))
    if en <= KS_EXACT_MAX:  # SciPy's own finite-sample distribution, quick at this size
        return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))
    root = np.sqrt(en)
    return float(np.clip(special.kolmogorov((root + 0.12 + 0.11 / root) * d), 0, 1))


def categorical_drift(ref: np.ndarray | pd.Series, cur: np.ndarray | pd.Series) -> dict[str, Any]:
    """Drift of a categorical feature: ``jensenshannon``, ``psi``, ``chi2_p_value`` (missing is a category)."""
    ref_n, cur_n = _category_counts(ref), _category_counts(cur)
    cats = sorted(set(ref_n.index) | set(cur_n.index))
    rc = ref_n.reindex(cats, fill_value=0).to_numpy("float64")
    cc = cur_n.reindex(cats, fill_value=0).to_numpy("float64")
    out: dict[str, Any] = {"n_ref": int(rc.sum()), "n_cur": int(cc.sum()),
                           "missing_ref": float(ref_n.get(MISSING, 0) / rc.sum()) if rc.sum() else 0.0,
                           "missing_cur": float(cur_n.get(MISSING, 0) / cc.sum()) if cc.sum() else 0.0}
    if not rc.sum() or not cc.sum():
        return {**out, "jensenshannon": None, "psi": None, "chi2_p_value": None, "top_ref": None, "top_cur": None}
    r, c = _shares(rc), _shares(cc)
    p = None
    if len(cats) > 1:
        # the current counts against the reference's shares (Evidently's chi-square goodness of fit)
        expected = rc / rc.sum() * cc.sum()
        keep = expected > 0
        if keep.sum() > 1 and cc[keep].sum() > 0:
            exp = expected[keep] * cc[keep].sum() / expected[keep].sum()
            p = float(stats.chisquare(cc[keep], exp).pvalue)
        if cc[~keep].sum() > 0:  # current values in categories the reference never had
            p = 0.0
    return {**out, "jensenshannon": float(distance.jensenshannon(r, c)), "psi": psi(r, c), "chi2_p_value": p,
            "top_ref": cats[int(rc.argmax())], "top_cur": cats[int(cc.argmax())]}


def _category_counts(values) -> pd.Series:
    """Counts per category as text, missing values under :data:`MISSING`.

    Counted first, then named: a million values are counted by the engine of their column (Arrow
    strings), and only the few distinct ones are turned into text (issue 17: the value-by-value
    conversion was a tenth of a refresh).
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    counts = s.value_counts(dropna=False)
    names = [MISSING if k is None or k is pd.NA or (isinstance(k, float) and np.isnan(k)) else str(k)
             for k in counts.index]
    return pd.Series(counts.to_numpy("float64"), index=names).groupby(level=0).sum()


def is_numeric(series: pd.Series) -> bool:
    """Numeric for drift: a number column that is not boolean."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def compare_frames(ref: pd.DataFrame, cur: pd.DataFrame, features: Sequence[str], settings) -> dict[str, Any]:
    """Per-feature drift of ``cur`` against ``ref`` and whether the population drifted.

    ``settings`` is a :class:`~segmint.monitor.settings.DriftSettings`. Returns ``features`` (a list of
    dicts: ``feature``, ``type``, ``statistic`` (its name), ``value``, ``drifted`` and every figure of
    :func:`numeric_drift` / :func:`categorical_drift`), ``drifted`` (names), ``drift_share`` and
    ``dataset_drift`` (the share reached ``settings.drift_share``).
    """
    rows = []
    for name in features:
        if name not in ref.columns or name not in cur.columns:
            continue
        numeric = is_numeric(ref[name]) and is_numeric(cur[name])
        if numeric:
            figures = numeric_drift(ref[name].to_numpy("float64", na_value=np.nan),
                                    cur[name].to_numpy("float64", na_value=np.nan), settings.bins)
            stat = settings.numeric
        else:
            figures = categorical_drift(ref[name], cur[name])
            stat = settings.categorical
        value = figures.get(stat)
        rows.append({"feature": name, "type": "numeric" if numeric else "categorical", "statistic": stat,
                     "value": value, "drifted": bool(value is not None and value >= settings.threshold), **figures})
    drifted = [r["feature"] for r in rows if r["drifted"]]
    share = len(drifted) / len(rows) if rows else 0.0
    return {"features": rows, "drifted": drifted, "drift_share": share,
            "dataset_drift": bool(rows) and share >= settings.drift_share}
