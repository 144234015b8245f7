"""Point in time: no feature sees a row at or after as_of; the default as_of; parsing."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from .conftest import AS_OF

from segmint.errors import ConfigError, DataError
from segmint.features import compute_features
from segmint.features.asof import default_as_of, parse_as_of


def frame(ws, as_of=AS_OF) -> pd.DataFrame:
    return compute_features(ws.store, as_of).to_pyarrow().to_pandas().set_index("customer_id").sort_index()


def test_future_rows_change_nothing(shop):
    before = frame(shop)
    # Rows at as_of exactly and later: orders (also of new customers and returns), events, answers,
    # a new category and channel, a customer signing up later.
    shop.ingest("customers", pd.DataFrame({"customer_id": ["C9"], "signup_at": ["2024-07-01"], "age": [40]}))
    shop.ingest("orders", pd.DataFrame({
        "order_id": ["F1", "F2", "F3", "F4"], "customer_id": ["C1", "C7", "C9", "C2"],
        "ordered_at": ["2024-07-01 00:00:00", "2024-07-02", "2024-08-01", "2030-01-01"],
        "amount": ["500", "60", "70", "-5"], "category": ["Garden", "Books", "Toys", "Books"],
        "channel": ["phone", "web", "web", "web"], "promo": [True, True, False, False],
        "returned": [False, False, False, True]}))
    shop.ingest("events", pd.DataFrame({
        "customer_id": ["C1", "C7", "C2"], "occurred_at": ["2024-07-01 00:00:00", "2024-07-03", "2024-12-01"],
        "event": ["email_sent", "web_visit", "email_open"], "properties": [None] * 3}))
    shop.ingest("responses", pd.DataFrame({
        "customer_id": ["C1", "C7"], "answered_at": ["2024-07-01 00:00:00", "2024-09-01"],
        "question": ["nps", "new question"], "answer": ["0", "x"]}))
    after = frame(shop)
    pd.testing.assert_frame_equal(before, after)
    # ...while a later as_of does see them.
    later = frame(shop, "2024-07-02")
    # O17 (fixture) and F1 are at 2024-07-01 00:00, before the later as_of; C9 signed up then.
    assert later.loc["C1", "frequency"] == before.loc["C1", "frequency"] + 2
    assert "C9" in later.index and "channel_share_phone" in later.columns


def test_default_as_of_is_the_day_after_the_last_order(shop):
    # The 2024-09-01 order of C2 is the last.
    assert default_as_of(shop.store.table("orders")) == dt.datetime(2024, 9, 2)
    got = compute_features(shop.store).to_pyarrow().to_pandas().set_index("customer_id")
    assert got.loc["C2", "recency_days"] == pytest.approx(1.0)


def test_default_as_of_without_orders_says_what_to_do(ws):
    with pytest.raises(DataError, match="--as-of"):
        compute_features(ws.store)


@pytest.mark.parametrize("value, expected", [
    ("2024-03-01", dt.datetime(2024, 3, 1)),
    (dt.date(2024, 3, 1), dt.datetime(2024, 3, 1)),
    (pd.Timestamp("2024-03-01 10:00"), dt.datetime(2024, 3, 1, 10)),
    (dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))), dt.datetime(2024, 3, 1, 10)),
])
def test_parse_as_of(value, expected):
    assert parse_as_of(value) == expected


def test_bad_as_of_is_a_config_error():
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_as_of("01/03/2024x")
