"""The synthetic shop: reproducibility, schema, integrity and planted persona differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.datasets import PERSONA_NAMES, make_shop, write_shop
from segmint.datasets import shop as shop_module
from segmint.errors import ConfigError

N = 3_000


@pytest.fixture(scope="module")
def shop():
    return make_shop(N, seed=11)


@pytest.fixture(scope="module")
def orders(shop):
    return shop.orders.merge(shop.ground_truth, on="customer_id")


def test_same_seed_same_frames_and_other_seed_differs():
    a, b, c = make_shop(400, seed=5), make_shop(400, seed=5), make_shop(400, seed=6)
    for name, frame in a.frames().items():
        pd.testing.assert_frame_equal(frame, b.frames()[name])
    assert not a.orders.equals(c.orders)
    assert not a.customers["email"].equals(c.customers["email"])


def test_files_are_byte_identical_across_runs_and_between_make_and_write(tmp_path, monkeypatch):
    # Small chunks so that several chunks (and their order-id offsets) are exercised.
    monkeypatch.setattr(shop_module, "CHUNK", 300)
    make_shop(1_000, seed=2).write(tmp_path / "made")
    write_shop(tmp_path / "w1", 1_000, seed=2)
    write_shop(tmp_path / "w2", 1_000, seed=2)
    write_shop(tmp_path / "other", 1_000, seed=3)
    names = ["customers.csv", "orders.csv", "events.csv", "responses.csv", "ground_truth.csv", "README.txt"]
    for name in names:
        made = (tmp_path / "made" / name).read_bytes()
        assert made == (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes(), name
    assert (tmp_path / "other" / "orders.csv").read_bytes() != (tmp_path / "w1" / "orders.csv").read_bytes()


def test_columns_and_dtypes(shop):
    assert list(shop.customers.columns) == [
        "customer_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "signup_at",
        "gender",
        "age",
        "region",
        "city",
        "country",
        "is_business",
        "industry",
        "company_size",
        "marketing_consent",
        "preferred_channel",
    ]
    assert list(shop.orders.columns) == [
        "order_id",
        "customer_id",
        "ordered_at",
        "amount",
        "quantity",
        "category",
        "channel",
        "promo",
        "returned",
    ]
    assert list(shop.events.columns) == ["customer_id", "occurred_at", "event", "properties"]
    assert list(shop.responses.columns) == ["customer_id", "answered_at", "question", "answer"]
    assert list(shop.ground_truth.columns) == ["customer_id", "persona"]
    c, o = shop.customers, shop.orders
    assert c["signup_at"].dtype == "datetime64[s]" and o["ordered_at"].dtype == "datetime64[s]"
    assert c["age"].dtype == np.int64 and o["quantity"].dtype == np.int64 and o["amount"].dtype == np.float64
    for col in ("is_business", "marketing_consent"):
        assert c[col].dtype == bool
    assert o["promo"].dtype == bool and o["returned"].dtype == bool
    assert pd.api.types.is_string_dtype(c["customer_id"]) and pd.api.types.is_string_dtype(o["order_id"])
    assert c["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert set(c["gender"]) <= {"F", "M", "X"} and c["age"].between(18, 90).all()
    assert c["region"].nunique() == 8
    assert set(o["category"]) == {
        "Home",
        "Fashion",
        "Beauty",
        "Electronics",
        "Toys",
        "Garden",
        "Food",
        "Office",
    }
    assert set(o["channel"]) == {"web", "app", "store", "phone"}
    assert (
        (o["amount"] > 0).all() and (o["amount"] == o["amount"].round(2)).all() and (o["quantity"] >= 1).all()
    )
    assert set(shop.ground_truth["persona"]) == set(PERSONA_NAMES)


def test_keys_unique_and_pii_plausible(shop):
    c = shop.customers
    assert c["customer_id"].is_unique and c["email"].is_unique and shop.orders["order_id"].is_unique
    assert c["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@([a-z0-9-]+\.)?example(\.[a-z]+)?").all()
    assert c["phone"].str.fullmatch(r"\+447700900\d{3}").all()
    business = c["is_business"]
    assert c.loc[business, "industry"].notna().all() and c.loc[~business, "industry"].isna().all()
    assert set(c.loc[business, "company_size"]) <= {"1-9", "10-49", "50-249", "250+"}
    assert c.loc[~business, "company_size"].isna().all()


def test_referential_integrity_and_time_bounds(shop):
    start, end = pd.Timestamp(shop.start), pd.Timestamp(shop.end)
    ids = set(shop.customers["customer_id"])
    for name in ("orders", "events", "responses", "ground_truth"):
        assert set(shop.frames()[name]["customer_id"]) <= ids, name
    signup = shop.orders["customer_id"].map(shop.customers.set_index("customer_id")["signup_at"])
    assert (shop.orders["ordered_at"] >= signup).all()
    assert (shop.orders["ordered_at"] < end).all()
    assert (shop.customers["signup_at"] >= start).all()
    assert shop.events["occurred_at"].between(start, end, inclusive="left").all()
    assert shop.responses["answered_at"].between(start, end, inclusive="left").all()
    assert shop.orders["customer_id"].nunique() == N  # everyone has a first order


def test_bounded_event_and_response_volumes(shop):
    ratio = len(shop.events) / len(shop.orders)
    assert 2 <= ratio <= 4
    months = (pd.Timestamp(shop.end) - shop.customers["signup_at"]).dt.days.sum() / 30.4
    assert len(shop.events) / months < 5
    assert set(shop.events["event"]) == {
        "email_sent",
        "email_open",
        "email_click",
        "web_visit",
        "app_open",
        "support_contact",
    }
    assert shop.events["properties"].str.match(r"^\{.*\}$").all()
    r = shop.responses
    text = r["question"] == "feedback"  # free text (issue 23); every other question is a number
    assert text.any() and r.loc[text, "answer"].str.len().gt(20).all()
    r = r[~text]
    answers = r["answer"].astype(int)
    assert answers[r["question"] == "nps"].between(0, 10).all()
    assert answers[r["question"] != "nps"].between(1, 5).all()
    consent = shop.customers.set_index("customer_id")["marketing_consent"]
    assert consent[shop.events.loc[shop.events["event"] == "email_sent", "customer_id"].unique()].all()


def _per_persona(orders, column, how):
    return orders.groupby("persona")[column].agg(how)


def test_personas_differ_in_spend_promotion_and_mix(orders):
    mean_amount = _per_persona(orders, "amount", "mean")
    assert mean_amount["loyal_high_spender"] > 3 * mean_amount["bargain_hunter"]
    assert mean_amount["small_business"] == mean_amount.max()
    promo = _per_persona(orders, "promo", "mean")
    assert promo["bargain_hunter"] > 0.7 and promo["loyal_high_spender"] < 0.15
    office = orders.assign(office=orders["category"] == "Office").groupby("persona")["office"].mean()
    assert office.idxmax() == "small_business"
    assert _per_persona(orders, "quantity", "mean").idxmax() == "small_business"
    store = orders.assign(store=orders["channel"] == "store").groupby("persona")["store"].mean()
    assert store.idxmax() == "occasional_gift_buyer"
    gift = orders[orders["persona"] == "occasional_gift_buyer"]["ordered_at"]
    assert gift.dt.month.isin([11, 12]).mean() > 0.7


def test_churn_and_new_customers(shop, orders):
    end = pd.Timestamp(shop.end)
    last = orders.groupby(["persona", "customer_id"])["ordered_at"].max()
    recency = (end - last).dt.days.groupby("persona").median()
    assert recency["churned"] > 600
    assert 180 < recency["lapsed"] < 500
    for persona in ("loyal_high_spender", "bargain_hunter", "small_business", "new_customer"):
        assert recency[persona] < 60, persona
    gt = shop.ground_truth.set_index("customer_id")["persona"]
    by_persona = orders.groupby("persona")["ordered_at"].max()
    assert by_persona["churned"] < end - pd.Timedelta(days=600)
    assert by_persona["lapsed"] < end - pd.Timedelta(days=170)
    signup = shop.customers.set_index("customer_id")["signup_at"]
    new = signup[gt == "new_customer"]
    assert (new >= end - pd.Timedelta(days=60)).all()
    assert (signup[gt != "new_customer"] < end - pd.Timedelta(days=300)).all()
    # Buy till you die: some of the steady personas also went quiet (dropout after a purchase).
    quiet = (end - last).dt.days.groupby("persona").apply(lambda d: (d > 180).mean())
    assert 0.01 < quiet["loyal_high_spender"] < 0.4


def test_demographics_engagement_and_surveys_differ(shop):
    gt = shop.ground_truth.set_index("customer_id")["persona"]
    c = shop.customers.set_index("customer_id").join(gt)
    age = c.groupby("persona")["age"].mean()
    assert age["occasional_gift_buyer"] > age["bargain_hunter"] + 10
    assert c.groupby("persona")["is_business"].mean()["small_business"] == 1.0
    london = (c["region"] == "London").groupby(c["persona"]).mean()
    assert london["loyal_high_spender"] > london["bargain_hunter"]
    e = shop.events.join(gt, on="customer_id")
    sent = e[e["event"] == "email_sent"].groupby("persona").size()
    opened = e[e["event"] == "email_open"].groupby("persona").size()
    rate = opened / sent
    assert rate["loyal_high_spender"] > 0.4
    assert rate["churned"] < 0.1
    r = shop.responses.join(gt, on="customer_id")
    nps = r[r["question"] == "nps"].assign(a=lambda d: d["answer"].astype(int)).groupby("persona")["a"].mean()
    assert nps["loyal_high_spender"] > nps["lapsed"] > nps["churned"]
    price = r[r["question"] == "price_sensitivity"].assign(a=lambda d: d["answer"].astype(int))
    assert price.groupby("persona")["a"].mean().idxmax() == "bargain_hunter"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_customers": 0},
        {"n_customers": 2.5},
        {"seed": -1},
        {"start": "yesterday"},
        {"start": "2025-06-01"},
        {"dirty_fraction": 0},
        {"dirty_fraction": 0.9},
    ],
)
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        make_shop(**{"n_customers": 10, **kwargs})


def test_bad_format_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="format"):
        write_shop(tmp_path, 10, seed=0, format="xlsx")
    with pytest.raises(ConfigError, match="format"):
        make_shop(10).write(tmp_path, format="json")
