"""The generated shop, clean and dirty, goes through ingest with every planted bad row quarantined."""

from __future__ import annotations

import pytest

from segmint.datasets import write_shop


@pytest.fixture(scope="module")
def dirty_shop(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dirty")
    result = write_shop(directory, n_customers=1500, seed=3, dirty=True, dirty_fraction=0.02)
    return directory, result


def test_dirty_rows_end_in_quarantine_with_their_reason(ws, dirty_shop):
    directory, result = dirty_shop
    planted = result["dirty_counts"]
    c = ws.ingest("customers", directory / "customers.csv")
    assert c.quarantine_reasons.get("duplicate_row", 0) == planted["customers_duplicate_row"]
    assert c.quarantine_reasons.get("missing_customer_id", 0) == planted["customers_missing_customer_id"]
    assert c.quarantine_reasons.get("unparseable_signup_at", 0) == planted["customers_bad_signup_at"]
    o = ws.ingest("orders", directory / "orders.csv")
    assert o.rows_read == result["rows"]["orders"]
    assert o.rows_accepted + o.rows_quarantined == o.rows_read
    reasons = o.quarantine_reasons
    assert reasons.get("missing_customer_id", 0) == planted["orders_missing_customer_id"]
    assert reasons.get("negative_amount", 0) == planted["orders_negative_amount"]
    assert reasons.get("missing_amount", 0) == planted["orders_missing_amount"]
    assert reasons.get("duplicate_row", 0) == planted["orders_duplicate_row"]
    assert reasons.get("unparseable_ordered_at", 0) == planted["orders_bad_date"]
    assert reasons.get("unknown_customer", 0) == planted["orders_unknown_customer"]
    assert reasons.get("duplicate_key", 0) == planted["orders_duplicate_order_id"]
    assert o.rows_quarantined == sum(planted[k] for k in planted if k.startswith("orders_"))


def test_clean_shop_loads_completely(ws, tmp_path):
    result = write_shop(tmp_path / "clean", n_customers=800, seed=5)
    for table in ("customers", "orders", "events", "responses"):
        r = ws.ingest(table, tmp_path / "clean" / f"{table}.csv")
        assert r.rows_quarantined == 0, (table, r.quarantine_reasons)
        assert r.rows_new == result["rows"][table]
    assert ws.store.table("customers").email.to_pyarrow().to_pylist()[0].startswith("em_")
