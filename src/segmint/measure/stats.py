"""The statistics of a campaign read-out, from per-group sufficient statistics.

Every interval here is computed from a handful of sums per group (customers, sum of the
outcome, of its square; with CUPED, of the covariate, its square and the cross product),
so the engine aggregates a million customers and only a few numbers reach Python.

* Means (revenue, orders per customer): Welch's t interval and test (unequal variances,
  Welch-Satterthwaite degrees of freedom); relative lift by the delta method on the log of
  the ratio of means.
* Rates (conversion): Newcombe's hybrid score interval (from two Wilson intervals) for the
  difference, the Katz log interval for the ratio, the pooled two-proportion z test.
* CUPED (Deng et al. 2013): the outcome less ``theta * (x - mean(x))`` with ``theta`` the pooled
  regression slope of the outcome on a pre-period covariate; then Welch on the adjusted outcome.
* Sample-ratio mismatch: a chi-square goodness-of-fit test of the group sizes against the
  planned holdout share. Multiple segments: Holm's step-down adjustment of the p-values.

``tests/measure/test_stats.py`` checks each against scipy and statsmodels on the same data.

Examples
--------
>>> import numpy as np
>>> t = GroupStats.of(np.array([1.0, 0, 1, 1, 0, 1, 1, 0]))
>>> h = GroupStats.of(np.array([0.0, 0, 1, 0, 0, 1, 0, 0]))
>>> r = compare(t, h, "rate")
>>> round(r.lift, 3), [round(v, 3) for v in r.lift_ci]
(0.375, [-0.092, 0.673])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from segmint.intervals import wilson  # re-exported: one implementation for every layer

__all__ = ["Comparison", "GroupStats", "bootstrap_diff", "compare", "cuped", "holm", "newcombe_diff",
           "sample_ratio_mismatch", "welch", "wilson"]

#: Two-sided 95%.
LEVEL = 0.95


@dataclass(frozen=True)
class GroupStats:
    """Sufficient statistics of one group: count, sums of y, y^2 and (for CUPED) x, x^2, xy."""

    n: float
    sy: float
    syy: float
    sx: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    @classmethod
    def of(cls, y: np.ndarray, x: np.ndarray | None = None) -> "GroupStats":
        """The statistics of arrays ``y`` (and covariate ``x``)."""
        y = np.asarray(y, dtype=float)
        x = np.zeros_like(y) if x is None else np.asarray(x, dtype=float)
        return cls(float(len(y)), float(y.sum()), float((y * y).sum()), float(x.sum()), float((x * x).sum()),
                   float((x * y).sum()))

    def __add__(self, other: "GroupStats") -> "GroupStats":
        return GroupStats(*(a + b for a, b in zip(astuple(self), astuple(other))))

    @property
    def mean(self) -> float:
        return self.sy / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        """Sample variance of y (ddof=1)."""
        if self.n < 2:
            return math.nan
        return max(self.syy - self.sy * self.sy / self.n, 0.0) / (self.n - 1)

    @property
    def xmean(self) -> float:
        return self.sx / self.n if self.n else math.nan


def astuple(g: GroupStats) -> tuple[float, ...]:
    return (g.n, g.sy, g.syy, g.sx, g.sxx, g.sxy)


@dataclass
class Comparison:
    """Treatment against holdout on one outcome.

    ``lift`` is the absolute difference (treatment minus holdout, per customer),
    ``relative_lift`` the ratio of means less one; both with two-sided 95% intervals.
    """

    method: str
    treatment_mean: float
    holdout_mean: float
    lift: float
    lift_ci: list[float]
    relative_lift: float
    relative_lift_ci: list[float]
    p_value: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        return {k: _clean(v) for k, v in {**d, **extra}.items()}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


# ------------------------------------------------------------------------------------ means
def welch(mt: float, vt: float, nt: float, mh: float, vh: float, nh: float,
          level: float = LEVEL) -> tuple[float, list[float], float, float]:
    """Welch's difference ``mt - mh``: (difference, [low, high], p-value, degrees of freedom).

    Examples
    --------
    >>> d, ci, p, df = welch(10.0, 4.0, 50, 9.0, 9.0, 40)
    >>> round(d, 2), [round(c, 3) for c in ci], round(p, 4)
    (1.0, [-0.103, 2.103], 0.0748)
    """
    at, ah = vt / nt, vh / nh
    se = math.sqrt(at + ah)
    d = mt - mh
    if se == 0 or not math.isfinite(se):
        return d, [d, d], (1.0 if d == 0 else 0.0) if se == 0 else math.nan, math.inf
    df = (at + ah) ** 2 / (at * at / (nt - 1) + ah * ah / (nh - 1))
    q = sps.t.ppf(0.5 + level / 2, df)
    p = 2 * sps.t.sf(abs(d) / se, df)
    return float(d), [float(d - q * se), float(d + q * se)], float(p), float(df)


def ratio_ci(mt: float, se_t: float, mh: float, se_h: float, level: float = LEVEL) -> tuple[float, list[float]]:
    """Relative lift ``mt / mh - 1`` with a delta-method interval on the log ratio (both means > 0).

    With a mean at or below zero the log is undefined and the interval is the delta method
    on the ratio itself.
    """
    z = sps.norm.ppf(0.5 + level / 2)
    if mh == 0:
        return math.nan, [math.nan, math.nan]
    r = mt / mh
    if mt > 0 and mh > 0:
        se = math.sqrt((se_t / mt) ** 2 + (se_h / mh) ** 2)
        return r - 1, [float(r * math.exp(-z * se) - 1), float(r * math.exp(z * se) - 1)]
    se = math.sqrt(se_t ** 2 / mh ** 2 + mt ** 2 * se_h ** 2 / mh ** 4)
    return r - 1, [float(r - z * se - 1), float(r + z * se - 1)]


# ------------------------------------------------------------------------------------ rates
def newcombe_diff(xt: float, nt: float, xh: float, nh: float, level: float = LEVEL) -> tuple[float, list[float]]:
    """Newcombe's hybrid score interval (his method 10) for the difference of two proportions."""
    pt, ph = xt / nt, xh / nh
    lt, ut = wilson(xt, nt, level)
    lh, uh = wilson(xh, nh, level)
    d = pt - ph
    return d, [d - math.sqrt((pt - lt) ** 2 + (uh - ph) ** 2), d + math.sqrt((ut - pt) ** 2 + (ph - lh) ** 2)]


