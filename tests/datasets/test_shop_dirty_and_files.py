"""Planted bad rows are exactly what the counts say; files read back as the frames."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segmint.datasets import DIRTY_KINDS, make_shop, write_shop

N = 2_000  # one chunk, so the clean rows of the dirty shop are the clean shop's rows


@pytest.fixture(scope="module")
def clean():
    return make_shop(N, seed=4)


@pytest.fixture(scope="module")
def dirty():
    return make_shop(N, seed=4, dirty=True, dirty_fraction=0.02)


def _bad_order_masks(orders: pd.DataFrame, known_ids: set[str]) -> dict[str, pd.Series]:
    """Classify rows the way an ingest would, independently of the generator."""
    parsed = pd.to_datetime(orders["ordered_at"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    exact_dup = orders.duplicated()
    id_dup = orders["order_id"].duplicated() & ~exact_dup
    return {
        "orders_missing_customer_id": orders["customer_id"].isna(),
        "orders_negative_amount": orders["amount"] < 0,
        "orders_missing_amount": orders["amount"].isna(),
        "orders_duplicate_row": exact_dup,
        "orders_bad_date": parsed.isna(),
        "orders_unknown_customer": orders["customer_id"].notna() & ~orders["customer_id"].isin(known_ids),
        "orders_duplicate_order_id": id_dup,
    }


def test_dirty_counts_match_an_independent_classification(clean, dirty):
    assert set(dirty.dirty_counts) == set(DIRTY_KINDS) and clean.dirty_counts == {}
    masks = _bad_order_masks(dirty.orders, set(clean.customers["customer_id"]))
    for kind, mask in masks.items():
        assert int(mask.sum()) == dirty.dirty_counts[kind], kind
    # Each bad row is bad in exactly one way.
    assert int(sum(m.astype(int) for m in masks.values()).max()) == 1
    total = sum(v for k, v in dirty.dirty_counts.items() if k.startswith("orders_"))
    assert len(dirty.orders) == len(clean.orders) + total
    assert total == pytest.approx(0.02 * len(clean.orders), abs=7)


def test_clean_rows_are_untouched_and_copies_follow_their_source(clean, dirty):
    masks = _bad_order_masks(dirty.orders, set(clean.customers["customer_id"]))
    bad = pd.concat(masks, axis=1).any(axis=1)
    kept = dirty.orders[~bad].reset_index(drop=True)
    expected = clean.orders.assign(ordered_at=clean.orders["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    pd.testing.assert_frame_equal(kept, expected, check_dtype=False)
    # "keep the first, quarantine the rest" must quarantine the planted copy, not the original.
    dup = dirty.orders["order_id"].duplicated(keep=False)
    first = dirty.orders[dup].drop_duplicates("order_id")
    assert first.merge(clean.orders[["order_id", "amount"]], on=["order_id", "amount"]).shape[0] == len(first)


def test_dirty_customers(clean, dirty):
    c = dirty.customers
    parsed = pd.to_datetime(c["signup_at"], format="%Y-%m-%d", errors="coerce")
    counts = dirty.dirty_counts
    assert int(c.duplicated().sum()) == counts["customers_duplicate_row"]
    assert int(c["customer_id"].isna().sum()) == counts["customers_missing_customer_id"]
    assert int(parsed.isna().sum()) == counts["customers_bad_signup_at"]
    assert len(c) == len(clean.customers) + sum(v for k, v in counts.items() if k.startswith("customers_"))
    assert not c.drop_duplicates()["email"].duplicated().any()
    bad_ids = set(c.loc[parsed.isna(), "customer_id"])
    assert not bad_ids & set(dirty.orders["customer_id"].dropna())


def test_write_shop_reports_dirty_counts(tmp_path, dirty):
    out = write_shop(tmp_path, N, seed=4, dirty=True, dirty_fraction=0.02)
    assert out["dirty_counts"] == dirty.dirty_counts
    assert out["rows"]["orders"] == len(dirty.orders)
    assert "orders_bad_date" in (tmp_path / "README.txt").read_text()


def test_csv_round_trip(tmp_path, clean):
    paths = clean.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "README.txt",
        "customers.csv",
        "events.csv",
        "ground_truth.csv",
        "orders.csv",
        "responses.csv",
    ]
    assert paths["orders"] == tmp_path / "orders.csv"
    text = (tmp_path / "orders.csv").read_text().splitlines()
    assert (
        text[0].replace('"', "")
        == "order_id,customer_id,ordered_at,amount,quantity,category,channel,promo,returned"
    )
    assert all(row.split(",")[3].split(".")[1].__len__() == 2 for row in text[1:50])  # "12.50", not "12.5"
    orders = pd.read_csv(tmp_path / "orders.csv", parse_dates=["ordered_at"], dtype={"order_id": str})
    pd.testing.assert_frame_equal(orders, clean.orders, check_dtype=False)
    customers = pd.read_csv(
        tmp_path / "customers.csv",
        parse_dates=["signup_at"],
        keep_default_na=False,
        na_values=[""],
        dtype={"industry": str, "company_size": str, "phone": str},
    )
    pd.testing.assert_frame_equal(customers, clean.customers, check_dtype=False)
    assert (customers["signup_at"].astype(str).str.len() == 10).all()
    events = pd.read_csv(tmp_path / "events.csv", parse_dates=["occurred_at"])
    pd.testing.assert_frame_equal(events, clean.events, check_dtype=False)
    assert all(isinstance(json.loads(p), dict) for p in events["properties"].head(200))
    responses = pd.read_csv(tmp_path / "responses.csv", parse_dates=["answered_at"], dtype={"answer": str})
    pd.testing.assert_frame_equal(responses, clean.responses, check_dtype=False)
    truth = pd.read_csv(tmp_path / "ground_truth.csv")
    pd.testing.assert_frame_equal(truth, clean.ground_truth, check_dtype=False)


def test_dirty_csv_keeps_bad_values(tmp_path, dirty):
    dirty.write(tmp_path)
    orders = pd.read_csv(tmp_path / "orders.csv", dtype={"ordered_at": str})
    assert (
        orders["ordered_at"]
        .isin(["yesterday", "2024-13-45", "not a date", "31/31/2024", "2024-02-30 25:61:00"])
        .sum()
        == dirty.dirty_counts["orders_bad_date"]
    )
    assert orders["amount"].isna().sum() == dirty.dirty_counts["orders_missing_amount"]
    assert orders["customer_id"].isna().sum() == dirty.dirty_counts["orders_missing_customer_id"]


def test_parquet_round_trip(tmp_path, clean):
    write_shop(tmp_path, N, seed=4, format="parquet")
    orders = pd.read_parquet(tmp_path / "orders.parquet")
    pd.testing.assert_frame_equal(orders, clean.orders, check_dtype=False)
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    customers["signup_at"] = pd.to_datetime(customers["signup_at"]).astype("datetime64[s]")
    pd.testing.assert_frame_equal(customers, clean.customers, check_dtype=False)
