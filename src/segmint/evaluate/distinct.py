"""Are the segments distinct? Effect sizes, tests, cluster indices and separability.

* :func:`effect_sizes`: every feature of every segment against the rest of the base, each
  with a bounded effect size that is defined in every case, named in the ``measure`` column:
  Cliff's delta (numbers, in [-1, 1]), the difference in proportions (0/1 flags and other
  two-valued numbers, in [-1, 1]; it equals Cliff's delta there), Cramer's V (categories,
  in [0, 1]); with a p-value (Mann-Whitney U, chi-square) and Benjamini-Hochberg q-values.
  A standardised mean difference is reported beside them (``smd``), with a floor on its
  variance so that a feature nearly constant within groups cannot give d = 1e6.
* :func:`feature_tests`: one test per feature across all segments (Kruskal-Wallis with
  epsilon-squared, chi-square with Cramer's V), BH-corrected.
* :func:`cluster_quality`: silhouette (sampled), Calinski-Harabasz, Davies-Bouldin.
* :func:`separability`: can a classifier recover the segment from the features?

Ranks are computed once per feature and reused for every segment, so effect sizes on
100k customers take a second, not minutes.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> f = pd.DataFrame({"spend": np.r_[rng.normal(0, 1, 200), rng.normal(2, 1, 200)]})
>>> labels = pd.Series(["low"] * 200 + ["high"] * 200)
>>> e = effect_sizes(f, labels)
>>> e.loc[e.segment == "high", ["feature", "magnitude", "significant"]].to_dict("records")
[{'feature': 'spend', 'magnitude': 'large', 'significant': True}]
"""

from __future__ import annotations

import warnings

import numpy as np

from segmint._nan import nanmean, nanmedian, nanstd  # noqa: F401
import pandas as pd
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    balanced_accuracy_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier

from segmint.evaluate.inputs import Segmented, as_float, prepare

#: |d| cut-offs (Cohen) and Cramer's V cut-offs (df = 1) for small, medium, large.
SMD_MAGNITUDE = (0.2, 0.5, 0.8)
CRAMERS_V_MAGNITUDE = (0.1, 0.3, 0.5)
#: |Cliff's delta| cut-offs for small, medium, large (Romano et al. 2006; Cohen's d 0.2, 0.5, 0.8
#: for two normal groups). They also judge the difference in proportions of a 0/1 flag, which is
#: Cliff's delta of that flag.
CLIFFS_DELTA_MAGNITUDE = (0.147, 0.33, 0.474)
MAGNITUDE_WORDS = ("negligible", "small", "medium", "large")

#: What ``effect`` holds for each kind of feature (the ``measure`` column).
MEASURES = {"numeric": "Cliff's delta", "binary": "difference in proportions", "categorical": "Cramer's V"}
#: Magnitude cut-offs of each measure.
MEASURE_MAGNITUDE = {"numeric": CLIFFS_DELTA_MAGNITUDE, "binary": CLIFFS_DELTA_MAGNITUDE,
                     "categorical": CRAMERS_V_MAGNITUDE}
#: The standardised mean difference's variance is at least this share of the base's variance
#: (see :func:`effect_sizes`).
SMD_VARIANCE_FLOOR = 0.25


