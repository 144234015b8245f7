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
        "ordered_at": ["2024-07-01 00:00:00", "2024-07-02", "2024-08-01", "2026-01-01"],
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


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1899-12-31", dt.date(9999, 12, 31),
                                   (dt.date.today() + dt.timedelta(days=800)).isoformat()])
def test_implausible_as_of_is_refused(value):
    with pytest.raises(ConfigError, match="outside the plausible dates 1900-01-01 to") as err:
        parse_as_of(value)
    assert "ingest.plausible_dates" in str(err.value)


@pytest.mark.parametrize("value", ["99999-01-01", "-0001", "-0001-01-01"])
def test_unrepresentable_as_of_is_not_a_date(value):
    with pytest.raises(ConfigError, match="is not a date"):
        parse_as_of(value)


def test_as_of_range_follows_the_configuration():
    from segmint.config import PlausibleDates

    wide = PlausibleDates.model_validate({"from": "1800-01-01", "to": "2100-12-31"})
    assert parse_as_of("1850-01-01", wide) == dt.datetime(1850, 1, 1)
    assert parse_as_of("2100-12-31T23:00", wide) == dt.datetime(2100, 12, 31, 23)
    with pytest.raises(ConfigError, match="1800-01-01 to 2100-12-31"):
        parse_as_of("2101-01-01", wide)


def _store_with_impossible_order(shop, when: str) -> None:
    # As a store written before ingest checked dates would hold it.
    shop.store.con.raw_sql("INSERT INTO orders (order_id, customer_id, ordered_at, amount) "
                           f"VALUES ('X', 'C1', TIMESTAMP '{when}', 5)")


@pytest.mark.parametrize("when", ["9999-12-31", "99999-01-01"])
def test_default_as_of_on_a_store_with_an_impossible_order_says_how_to_fix(shop, when):
    before = frame(shop)
    _store_with_impossible_order(shop, when)
    with pytest.raises(DataError) as err:
        default_as_of(shop.store.table("orders"))
    message = str(err.value)
    assert "orders table holds 1 order(s) dated after the plausible range" in message
    assert when in message and "--as-of" in message and "implausible_date" in message
    with pytest.raises(DataError, match="--as-of"):
        compute_features(shop.store)
    # an explicit as-of leaves the impossible order out and works
    pd.testing.assert_frame_equal(frame(shop), before)


def test_an_ancient_stored_order_does_not_break_features(shop):
    _store_with_impossible_order(shop, "0001-01-01")
    got = frame(shop)
    assert got.loc["C1", "frequency"] >= 1
    assert default_as_of(shop.store.table("orders")) == dt.datetime(2024, 9, 2)
