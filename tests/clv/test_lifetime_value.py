"""customer_lifetime_value: explicit time unit, discounting, agreement across units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.clv import PERIODS_PER_MONTH, BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value
from segmint.errors import ConfigError, DataError
from segmint.features.summary import rfm_summary


@pytest.fixture(scope="module")
def weekly(cdnow_transactions) -> pd.DataFrame:
    return rfm_summary(cdnow_transactions, "id", "date", "dollars", observation_period_end="1997-09-30",
                       freq="D", freq_multiplier=7)


@pytest.fixture(scope="module")
def models(weekly):
    return BetaGeo().fit(weekly), GammaGamma().fit(weekly)


def test_same_customers_in_days_and_weeks_get_the_same_value(weekly, models):
    bg_weeks, gg = models
    daily = weekly.assign(recency=weekly["recency"] * 7, T=weekly["T"] * 7)
    bg_days = BetaGeo().fit(daily)
    in_weeks = customer_lifetime_value(bg_weeks, weekly, 12, 0.01, "W", spend_model=gg)
    in_days = customer_lifetime_value(bg_days, daily, 12, 0.01, "D", spend_model=gg)
    np.testing.assert_allclose(in_days, in_weeks, rtol=1e-3)
    # Declaring the wrong unit is what inflates CLV (as in Lifetimes' docs): a weekly model told
    # it holds days predicts 30 weeks of purchases per month.
    wrong = customer_lifetime_value(bg_weeks, weekly, 12, 0.01, "D", spend_model=gg)
    assert wrong.sum() > 3 * in_weeks.sum()


def test_matches_direct_sum(weekly, models):
    bg, gg = models
    X = weekly.iloc[:5]
    got = customer_lifetime_value(bg, X, 3, 0.02, "W", spend_model=gg)
    k = PERIODS_PER_MONTH["W"]
    cum = [np.zeros(5)] + [bg.conditional_expected_purchases(m * k, X).to_numpy() for m in (1, 2, 3)]
    want = sum(gg.expected_spend(X).to_numpy() * (cum[m] - cum[m - 1]) / 1.02**m for m in (1, 2, 3))
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-12)
    assert got.name == "clv" and got.index.equals(X.index)


def test_discounting_and_horizon(weekly, models):
    bg, gg = models
    X = weekly.iloc[:50]
    base = customer_lifetime_value(bg, X, 12, 0.0, "W", spend_model=gg)
    # Undiscounted: spend times expected purchases over 12 months.
    np.testing.assert_allclose(
        base, gg.expected_spend(X) * bg.conditional_expected_purchases(12 * PERIODS_PER_MONTH["W"], X), rtol=1e-9)
    discounted = customer_lifetime_value(bg, X, 12, 0.05, "W", spend_model=gg)
    longer = customer_lifetime_value(bg, X, 24, 0.05, "W", spend_model=gg)
    assert (discounted < base).all() and (longer > discounted).all()


def test_monetary_column_and_pareto(weekly):
    pn = ParetoNBD().fit(weekly)
    clv = customer_lifetime_value(pn, weekly.iloc[:10], 6, 0.01, "W")
    assert (clv >= 0).all() and (clv[weekly.iloc[:10]["monetary_value"] == 0] == 0).all()


def test_errors(weekly, models):
    bg, gg = models
    with pytest.raises(ConfigError, match="did you mean 'W'"):
        customer_lifetime_value(bg, weekly, 12, 0.01, "w", spend_model=gg)
    with pytest.raises(ConfigError, match="horizon"):
        customer_lifetime_value(bg, weekly, 0, 0.01, "W", spend_model=gg)
    with pytest.raises(ConfigError, match="discount_rate"):
        customer_lifetime_value(bg, weekly, 12, -1.0, "W", spend_model=gg)
    with pytest.raises(DataError, match="monetary_value"):
        customer_lifetime_value(bg, weekly.drop(columns="monetary_value"), 12, 0.01, "W")
    with pytest.raises(TypeError):
        customer_lifetime_value(bg, weekly, 12, 0.01)  # the time unit has no default
