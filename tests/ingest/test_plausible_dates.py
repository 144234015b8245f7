"""Dates outside ingest.plausible_dates are quarantined as implausible_date, in every table and source."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmint.config import Config, PlausibleDates
from segmint.errors import ConfigError
from segmint.features import compute_features
from segmint.ingest.checks import describe_reason

TODAY = dt.date.today()
SOON = (TODAY + dt.timedelta(days=30)).isoformat()
TWO_YEARS = (TODAY + dt.timedelta(days=800)).isoformat()
IMPOSSIBLE = ["9999-12-31", "0001-01-01", "99999-01-01", "-0001-01-01", "1899-12-31 23:59:59", TWO_YEARS]


def test_impossible_order_dates_are_quarantined_and_features_still_work(ws, tmp_path):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    good = ["2024-01-05", "1900-01-01", SOON]
    dates = good + IMPOSSIBLE
    src = tmp_path / "orders.csv"
    src.write_text("order_id,customer_id,ordered_at,amount\n"
                   + "".join(f"O{i},C1,{d},10\n" for i, d in enumerate(dates)))
    r = ws.ingest("orders", src)
    assert r.rows_read == len(dates) and r.rows_new == len(good)
    assert r.quarantine_reasons == {"implausible_date": len(IMPOSSIBLE)}
    assert "plausible" in r.to_dict()["quarantine_reason_descriptions"]["implausible_date"]
    stored = ws.store.table("orders").ordered_at.cast("string").to_pyarrow().to_pylist()
    assert not any(s.startswith(("9999", "0001", "99999", "1899")) for s in stored)
    # the default as-of (the day after the last order) no longer overflows
    features = compute_features(ws.store).to_pyarrow()
    assert features.num_rows == 1


def test_unparseable_negative_year_is_quarantined_too(ws):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    r = ws.ingest("orders", pd.DataFrame({"order_id": ["A", "B"], "customer_id": ["C1", "C1"],
                                          "ordered_at": ["-0001", "2024-01-01"], "amount": ["1", "2"]}))
    assert r.rows_new == 1 and r.rows_quarantined == 1


def test_every_timestamp_column_of_every_table(ws):
    r = ws.ingest("customers", pd.DataFrame({"customer_id": ["C1", "C2", "C3"],
                                             "signup_at": ["2020-01-01", "9999-12-31", None]}))
    assert r.rows_new == 2 and r.quarantine_reasons == {"implausible_date": 1}
    r = ws.ingest("events", pd.DataFrame({"customer_id": ["C1", "C1"], "occurred_at": ["0001-01-01", "2024-01-01"],
                                          "event": ["web_visit", "web_visit"]}))
    assert r.rows_new == 1 and r.quarantine_reasons == {"implausible_date": 1}
    r = ws.ingest("responses", pd.DataFrame({"customer_id": ["C1", "C1"], "answered_at": ["2024-01-01", TWO_YEARS],
                                             "question": ["nps", "nps"], "answer": ["9", "10"]}))
    assert r.rows_new == 1 and r.quarantine_reasons == {"implausible_date": 1}


def test_typed_timestamps_from_parquet_and_frames(ws, tmp_path):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    stamps = pa.array([dt.datetime(9999, 12, 31), dt.datetime(1, 1, 1), dt.datetime(2024, 3, 1)], pa.timestamp("us"))
    table = pa.table({"order_id": ["P1", "P2", "P3"], "customer_id": ["C1"] * 3, "ordered_at": stamps,
                      "amount": [1.0, 2.0, 3.0]})
    pq.write_table(table, tmp_path / "orders.parquet")
    r = ws.ingest("orders", tmp_path / "orders.parquet")
    assert r.rows_new == 1 and r.quarantine_reasons == {"implausible_date": 2}
    frame = table.to_pandas(date_as_object=True, timestamp_as_object=True)
    frame["order_id"] = ["F1", "F2", "F3"]
    r = ws.ingest("orders", frame)
    assert r.rows_new == 1 and r.quarantine_reasons == {"implausible_date": 2}


def test_date_format_and_time_zone_paths(ws, tmp_path):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    src = tmp_path / "orders.csv"
    src.write_text("order_id,customer_id,ordered_at,amount\nA,C1,31/12/9999,1\nB,C1,01/02/2024,1\n")
    r = ws.ingest("orders", src, date_format="%d/%m/%Y")
    assert r.rows_new == 1 and r.rows_quarantined == 1
    src.write_text("order_id,customer_id,ordered_at,amount\nC,C1,9999-12-31 12:00,1\nD,C1,2024-02-01 12:00,1\n")
    r = ws.ingest("orders", src, timezone="Europe/London")
    assert r.rows_new == 1 and r.rows_quarantined == 1


def test_line_items_with_an_impossible_date(ws, tmp_path):
    src = tmp_path / "retail.csv"
    src.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                   "536365,85123A,HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
                   "536366,71053,LANTERN,6,9999-12-01 08:26:00,3.39,17850.0,United Kingdom\n")
    r = ws.ingest("orders", src, preset="online-retail")
    assert r.quarantine_reasons == {"implausible_date": 1} and r.orders_built == 1


def test_the_range_is_configurable(ws, tmp_path):
    ws.config = Config.parse({"ingest": {"plausible_dates": {"from": "1800-01-01", "to": "2030-12-31"}}})
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    r = ws.ingest("orders", pd.DataFrame({
        "order_id": ["A", "B", "C", "D"], "customer_id": ["C1"] * 4,
        "ordered_at": ["1850-06-01", "2030-12-31 23:59:59", "2031-01-01", "1799-12-31"], "amount": ["1"] * 4}))
    assert r.rows_new == 2 and r.quarantine_reasons == {"implausible_date": 2}


@pytest.mark.parametrize("raw, first, last", [
    ({}, dt.date(1900, 1, 1), dt.date(2025, 2, 28)),  # 29 February + 1y
    ({"from": "-120y", "to": "today"}, dt.date(1904, 2, 29), dt.date(2024, 2, 29)),
    ({"from": dt.date(2000, 1, 1), "to": "+6m"}, dt.date(2000, 1, 1), dt.date(2024, 8, 29)),
    ({"to": "+30d"}, dt.date(1900, 1, 1), dt.date(2024, 3, 30)),
    ({"to": "+2w"}, dt.date(1900, 1, 1), dt.date(2024, 3, 14)),
])
def test_range_shapes(raw, first, last):
    p = PlausibleDates.model_validate(raw)
    assert p.dates(dt.date(2024, 2, 29)) == (first, last)
    lo, end = p.bounds(dt.date(2024, 2, 29))
    assert lo == dt.datetime.combine(first, dt.time()) and end == dt.datetime.combine(last, dt.time()) + dt.timedelta(1)


@pytest.mark.parametrize("raw, message", [
    ({"from": "yesterday"}, "neither a date"),
    ({"to": 5}, "neither a date"),
    ({"from": "2030-01-01", "to": "2020-01-01"}, r"'from' \(2030-01-01\) is after 'to'"),
    ({"form": "2000-01-01"}, "did you mean 'from'"),
])
def test_bad_range_is_a_config_error(raw, message):
    with pytest.raises(ConfigError, match=message) as err:
        Config.parse({"ingest": {"plausible_dates": raw}})
    assert "ingest.plausible_dates" in str(err.value)


def test_reason_is_in_the_catalogue():
    assert "1900-01-01" in describe_reason("implausible_date")