def katz_ratio(xt: float, nt: float, xh: float, nh: float, level: float = LEVEL) -> tuple[float, list[float]]:
    """Relative lift ``pt / ph - 1`` with the Katz log interval (needs a conversion in both groups)."""
    if xt == 0 or xh == 0:
        return (math.nan if xh == 0 else -1.0), [math.nan, math.nan]
    z = sps.norm.ppf(0.5 + level / 2)
    r = (xt / nt) / (xh / nh)
    se = math.sqrt(1 / xt - 1 / nt + 1 / xh - 1 / nh)
    return r - 1, [float(r * math.exp(-z * se) - 1), float(r * math.exp(z * se) - 1)]


def two_proportion_p(xt: float, nt: float, xh: float, nh: float) -> float:
    """Two-sided p-value of the pooled two-proportion z test."""
    p = (xt + xh) / (nt + nh)
    se = math.sqrt(p * (1 - p) * (1 / nt + 1 / nh))
    d = xt / nt - xh / nh
    if se == 0:
        return 1.0 if d == 0 else 0.0
    return float(2 * sps.norm.sf(abs(d) / se))


# ------------------------------------------------------------------------------- comparisons
def compare(t: GroupStats, h: GroupStats, kind: str, level: float = LEVEL) -> Comparison:
    """Treatment ``t`` against holdout ``h``: ``kind`` is ``"rate"`` (0/1 outcome) or ``"mean"``."""
    if t.n < 2 or h.n < 2:
        nan = math.nan
        return Comparison(kind, t.mean, h.mean, nan, [nan, nan], nan, [nan, nan], nan,
                          {"note": "fewer than two customers in a group"})
    if kind == "rate":
        d, ci = newcombe_diff(t.sy, t.n, h.sy, h.n, level)
        rel, rel_ci = katz_ratio(t.sy, t.n, h.sy, h.n, level)
        p = two_proportion_p(t.sy, t.n, h.sy, h.n)
        return Comparison("newcombe (wilson score), katz log ratio, pooled z test", t.mean, h.mean, d, ci, rel,
                          rel_ci, p)
    d, ci, p, df = welch(t.mean, t.var, t.n, h.mean, h.var, h.n, level)
    rel, rel_ci = ratio_ci(t.mean, math.sqrt(t.var / t.n), h.mean, math.sqrt(h.var / h.n), level)
    return Comparison("welch t, delta method on the log ratio", t.mean, h.mean, d, ci, rel, rel_ci, p,
                      {"df": df})