def magnitude(value: float, cuts: tuple[float, float, float] = SMD_MAGNITUDE) -> str:
    """Cohen's words for an effect size.

    >>> magnitude(0.1), magnitude(-0.6), magnitude(0.35, CRAMERS_V_MAGNITUDE)
    ('negligible', 'medium', 'medium')
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    return MAGNITUDE_WORDS[int(np.searchsorted(cuts, abs(value), side="right"))]


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN stays NaN)."""
    p = np.asarray(p, float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(np.clip(p[ok], 0, 1))
    return q


def _ranks(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Average ranks of ``x`` and the tie term sum(t^3 - t), from one sort."""
    # any order within a run of ties gives the same average ranks, so the faster unstable sort will do
    order = np.argsort(x)
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]]) if len(xs) else np.empty(0, int)
    counts = np.diff(np.r_[starts, len(xs)])
    r = np.empty(len(xs))
    r[order] = np.repeat(starts + (counts + 1) / 2, counts)  # 1-based mean rank of each run of ties
    return r, float(np.sum(counts.astype(float) ** 3 - counts))


def _column(seg: Segmented, col: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A numeric column's values, finite mask, ranks of the finite values and tie term (kept on ``seg``)."""
    key = ("ranks", col)
    if key not in seg.cache:
        x = as_float(seg.features[col])
        ok = np.isfinite(x)
        seg.cache[key] = (x, ok, *_ranks(x[ok]))
    return seg.cache[key]


def effect_sizes(features: pd.DataFrame | None = None, labels=None, catalog=None, alpha: float = 0.05, *,
                 prepared: Segmented | None = None) -> pd.DataFrame:
    """Every feature of every segment against the rest of the base, as a tidy table.

    Returns
    -------
    DataFrame
        ``segment, feature, family, kind, segment_mean, rest_mean, smd, cliffs_delta,
        cramers_v, top_value, effect, measure, abs_effect, magnitude, p_value, q_value,
        significant``. ``kind`` is ``numeric``, ``binary`` (a number with two values, e.g. a
        0/1 flag) or ``categorical``. ``effect`` is bounded and always defined; ``measure``
        names it:

        - numeric: Cliff's delta, P(segment > rest) - P(segment < rest), in [-1, 1]
          (equal to the rank-biserial correlation);
        - binary: the difference in proportions at the higher value (segment share less
          the rest's share), in [-1, 1]: Cliff's delta of the flag; ``cramers_v`` holds the
          phi coefficient's size;
        - categorical: Cramer's V of segment membership against the values, in [0, 1].

        ``magnitude`` reads ``effect`` with its measure's cut-offs (Cliff's delta: 0.147,
        0.33, 0.474; Cramer's V: 0.1, 0.3, 0.5). ``smd`` is the mean difference over
        sqrt(max((v_segment + v_rest) / 2, base variance / 4)): the two groups' variances
        weigh alike (a 10-customer segment against 9,990 zeros is not standardised by the
        zeros alone), and the floor keeps a feature nearly constant within groups finite
        (|smd| <= 2 / sqrt(share (1 - share)), e.g. 4 for a 0/1 flag that splits the base
        in half), where the pooled-sd d read 0 (constant) or 1e6 (jittered by 1e-6).

    ``prepared``: ``features``, ``labels`` and ``catalog`` already aligned by
    :func:`~segmint.evaluate.inputs.prepare`, given instead of them.
    """
    seg = prepared if prepared is not None else prepare(features, labels, catalog)
    # the scorecard and the profile of one prepared segmentation both need these: compute them once
    key = ("effect_sizes", alpha)
    if key not in seg.cache:
        seg.cache[key] = _effect_sizes(seg, alpha)
    return seg.cache[key].copy()


def _effect_sizes(seg: Segmented, alpha: float) -> pd.DataFrame:
    rows = []
    for col in seg.numeric():
        rows += _numeric_effects(seg, col)
    for col in seg.categorical():
        rows += _categorical_effects(seg, col)
    out = pd.DataFrame(rows, columns=["segment", "feature", "kind", "segment_mean", "rest_mean", "smd",
                                      "cliffs_delta", "cramers_v", "top_value", "effect", "p_value"])
    out.insert(2, "family", [seg.catalog[f].family for f in out["feature"]])
    out.insert(out.columns.get_loc("effect") + 1, "measure", [MEASURES[k] for k in out["kind"]])
    out["abs_effect"] = out["effect"].abs()
    out["magnitude"] = [magnitude(e, MEASURE_MAGNITUDE[k]) for e, k in zip(out["effect"], out["kind"])]
    out["q_value"] = bh(out["p_value"].to_numpy(float))
    out["significant"] = (out["q_value"] < alpha).to_numpy(bool)
    return out.sort_values(["segment", "abs_effect"], ascending=[True, False], key=_segment_key(seg)
                           ).reset_index(drop=True)


def _segment_key(seg: Segmented):
    order = {s: i for i, s in enumerate(seg.segments)}
    return lambda col: col.map(order) if col.name == "segment" else col


def _numeric_effects(seg: Segmented, col: str) -> list[list]:
    x, ok, ranks, ties = _column(seg, col)
    xv = x[ok]
    n = len(xv)
    if n < 3 or nanstd(xv) == 0:
        return []
    head = np.unique(xv[:1000])  # most columns show a third value at once: no full sort for them
    values = np.unique(xv) if len(head) <= 2 else head
    binary = len(values) == 2
    kind = "binary" if binary else "numeric"
    floor = SMD_VARIANCE_FLOOR * float(np.var(xv, ddof=1))
    total, total_sq = xv.sum(), (xv ** 2).sum()
    n_in, s_in, q_in, r_in = (seg.segment_sums(rows=ok), seg.segment_sums(xv, ok), seg.segment_sums(xv ** 2, ok),
                              seg.segment_sums(ranks, ok))
    rows = []
    for i, s in enumerate(seg.segments):
        n1 = int(n_in[i])
        n2 = n - n1
        if n1 < 2 or n2 < 2:
            continue
        s1, s2 = s_in[i], total - s_in[i]
        q1, q2 = q_in[i], total_sq - q_in[i]
        mu1, mu2 = s1 / n1, s2 / n2
        v1 = max((q1 - n1 * mu1 ** 2) / (n1 - 1), 0.0)
        v2 = max((q2 - n2 * mu2 ** 2) / (n2 - 1), 0.0)
        smd = (mu1 - mu2) / np.sqrt(max((v1 + v2) / 2, floor))
        u = r_in[i] - n1 * (n1 + 1) / 2
        delta = 2 * u / (n1 * n2) - 1
        sigma = np.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
        p = float(2 * stats.norm.sf(abs(u - n1 * n2 / 2) / sigma)) if sigma > 0 else 1.0
        if binary:
            # Shares at the higher value; their difference is Cliff's delta of the flag.
            lo, hi = float(values[0]), float(values[1])
            p1, p2 = (mu1 - lo) / (hi - lo), (mu2 - lo) / (hi - lo)
            share = (n1 * p1 + n2 * p2) / n
            phi = (p1 - p2) * np.sqrt(n1 * n2 / (n * n * share * (1 - share))) if 0 < share < 1 else 0.0
            rows.append([s, col, kind, mu1, mu2, smd, delta, abs(phi), None, p1 - p2, p])
        else:
            rows.append([s, col, kind, mu1, mu2, smd, delta, np.nan, None, delta, p])
    return rows


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their categories (as text), missing values as a category of their own."""
    # Factorise the values as they are and turn only the few categories into text: converting every
    # value to str first took seconds per column on a million customers.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.asarray([str(u) for u in uniques], dtype=object)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels = np.append(labels, "(missing)")
    return codes, labels


def _contingency(seg: Segmented, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Segments x the value codes some customer has."""
    table = seg.crosstab(codes, n_codes)
    return table[:, table.sum(axis=0) > 0]


def _categorical_effects(seg: Segmented, col: str) -> list[list]:
    codes, uniques = _codes(seg.features[col])
    if len(uniques) < 2:
        return []
    rows = []
    everyone = np.bincount(codes, minlength=len(uniques))
    inside = seg.crosstab(codes, len(uniques))
    for i, s in enumerate(seg.segments):
        row = inside[i]
        n1 = int(row.sum())
        if n1 < 2 or len(codes) - n1 < 2:
            continue
        table = np.vstack([everyone - row, row])  # [rest, segment] x values
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        v = float(np.sqrt(chi2 / table.sum()))
        diff = table[1] / table[1].sum() - table[0] / table[0].sum()
        rows.append([s, col, "categorical", np.nan, np.nan, np.nan, np.nan, v, str(uniques[np.argmax(diff)]), v,
                     float(p)])
    return rows


def feature_tests(features: pd.DataFrame | None = None, labels=None, catalog=None, alpha: float = 0.05, *,
                  prepared: Segmented | None = None) -> pd.DataFrame:
    """One test per feature across all segments, Benjamini-Hochberg corrected.

    Kruskal-Wallis (effect: epsilon-squared) for numbers, chi-square (effect: Cramer's V)
    for categories. Needs a partition; overlapping audiences get an empty table.
    ``prepared``: the inputs already aligned (:func:`~segmint.evaluate.inputs.prepare`), given instead.
    """
    seg = prepared if prepared is not None else prepare(features, labels, catalog)
    cols = ["feature", "family", "kind", "test", "statistic", "effect", "p_value", "q_value", "significant"]
    if seg.overlapping or len(seg.segments) < 2:
        return pd.DataFrame(columns=cols)
    rows = []
    for col in seg.numeric():
        x, ok, r, ties = _column(seg, col)
        n = int(ok.sum())
        if n < 3 or nanstd(x) == 0:
            continue
        counts, sums = seg.segment_sums(rows=ok), seg.segment_sums(r, ok)
        present = counts > 0
        h = 12 / (n * (n + 1)) * float((sums[present] ** 2 / counts[present]).sum()) - 3 * (n + 1)
        h /= 1 - ties / (n ** 3 - n)
        df = max(int(present.sum()) - 1, 1)
        rows.append([col, "numeric", "kruskal-wallis", h, h / (n - 1), float(stats.chi2.sf(h, df))])
    for col in seg.categorical():
        codes, uniques = _codes(seg.features[col])
        table = _contingency(seg, codes, len(uniques))
        if min(table.shape) < 2:
            continue
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        v = float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))
        rows.append([col, "categorical", "chi-square", chi2, v, float(p)])
    out = pd.DataFrame(rows, columns=["feature", "kind", "test", "statistic", "effect", "p_value"])
    out.insert(1, "family", [seg.catalog[f].family for f in out["feature"]])
    out["q_value"] = bh(out["p_value"].to_numpy(float))
    out["significant"] = (out["q_value"] < alpha).to_numpy(bool)
    return out.sort_values("effect", ascending=False).reset_index(drop=True)[cols]


