"""Gamma-Gamma: the published CDNOW spend model, gradient, posterior mean and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from segmint.clv import GammaGamma
from segmint.clv._base import collapse, read_columns
from segmint.errors import DataError, FitError
from segmint.features.summary import rfm_summary


@pytest.fixture(scope="module")
def spend(cdnow_transactions) -> pd.DataFrame:
    """Calibration-period summary of the sample with Lifetimes' monetary_value.

    monetary_value is the mean of the repeat *days'* spend (same-day orders summed) over the
    39-week calibration period: this is the definition that reproduces the published fit
    (946 repeat buyers). Averaging raw repeat orders (959 customers, as same-day orders
    split) gives p 6.20, q 3.82; using the whole 78 weeks gives p 4.68, q 4.19, gamma 24.4.
    """
    return rfm_summary(cdnow_transactions, "id", "date", "dollars", observation_period_end="1997-09-30",
                       freq="D", freq_multiplier=7)


@pytest.fixture(scope="module")
def fitted(spend) -> GammaGamma:
    return GammaGamma().fit(spend)


def test_published_parameters(fitted):
    # Fader, Hardie & Lee (2005), "RFM and CLV": p 6.25, q 3.74, gamma 15.44 on 946 repeat buyers.
    assert fitted.n_samples_ == 946
    assert fitted.params_["p"] == pytest.approx(6.25, abs=0.005)
    assert fitted.params_["q"] == pytest.approx(3.74, abs=0.005)
    assert fitted.params_["v"] == pytest.approx(15.44, abs=0.005)
    assert all(v > 0 for v in fitted.standard_errors_.values())


def test_expected_spend(fitted, spend):
    p, q, v = (fitted.params_[k] for k in ("p", "q", "v"))
    got = fitted.expected_spend(spend)
    assert got.index.equals(spend.index)
    # No repeat purchase: the population mean p v / (q - 1), 35.17 as in Lifetimes' docs.
    np.testing.assert_allclose(got[spend["frequency"] == 0], p * v / (q - 1), rtol=1e-12)
    assert p * v / (q - 1) == pytest.approx(35.17, abs=0.01)
    # Otherwise a weighted mean of the population mean and the customer's own average.
    rep = spend[spend["frequency"] > 0]
    weight = p * rep["frequency"] / (p * rep["frequency"] + q - 1)
    want = (1 - weight) * p * v / (q - 1) + weight * rep["monetary_value"]
    np.testing.assert_allclose(got[rep.index], want, rtol=1e-12)


def test_analytic_gradient_matches_numeric(spend):
    model = GammaGamma()
    data = model._prepare(read_columns(spend, model._columns, "t"))
    data, w = collapse(data)
    for theta in (np.log([2.0, 3.0, 20.0]), np.log([8.0, 5.0, 10.0])):
        err = check_grad(lambda t: model._objective(t, data, w, w.sum())[0],
                         lambda t: model._objective(t, data, w, w.sum())[1], theta)
        assert err < 1e-5


def test_unfittable_spend_is_named(spend):
    with pytest.raises(FitError, match="no customer has frequency > 0"):
        GammaGamma().fit(spend.assign(frequency=0))
    zero = spend.copy()
    zero.loc[zero["frequency"] > 0, "monetary_value"] = 0.0
    with pytest.raises(FitError, match=r"'monetary_value' is 0 for 946 customers"):
        GammaGamma().fit(zero)
    negative = spend.copy()
    negative.loc[1, "monetary_value"] = -5.0
    with pytest.raises(DataError, match=r"'monetary_value' is negative in 1 of 2357 rows \(index 1\)"):
        GammaGamma().fit(negative)


def test_spend_that_depends_on_frequency_is_refused_with_the_cause():
    # Two segments whose spending levels differ while both buy often (as the synthetic shop's
    # bargain hunters and small businesses do): the likelihood grows without end as p -> infinity.
    # Within each segment spend follows the Gamma-Gamma model, and a fit there is fine.
    rng = np.random.default_rng(0)
    frames = []
    for level, x_mean, n in ((20.0, 12, 3000), (300.0, 20, 3000), (70.0, 2, 3000)):
        x = 1 + rng.poisson(x_mean - 1, n)
        nu = rng.gamma(12.0, 4.0 / (11.0 * level), n)
        m = np.array([rng.gamma(4.0, 1 / v, k).mean() for v, k in zip(nu, x)])
        frames.append(pd.DataFrame({"frequency": x, "monetary_value": m}))
    segment = GammaGamma().fit(frames[0])
    assert segment.params_["p"] == pytest.approx(4.0, rel=0.25) and segment.params_["q"] == pytest.approx(12, rel=0.35)
    with pytest.raises(FitError, match=r"do not identify.*correlation of frequency and monetary_value"):
        GammaGamma().fit(pd.concat(frames))


def test_fast_total_equals_the_per_row_sum(spend):
    # fit() sums the log-likelihood by distinct frequency with the constant terms taken out;
    # it must equal the plain per-row sum, value and gradient.
    model = GammaGamma()
    data, w = collapse(model._prepare(read_columns(spend, model._columns, "t")))
    pre = model._precompute(data, w)
    for params in ([2.0, 3.0, 20.0], [8.0, 5.0, 10.0], [6.25, 3.74, 15.44]):
        params = np.array(params)
        total, grad = model._total(params, pre, w, grad=True)
        rows, row_grad = model._loglik(params, data, grad=True)
        assert total == pytest.approx(w @ rows, rel=1e-12)
        assert model._total(params, pre, w, grad=False) == pytest.approx(w @ rows, rel=1e-12)
        np.testing.assert_allclose(grad, row_grad @ w, rtol=1e-9)
