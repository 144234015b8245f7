"""Issue 21's CLV numerics: each failing input named there, checked against an independent formula.

The reference values come from mpmath at 50 digits (Fader & Hardie's closed forms with 2F1,
evaluated with arbitrary precision), never from the code under test.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from segmint.clv import (
    MIN_CUSTOMERS,
    BetaGeo,
    GammaGamma,
    ParetoNBD,
    UnidentifiedWarning,
    customer_lifetime_value,
)
from segmint.clv.bgnbd import _growth
from segmint.errors import DataError, FitError

mp.mp.dps = 50

#: Where a penalised (0.001) Pareto/NBD fit of Online Retail in days goes: beta and s run towards 0,
#: so 2F1's argument (alpha - beta) / (alpha + t_x) is within 1e-14 of 1. There the closed form read
#: log P(no purchase) = +5.67 for a customer with T = 189 (true value about -0.86): an impossible
#: log-probability that the optimiser took for a better fit than the true optimum.
NEAR_ONE = (0.27666819160594763, 8.925708912076463, 6.409280367601854e-12, 1.7075934035260186e-13)


def mp_pareto_ll(r, alpha, s, beta, x, tx, T) -> float:
    """Pareto/NBD log-likelihood of one customer (Fader & Hardie 2005 note, eq. for A0), in mpmath."""
    r, alpha, s, beta, x, tx, T = map(mp.mpf, (r, alpha, s, beta, x, tx, T))
    a = r + s + x
    big, second = (alpha, s + 1) if alpha >= beta else (beta, r + x)
    d = abs(alpha - beta)
    a0 = (mp.hyp2f1(a, second, a + 1, d / (big + tx)) / (big + tx) ** a
          - mp.hyp2f1(a, second, a + 1, d / (big + T)) / (big + T) ** a)
    lik = mp.gamma(r + x) * alpha**r * beta**s / mp.gamma(r) * (
        1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / a * a0)
    return float(mp.log(lik))


def mp_bgnbd_growth(r, alpha, a, b, t, x, T) -> float:
    """BG/NBD expected purchases in (T, T + t] given alive, Fader-Hardie-Lee's form, in mpmath."""
    r, alpha, a, b, t, x, T = map(mp.mpf, (r, alpha, a, b, t, x, T))
    if a == 1:
        a = 1 + mp.mpf(10) ** -30  # the limit, 30 digits away
    z = t / (alpha + T + t)
    f = mp.hyp2f1(r + x, b + x, a + b + x - 1, z, maxprec=60000, maxterms=10**6)
    return float((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * f))


def pareto(params) -> ParetoNBD:
    return ParetoNBD.from_dict({"format": "segmint.clv/1", "model": "ParetoNBD",
                                "params": dict(zip(["r", "alpha", "s", "beta"], map(float, params)))})


def rows(*triples) -> dict[str, np.ndarray]:
    arr = np.array(triples, dtype=float)
    return {"frequency": arr[:, 0], "recency": arr[:, 1], "T": arr[:, 2]}


# -- Pareto/NBD: the hypergeometric function near 1 ---------------------------------------------------
def test_pareto_log_probability_of_no_purchase_near_one():
    data = rows((0, 0, 189), (0, 0, 373), (0, 0, 1), (5, 100, 300), (131, 373, 373))
    got = ParetoNBD()._loglik(np.array(NEAR_ONE), data, grad=False)
    assert got[0] <= 0 and got[1] <= 0 and got[2] <= 0
    for i, ll in enumerate(got):
        want = mp_pareto_ll(*NEAR_ONE, data["frequency"][i], data["recency"][i], data["T"][i])
        assert ll == pytest.approx(want, rel=1e-10, abs=1e-10)
    assert got[0] == pytest.approx(-0.857382551645, abs=1e-9)


@pytest.mark.parametrize("params", [(1.0, 1.0, 1.0, 1e-12), (0.5, 1e-12, 0.7, 5.0), (0.3, 1e6, 1e-9, 1e-9),
                                    (0.553, 10.578, 0.606, 11.669), (2.0, 5.0, 5.0, 5.0 + 1e-9)])
def test_pareto_likelihood_equals_mpmath_far_from_the_fitted_region(params):
    data = rows((0, 0, 189), (1, 2, 189), (3, 10, 189), (40, 180, 189), (0, 0, 0.5))
    got = ParetoNBD()._loglik(np.array(params), data, grad=False)
    for i, ll in enumerate(got):
        want = mp_pareto_ll(*params, data["frequency"][i], data["recency"][i], data["T"][i])
        assert ll == pytest.approx(want, rel=1e-9, abs=1e-9), (params, i)
        if data["frequency"][i] == 0:
            assert ll <= 0


