"""segmint.measure.stats against scipy and statsmodels on the same data, and its intervals' honesty.

The coverage tests draw 200 campaigns with a planted lift per persona (zero for one) from
:func:`segmint.datasets.campaign.simulate` and count how often the 95% intervals hold the truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from segmint.datasets.campaign import simulate
from segmint.measure import stats

statsmodels = pytest.importorskip("statsmodels")
from statsmodels.stats.multitest import multipletests  # noqa: E402
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest  # noqa: E402

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    yt, yh = rng.gamma(2.0, 30.0, 700), rng.gamma(2.0, 27.0, 90)
    r = stats.compare(stats.GroupStats.of(yt), stats.GroupStats.of(yh), "mean")
    ref = sps.ttest_ind(yt, yh, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert r.lift == pytest.approx(yt.mean() - yh.mean())
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.lift_ci == pytest.approx([ci.low, ci.high], rel=1e-9)
    assert r.extra["df"] == pytest.approx(ref.df, rel=1e-9)


@pytest.mark.parametrize("xt,nt,xh,nh", [(5, 8, 2, 8), (130, 1000, 90, 1000), (40, 9000, 2, 1000), (0, 50, 3, 40)])
def test_rates_match_statsmodels(xt, nt, xh, nh):
    t = stats.GroupStats(nt, xt, xt)
    h = stats.GroupStats(nh, xh, xh)
    r = stats.compare(t, h, "rate")
    low, high = confint_proportions_2indep(xt, nt, xh, nh, method="newcomb", compare="diff")
    assert r.lift_ci == pytest.approx([low, high], abs=1e-12)
    _, p = proportions_ztest([xt, xh], [nt, nh])
    assert r.p_value == pytest.approx(p, rel=1e-9)
    if xt and xh:
        low, high = confint_proportions_2indep(xt, nt, xh, nh, method="log", compare="ratio")
        assert r.relative_lift_ci == pytest.approx([low - 1, high - 1], rel=1e-9)
    else:
        assert all(math.isnan(v) for v in r.relative_lift_ci)  # no log interval with zero conversions


def test_wilson_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for x, n in [(0, 10), (3, 10), (97, 100), (500, 10_000)]:
        assert stats.wilson(x, n) == pytest.approx(proportion_confint(x, n, method="wilson"), abs=1e-12)


def test_relative_interval_by_delta_method_matches_simulation_of_the_ratio():
    # The log-ratio delta interval against the ratio of two independent normal means (many draws).
    mt, st, mh, sh = 110.0, 2.0, 100.0, 3.0
    rel, ci = stats.ratio_ci(mt, st, mh, sh)
    draws = RNG.normal(mt, st, 400_000) / RNG.normal(mh, sh, 400_000) - 1
    assert rel == pytest.approx(0.1)
    assert ci == pytest.approx(list(np.quantile(draws, [0.025, 0.975])), abs=0.003)


def test_holm_matches_statsmodels():
    p = [0.001, 0.02, 0.04, 0.3, 0.012]
    assert stats.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert math.isnan(stats.holm([0.01, math.nan])[1])


def test_sample_ratio_mismatch_matches_scipy():
    r = stats.sample_ratio_mismatch(8800, 1200, 0.1)
    assert r["p_value"] == pytest.approx(sps.chisquare([8800, 1200], [9000, 1000]).pvalue)
    assert r["mismatch"] and not stats.sample_ratio_mismatch(9010, 990, 0.1)["mismatch"]


def test_cuped_equals_regression_adjustment_and_narrows():
    # CUPED's lift is the treatment coefficient of OLS of y on [1, treated, x - mean(x)] with a pooled slope.
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 1.0, 5000)
    t = rng.random(5000) < 0.8
    y = 2.0 * x + rng.normal(0, 1, 5000) + 0.3 * t
    c = stats.cuped(stats.GroupStats.of(y[t], x[t]), stats.GroupStats.of(y[~t], x[~t]))
    X = np.column_stack([np.ones(5000), t, x - x.mean()])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    assert c.lift == pytest.approx(beta[1], rel=1e-6)
    assert c.extra["theta"] == pytest.approx(beta[2], rel=1e-6)
    plain = stats.compare(stats.GroupStats.of(y[t]), stats.GroupStats.of(y[~t]), "mean")
    width = lambda r: r.lift_ci[1] - r.lift_ci[0]  # noqa: E731
    assert width(c) < 0.5 * width(plain)
    assert c.extra["variance_reduction"] > 0.7


def test_bootstrap_agrees_with_welch():
    rng = np.random.default_rng(4)
    yt, yh = rng.exponential(50, 3000), rng.exponential(45, 800)
    welch = stats.compare(stats.GroupStats.of(yt), stats.GroupStats.of(yh), "mean").lift_ci
    boot = stats.bootstrap_diff(yt, yh, reps=400, seed=1)
    assert boot == pytest.approx(welch, abs=0.6)  # half-width ~4.3: within 15%
    sub = stats.bootstrap_diff(yt, yh, reps=400, seed=1, max_draw=500)  # m-out-of-n, rescaled
    assert sub == pytest.approx(welch, abs=1.0)


# ---------------------------------------------------------------------------------- coverage
LIFT = {"loyal": 0.6, "bargain": 0.0, "gift": 0.25}


def _sums(sim, mask):
    """GroupStats per replicate for customers where ``mask`` (reps, n) holds."""
    y, x = sim["y"], sim["x"]
    m = mask.astype(float)
    cols = [m.sum(1), (y * m).sum(1), (y * y * m).sum(1), (x * m).sum(1), (x * x * m).sum(1), (x * y * m).sum(1)]
    return [stats.GroupStats(*vals) for vals in zip(*cols)]


def _coverage(sim, who, truth, kind="mean", adjust=False):
    treated = sim["treated"] & who
    held = ~sim["treated"] & who
    hits, widths = 0, []
    for t, h in zip(_sums(sim, treated), _sums(sim, held)):
        r = stats.cuped(t, h) if adjust else stats.compare(t, h, kind)
        hits += r.lift_ci[0] <= truth <= r.lift_ci[1]
        widths.append(r.lift_ci[1] - r.lift_ci[0])
    return hits / len(widths), float(np.mean(widths))


@pytest.fixture(scope="module")
def sim():
    return simulate(n=6000, reps=200, lift=LIFT, holdout=0.2, seed=11)


def test_intervals_cover_the_planted_lift_93_to_97_percent(sim):
    """200 campaigns, four estimands each (overall and three personas, one with no lift): 800 intervals.

    Pooled, their coverage must be 93-97% (one binomial standard deviation is 0.8 points there); each
    estimand alone, out of 200, within 90-99% (its own standard deviation is 1.5 points).
    """
    persona = np.broadcast_to(sim["persona"], sim["y"].shape)
    names = list(sim["names"])
    everyone = np.ones_like(sim["treated"])
    true_overall = float(np.mean([LIFT[names[p]] for p in sim["persona"]]))
    each = {"overall": _coverage(sim, everyone, true_overall)[0]}
    for name, lift in LIFT.items():  # per persona, including the one the campaign does nothing for
        each[name] = _coverage(sim, persona == names.index(name), lift)[0]
    pooled = float(np.mean(list(each.values())))
    assert 0.93 <= pooled <= 0.97, each
    assert all(0.90 <= c <= 0.99 for c in each.values()), each


def test_cuped_keeps_coverage_and_narrows_when_the_pre_period_predicts(sim):
    everyone = np.ones_like(sim["treated"])
    names = list(sim["names"])
    truth = float(np.mean([LIFT[names[p]] for p in sim["persona"]]))
    cov_plain, w_plain = _coverage(sim, everyone, truth)
    cov_cuped, w_cuped = _coverage(sim, everyone, truth, adjust=True)
    assert 0.93 <= cov_cuped <= 0.97, cov_cuped
    assert w_cuped < 0.85 * w_plain, (w_cuped, w_plain)


def test_cuped_does_not_narrow_when_the_pre_period_says_nothing():
    sim = simulate(n=6000, reps=40, lift=LIFT, holdout=0.2, seed=12, predictive=0.0)
    sim["x"] = np.random.default_rng(1).poisson(2.0, sim["x"].shape).astype(float)  # noise, unrelated to y
    everyone = np.ones_like(sim["treated"])
    _, w_plain = _coverage(sim, everyone, 0.0)
    _, w_cuped = _coverage(sim, everyone, 0.0, adjust=True)
    assert w_cuped == pytest.approx(w_plain, rel=0.02)


def test_conversion_intervals_cover_too():
    rng = np.random.default_rng(5)
    reps, n, p0, lift = 200, 5000, 0.08, 0.02
    treated = rng.random((reps, n)) >= 0.1
    y = (rng.random((reps, n)) < np.where(treated, p0 + lift, p0)).astype(float)
    hits = 0
    for r in range(reps):
        t, h = y[r][treated[r]], y[r][~treated[r]]
        res = stats.compare(stats.GroupStats.of(t), stats.GroupStats.of(h), "rate")
        hits += res.lift_ci[0] <= lift <= res.lift_ci[1]
    assert 0.93 <= hits / reps <= 0.97, hits / reps