def cluster_quality(X: np.ndarray, labels: np.ndarray, silhouette_sample: int = 2000,
                    random_state: int = 0) -> dict[str, float]:
    """Silhouette (on a sample), Calinski-Harabasz and Davies-Bouldin of ``labels`` on ``X``."""
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if k < 2 or k >= len(labels) or X.shape[1] == 0:
        return {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    size = min(len(labels), silhouette_sample)
    return {
        "silhouette": float(silhouette_score(X, labels, sample_size=size, random_state=random_state)),
        "calinski_harabasz": float(calinski_harabasz_score(X, labels)),
        "davies_bouldin": float(davies_bouldin_score(X, labels)),
    }


def separability(X: np.ndarray, labels: np.ndarray, folds: int = 3, random_state: int = 0) -> dict:
    """Cross-validated balanced accuracy of the better of a logistic regression and a shallow tree.

    Returns ``balanced_accuracy``, ``chance`` (1 / segments), ``separability`` (0 = chance,
    1 = perfect), ``model`` and ``recall`` (per segment).
    """
    labels = np.asarray(labels).astype(str)
    classes, counts = np.unique(labels, return_counts=True)
    chance = 1 / len(classes)
    empty = {"balanced_accuracy": np.nan, "chance": chance, "separability": np.nan, "model": None, "recall": {}}
    folds = min(folds, int(counts.min()))
    if len(classes) < 2 or folds < 2 or X.shape[1] == 0:
        return empty
    cv = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    best = empty
    models = {
        "logistic regression": LogisticRegression(max_iter=300),
        "decision tree (depth 5)": DecisionTreeClassifier(max_depth=5, min_samples_leaf=5,
                                                          random_state=random_state),
    }
    for name, model in models.items():
        with warnings.catch_warnings():
            # An unconverged fit still predicts; the score says how well.
            warnings.simplefilter("ignore", ConvergenceWarning)
            pred = cross_val_predict(model, X, labels, cv=cv)
        bacc = float(balanced_accuracy_score(labels, pred))
        if not np.isfinite(best["balanced_accuracy"]) or bacc > best["balanced_accuracy"]:
            recall = {c: float(np.mean(pred[labels == c] == c)) for c in classes}
            best = {"balanced_accuracy": bacc, "chance": chance,
                    "separability": max((bacc - chance) / (1 - chance), 0.0), "model": name, "recall": recall}
    return best