@pytest.fixture(scope="module")
def online_retail_days(shared_data) -> pd.DataFrame:
    from segmint.features.summary import rfm_summary

    tx = pd.read_csv(shared_data / "online_retail.csv.gz", dtype={"CustomerID": str, "InvoiceNo": str},
                     usecols=["CustomerID", "Quantity", "UnitPrice", "InvoiceDate"])
    tx = tx[tx.CustomerID.notna() & (tx.Quantity > 0) & (tx.UnitPrice > 0)]
    tx = tx.assign(InvoiceDate=pd.to_datetime(tx.InvoiceDate), amount=tx.Quantity * tx.UnitPrice)
    return rfm_summary(tx, "CustomerID", "InvoiceDate", "amount", freq="D")


@pytest.mark.slow
def test_penalised_online_retail_pareto_fit_reports_a_true_likelihood(online_retail_days):
    # The error message's advice (penalizer 0.001) on Online Retail in days: the fit used to report
    # a log-likelihood above the true maximum, from customers whose log P(no purchase) was > 0.
    X = online_retail_days
    assert len(X) == 4338
    with pytest.warns(UnidentifiedWarning, match="do not identify"):
        model = ParetoNBD(penalizer_coef=0.001).fit(X)
    assert not model.identified_
    params = np.array(list(model.params_.values()))
    data = {c: X[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    ll = model._loglik(params, data, grad=False)
    assert np.isfinite(ll).all()
    assert ll[data["frequency"] == 0].max() <= 0
    assert model.log_likelihood_ == pytest.approx(ll.sum(), rel=1e-12)
    # Re-evaluate the reported optimum with mpmath on a sample of customers (and the T = 189).
    sample = np.random.default_rng(21).choice(len(X), 40, replace=False)
    for i in sample:
        want = mp_pareto_ll(*params, data["frequency"][i], data["recency"][i], data["T"][i])
        assert ll[i] == pytest.approx(want, rel=1e-9, abs=1e-9), X.index[i]
    (at_189,) = model._loglik(params, rows((0, 0, 189)), grad=False)
    assert at_189 == pytest.approx(mp_pareto_ll(*params, 0, 0, 189), abs=1e-9) and at_189 < 0
    # The unpenalised maximum is higher than the penalised fit's likelihood, as a maximum must be.
    with pytest.warns(UnidentifiedWarning):
        best = ParetoNBD().fit(X)
    assert best.log_likelihood_ >= model.log_likelihood_


def test_fit_refuses_an_optimum_with_an_impossible_likelihood(cdnow_summary, monkeypatch):
    # The guard itself: a likelihood that reports P(no purchase) > 1 is a FitError, not a fit.
    real = ParetoNBD._loglik

    def broken(self, params, data, grad):
        out = real(self, params, data, grad)
        if grad:
            return out
        return np.where(data["frequency"] == 0, 5.67, out)

    monkeypatch.setattr(ParetoNBD, "_loglik", broken)
    with pytest.raises(FitError, match=r"log L = 5\.67.*a log-probability must be finite and <= 0"):
        ParetoNBD().fit(cdnow_summary)


# -- Pareto/NBD: one customer at frequency 10,000 -----------------------------------------------------
def test_pareto_likelihood_at_frequency_ten_thousand_is_finite_and_exact():
    data = rows((10_000, 370, 373), (10_000, 1, 373), (20_000, 372.5, 373))
    for params in [(0.553, 10.578, 0.606, 11.669), (1.0, 1.0, 1.0, 1.0), (0.5, 0.1, 2.0, 50.0)]:
        ll, grad = ParetoNBD()._loglik(np.array(params), data, grad=True)
        assert np.isfinite(ll).all() and np.isfinite(grad).all()
        for i in range(3):
            want = mp_pareto_ll(*params, data["frequency"][i], data["recency"][i], data["T"][i])
            assert ll[i] == pytest.approx(want, rel=1e-11), (params, i)


def test_one_customer_is_refused_for_the_real_reason():
    # It used to say "did not converge after 0 iterations" with advice about time units; the
    # likelihood now evaluates, and one customer cannot identify four parameters.
    one = pd.DataFrame({"frequency": [10_000.0], "recency": [370.0], "T": [373.0]})
    for Model in (ParetoNBD, BetaGeo):
        with pytest.raises(FitError, match=r"1 customers cannot identify the model: its 4 parameters"):
            Model().fit(one)


def test_heavy_buyers_fit_without_overflow():
    rng = np.random.default_rng(0)
    n = 60
    T = rng.uniform(300, 373, n)
    x = rng.integers(8_000, 12_000, n).astype(float)
    X = pd.DataFrame({"frequency": x, "recency": T - rng.uniform(0, 2, n), "T": T})
    model = ParetoNBD(penalizer_coef=0.001).fit(X)
    assert model.converged_ and np.isfinite(model.log_likelihood_)
    predicted = model.conditional_expected_purchases(10, X)
    assert np.isfinite(predicted).all() and (predicted > 0).all()


# -- identification ----------------------------------------------------------------------------------
def test_too_few_customers_are_refused(cdnow_summary):
    with pytest.raises(FitError, match="1 customers cannot identify"):
        BetaGeo().fit(cdnow_summary[cdnow_summary.frequency > 0].iloc[:1])
    rng = np.random.default_rng(1)
    five = pd.DataFrame({"frequency": [1.0, 2, 3, 1, 4], "monetary_value": rng.gamma(5, 10, 5)})
    with pytest.raises(FitError, match=r"5 repeat buyers cannot identify the model: its 3 parameters \(p, q, v\)"):
        GammaGamma().fit(five)
    # The smallest accepted size fits.
    assert MIN_CUSTOMERS == 10
    BetaGeo(penalizer_coef=0.01).fit(cdnow_summary.iloc[:MIN_CUSTOMERS].assign(frequency=[0, 1, 2, 0, 3, 1, 0, 2, 1, 4],
                                                                                recency=[0, 5, 20, 0, 30, 2, 0, 9, 25, 33],
                                                                                T=38.0))


def test_undefined_standard_errors_warn_loudly(cdnow_summary):
    # Every customer alike: the purchase rate is known, but not how it varies across customers.
    alike = pd.DataFrame({"frequency": [2.0] * 50, "recency": [30.0] * 50, "T": [38.0] * 50})
    with pytest.warns(UnidentifiedWarning, match=r"the data do not identify .*standard error"):
        model = BetaGeo().fit(alike)
    assert not model.identified_
    assert BetaGeo.from_dict(model.to_dict()).identified_ is False
    assert BetaGeo().fit(cdnow_summary).identified_


# -- BG/NBD: large frequencies and a = 1 ----------------------------------------------------------------
def test_bgnbd_large_frequency_just_before_T_is_finite(cdnow_summary):
    model = BetaGeo().fit(cdnow_summary)
    r, alpha, a, b = (model.params_[p] for p in ("r", "alpha", "a", "b"))
    X = pd.DataFrame({"frequency": [2000.0, 5000.0, 20000.0], "recency": [37.86] * 3, "T": [38.86] * 3})
    got = model.conditional_expected_purchases(39, X)
    assert np.isfinite(got).all() and (got >= 0).all()
    for x in (2000.0, 5000.0, 20000.0):
        growth = _growth(r, alpha, a, b, np.float64(39.0), np.float64(x), np.float64(38.86))
        assert growth == pytest.approx(mp_bgnbd_growth(r, alpha, a, b, 39.0, x, 38.86), rel=1e-9)
    # ... and CLV stays finite too.
    clv = customer_lifetime_value(model, X.assign(monetary_value=30.0), 12, 0.01, "W")
    assert np.isfinite(clv).all()


@pytest.mark.parametrize("a", [1.0, 1.0 + 3e-6, 1.0 - 1e-12])
def test_bgnbd_a_equal_to_one_gives_the_finite_limit(a):
    model = BetaGeo.from_dict({"format": "segmint.clv/1", "model": "BetaGeo",
                               "params": {"r": 0.5, "alpha": 3.0, "a": a, "b": 2.0}})
    curve = model.expected_purchases(np.array([1.0, 39.0, 260.0]))
    X = pd.DataFrame({"frequency": [0.0, 2, 50], "recency": [0.0, 30.43, 38.0], "T": [38.86] * 3})
    cond = model.conditional_expected_purchases(39, X)
    assert np.isfinite(curve).all() and np.isfinite(cond).all()
    for t, got in zip((1.0, 39.0, 260.0), curve):
        assert got == pytest.approx(mp_bgnbd_growth(0.5, 3.0, a, 2.0, t, 0, 0), rel=1e-8)
    for i, (x, T) in enumerate([(0, 38.86), (2, 38.86), (50, 38.86)]):
        given_alive = mp_bgnbd_growth(0.5, 3.0, a, 2.0, 39.0, x, T)
        assert cond.iloc[i] / model.probability_alive(X).iloc[i] == pytest.approx(given_alive, rel=1e-8)


# -- lifetime value without a spend model ------------------------------------------------------------------
@pytest.mark.parametrize("bad, problem", [(np.nan, "is NaN or infinite"), (-5.0, "is negative")])
def test_clv_refuses_nan_or_negative_spend_without_a_spend_model(cdnow_summary, bad, problem):
    model = BetaGeo().fit(cdnow_summary)
    X = cdnow_summary.iloc[:4].assign(monetary_value=[10.0, bad, 3.0, 0.0])
    with pytest.raises(DataError, match=rf"'monetary_value' {problem} in 1 of 4 rows \(index 2\)"):
        customer_lifetime_value(model, X, 12, 0.01, "W")
    fine = customer_lifetime_value(model, X.assign(monetary_value=[10.0, 0.0, 3.0, 0.0]), 12, 0.01, "W")
    assert np.isfinite(fine).all() and (fine >= 0).all()