def cuped(t: GroupStats, h: GroupStats, level: float = LEVEL) -> Comparison:
    """CUPED: Welch on ``y - theta (x - mean x)``, ``theta`` the pooled within-group slope of y on x.

    ``extra`` holds ``theta`` and ``variance_reduction`` (1 - adjusted variance / variance,
    pooled over the two groups).
    """
    def centred(g: GroupStats) -> tuple[float, float, float]:
        vx = (g.sxx - g.sx * g.sx / g.n) / (g.n - 1)
        cxy = (g.sxy - g.sx * g.sy / g.n) / (g.n - 1)
        return vx, cxy, g.var

    (vxt, cxt, vyt), (vxh, cxh, vyh) = centred(t), centred(h)
    pooled_vx = ((t.n - 1) * vxt + (h.n - 1) * vxh) / (t.n + h.n - 2)
    pooled_cxy = ((t.n - 1) * cxt + (h.n - 1) * cxh) / (t.n + h.n - 2)
    theta = pooled_cxy / pooled_vx if pooled_vx > 0 else 0.0
    xbar = (t.sx + h.sx) / (t.n + h.n)
    mt = t.mean - theta * (t.xmean - xbar)
    mh = h.mean - theta * (h.xmean - xbar)
    at = max(vyt + theta * theta * vxt - 2 * theta * cxt, 0.0)
    ah = max(vyh + theta * theta * vxh - 2 * theta * cxh, 0.0)
    d, ci, p, df = welch(mt, at, t.n, mh, ah, h.n, level)
    rel, rel_ci = ratio_ci(mt, math.sqrt(at / t.n), mh, math.sqrt(ah / h.n), level)
    before = ((t.n - 1) * vyt + (h.n - 1) * vyh)
    after = ((t.n - 1) * at + (h.n - 1) * ah)
    reduction = 1 - after / before if before > 0 else 0.0
    return Comparison("cuped, welch t", mt, mh, d, ci, rel, rel_ci, p,
                      {"theta": float(theta), "variance_reduction": float(reduction), "df": df})


def bootstrap_diff(yt: np.ndarray, yh: np.ndarray, reps: int = 200, level: float = LEVEL, seed: int = 0,
                   max_draw: int = 200_000) -> list[float]:
    """A bootstrap interval of ``mean(yt) - mean(yh)`` (basic bootstrap), as a check on the formulas.

    Above ``max_draw`` customers per group it resamples ``m = max_draw`` of them per replicate
    (the m-out-of-n bootstrap) and scales the spread by ``sqrt(m / n)``, which is exact for a
    mean's standard error: a million customers take a second, not a minute.
    """
    rng = np.random.default_rng(seed)
    d = float(yt.mean() - yh.mean())
    draws = np.empty(reps)
    nt, nh = len(yt), len(yh)
    mt, mh = min(nt, max_draw), min(nh, max_draw)
    for b in range(reps):
        draws[b] = (yt[rng.integers(0, nt, mt)].mean() - yh[rng.integers(0, nh, mh)].mean())
    # each group's spread scales with its own draw size; with equal scaling (the usual case) this is exact
    scale = math.sqrt((np.var(yt) / nt + np.var(yh) / nh) / (np.var(yt) / mt + np.var(yh) / mh)) \
        if (np.var(yt) + np.var(yh)) > 0 else 1.0
    lo, hi = np.quantile((draws - d) * scale, [0.5 - level / 2, 0.5 + level / 2])
    return [d - float(hi), d - float(lo)]


def sample_ratio_mismatch(n_treatment: int, n_holdout: int, holdout_share: float,
                          threshold: float = 0.001) -> dict[str, Any]:
    """Chi-square test of the group sizes against the planned split; ``mismatch`` below ``threshold``.

    Examples
    --------
    >>> sample_ratio_mismatch(9000, 1000, 0.1)["mismatch"], sample_ratio_mismatch(8700, 1300, 0.1)["mismatch"]
    (False, True)
    """
    n = n_treatment + n_holdout
    expected = np.array([n * (1 - holdout_share), n * holdout_share])
    if n == 0 or expected.min() <= 0:
        return {"expected_holdout_share": holdout_share, "observed_holdout_share": None, "p_value": None,
                "mismatch": False}
    chi2, p = sps.chisquare([n_treatment, n_holdout], expected)
    return {"expected_holdout_share": holdout_share, "observed_holdout_share": n_holdout / n,
            "chi2": float(chi2), "p_value": float(p), "mismatch": bool(p < threshold)}


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    Examples
    --------
    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), np.nan)
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out.tolist()
