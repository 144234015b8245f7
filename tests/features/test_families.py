"""Every feature family matches a plain pandas reference on small hand-made and generated shops."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from .conftest import AS_OF, assert_same, reference_for

from segmint.config import FeatureConfig
from segmint.features import compute_features
from segmint.features.snapshot import compute_with_context


def engine(ws, as_of=AS_OF, settings=None):
    return compute_features(ws.store, as_of, settings).to_pyarrow().to_pandas()


def test_hand_made_shop_matches_reference(shop):
    assert_same(engine(shop), reference_for(shop))


@pytest.mark.parametrize("as_of", [dt.datetime(2024, 3, 1), dt.datetime(2024, 2, 10, 8, 0, 0),
                                   dt.datetime(2023, 11, 15, 12, 0), dt.datetime(2025, 1, 1)])
def test_other_dates_match_reference(shop, as_of):
    assert_same(engine(shop, as_of), reference_for(shop, as_of))


def test_other_windows_and_bins_match_reference(shop):
    settings = FeatureConfig(windows=[7, 60], rfm_bins=3)
    got = engine(shop, settings=settings)
    assert {"orders_last_7", "spend_last_60"} <= set(got.columns) and "orders_last_30" not in got.columns
    assert_same(got, reference_for(shop, windows=(7, 60), bins=3))
    assert set(got.r_score.dropna()) <= {1, 2, 3}


def test_hand_checked_values(shop):
    got = engine(shop).set_index("customer_id")
    c1 = got.loc["C1"]
    # O3 has returned = null: a purchase. O5 is the return of O4.
    assert c1.frequency == 4 and c1.monetary_total == pytest.approx(200.5)
    assert c1.returned_amount == pytest.approx(30.0) and c1.return_share == pytest.approx(0.2)
    assert c1.recency_days == pytest.approx(10 + 5.25 / 24)  # 2024-06-20 18:45 -> 2024-07-01
    assert c1.category_share_home_garden == pytest.approx(0.25) and c1.top_category == "Books"
    assert c1.email_open_rate == 1.0 and c1.web_visits_last_30 == 2
    assert c1.survey_nps == 9.0 and c1.survey_favourite_colour == "blue"  # the 2024-07-05 answer is later
    assert c1.rfm_score == "555" and c1.age_band == "<25" and c1.loyalty_tier == "gold"
    assert "email" not in got.columns  # personal data is not a feature
    c2 = got.loc["C2"]
    assert c2.email_open_rate == 2.0  # opened twice: a rate of counts, not clipped
    assert c2.spend_trend_90d == -1.0  # bought only 90-180 days ago
    assert c2.mean_quantity == 1.0  # O8 has no quantity
    # C7: signed up, never bought. Zeros for counts, nulls for the rest.
    c7 = got.loc["C7"]
    assert c7.frequency == 0 and c7.monetary_total == 0 and c7.orders_last_365 == 0
    assert pd.isna(c7.recency_days) and pd.isna(c7.rfm_score) and c7.tenure_days == pytest.approx(1.0)
    # C4's only purchase ties... a single order: no cadence; its return is not a purchase.
    c4 = got.loc["C4"]
    assert c4.frequency == 1 and pd.isna(c4.mean_days_between_orders)


def test_customer_base(shop):
    ids = set(engine(shop).customer_id)
    # C5 signs up after as_of; C8 is known only from an order; C3 has no signup date.
    assert ids == {"C1", "C2", "C3", "C4", "C6", "C7", "C8"}
    early = set(engine(shop, dt.datetime(2023, 3, 1)).customer_id)
    assert early == {"C1", "C3", "C6"}


def test_generated_shop_matches_reference(ws):
    from segmint.datasets import make_shop

    shop = make_shop(120, seed=4)
    for name in ("customers", "orders", "events", "responses"):
        ws.ingest(name, getattr(shop, name))
    as_of = dt.datetime(2025, 6, 1)
    got = engine(ws, as_of)
    ref = reference_for(ws, as_of)
    assert_same(got, ref)
    assert {"email_open_rate", "survey_nps", "channel_share_web", "category_share_food"} <= set(got.columns)


def test_orders_only_workspace_leaves_families_out(ws):
    import pandas as pd

    ws.ingest("orders", pd.DataFrame({"order_id": ["A", "B", "C"], "customer_id": ["X", "X", "Y"],
                                      "ordered_at": ["2024-01-01", "2024-02-01", "2024-03-01"],
                                      "amount": ["5", "6", "7"]}))
    t, ctx = compute_with_context(ws.store)
    got = t.to_pyarrow().to_pandas()
    assert not {"email_open_rate", "top_category", "promo_share", "channel_share_web"} & set(got.columns)
    assert ctx.skipped["engagement"] == "no events before as_of" and "survey" in ctx.skipped
    assert "more than one day" in ctx.skipped["predictive"]
    assert_same(got, reference_for(ws, ctx.as_of))


def test_customers_with_returns_only_match_reference(ws):
    # Purchases and returns are aggregated apart (features.orders): a customer whose only orders
    # are returns is still in the base, with no purchase, a return share of 1 and the returned amount.
    ws.ingest("customers", pd.DataFrame({"customer_id": ["S", "R"], "signup_at": ["2024-01-01", "2024-01-01"]}))
    ws.ingest("orders", pd.DataFrame({
        "order_id": ["A", "B", "C", "E"], "customer_id": ["S", "S", "R", "S"],
        "ordered_at": ["2024-02-01", "2024-02-01 10:00", "2024-03-01", "2024-04-01"],
        "amount": ["10", "15", "-8", "-10"], "returned": [False, False, True, True]}))
    t, ctx = compute_with_context(ws.store, "2024-05-01")
    got = t.to_pyarrow().to_pandas()
    assert_same(got, reference_for(ws, ctx.as_of))
    got = got.set_index("customer_id")
    assert set(got.index) == {"S", "R"}
    r = got.loc["R"]
    assert r.frequency == 0 and r.monetary_total == 0 and r.returned_amount == 8.0
    assert r.return_share == 1.0 and pd.isna(r.recency_days) and pd.isna(r.clv_frequency)
    s = got.loc["S"]
    assert s.frequency == 2 and s.return_share == pytest.approx(1 / 3) and s.clv_frequency == 0
