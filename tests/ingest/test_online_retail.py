"""The real Online Retail file: every one of its 541,909 lines is accounted for."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retail(tmp_path_factory, shared_data):
    import os

    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    ws = Workspace.init(tmp_path_factory.mktemp("retail") / "ws")
    first = ws.ingest("orders", shared_data / "online_retail.csv.gz", preset="online-retail")
    second = ws.ingest("orders", shared_data / "online_retail.csv.gz", preset="online-retail")
    yield ws, first, second
    ws.close()


def test_every_line_is_accounted_for(retail):
    _, r, _ = retail
    assert r.rows_read == 541_909
    assert r.rows_accepted + r.rows_quarantined == 541_909
    assert r.quarantine_reasons["missing_customer_id"] == 135_080
    assert r.quarantine_reasons["duplicate_row"] == 5_268


def test_accepted_data_agrees_with_the_published_facts(retail):
    """README facts: rows with a CustomerID, Quantity > 0 and UnitPrice > 0: 397,884 rows, 4,338
    customers, revenue 8,911,407.90. segmint also quarantines exact duplicate rows, so those
    facts are the accepted sale lines plus the duplicates that would otherwise pass."""
    ws, _, _ = retail
    items = ws.store.table("order_items")
    sales = items.filter(items.quantity > 0)
    q = ws.store.table("quarantine")
    dups = q.filter(q.reasons == "duplicate_row")
    raw = dups.raw.cast("json")
    qty = raw["Quantity"].str.cast("int64")
    price = raw["UnitPrice"].str.cast("float64")
    dup_sales = dups.mutate(qty=qty, price=price, cid=raw["CustomerID"].str).filter(
        lambda t: (t.qty > 0) & (t.price > 0) & t.cid.notnull())
    n_sales = int(sales.count().to_pyarrow().as_py())
    n_dup = int(dup_sales.count().to_pyarrow().as_py())
    assert n_sales + n_dup == 397_884
    revenue = float(sales.amount.sum().to_pyarrow().as_py())
    dup_revenue = float((dup_sales.qty * dup_sales.price).sum().to_pyarrow().as_py())
    assert revenue + dup_revenue == pytest.approx(8_911_407.90, abs=0.01)
    assert int(sales.customer_id.nunique().to_pyarrow().as_py()) == 4_338


def test_cancellations_are_kept_as_returns(retail):
    ws, r, _ = retail
    orders = ws.store.table("orders")
    returns = orders.filter(orders.returned)
    assert int(returns.count().to_pyarrow().as_py()) > 3_000
    assert float(returns.amount.max().to_pyarrow().as_py()) < 0
    assert r.orders_built == int(orders.count().to_pyarrow().as_py())
    assert int(orders.order_id.startswith("C").sum().to_pyarrow().as_py()) == int(
        returns.count().to_pyarrow().as_py())


def test_customers_come_with_their_country(retail):
    ws, r, _ = retail
    customers = ws.store.table("customers")
    assert r.customers_added == int(customers.count().to_pyarrow().as_py())
    assert int(customers.country.nunique().to_pyarrow().as_py()) >= 37
    # ids written as floats (17850.0) are stored as 17850
    assert int(customers.filter(customers.customer_id == "17850").count().to_pyarrow().as_py()) == 1


def test_reingest_doubles_nothing(retail):
    ws, first, second = retail
    assert second.rows_new == 0 and second.rows_already_present == first.rows_accepted
    assert second.quarantine_already_recorded == second.rows_quarantined
    assert int(ws.store.table("quarantine").count().to_pyarrow().as_py()) == first.rows_quarantined


def test_customers_added_from_the_lines_join_the_base_at_their_first_line(tmp_path, monkeypatch):
    """No signup date in a line-item file: the first line is when a customer became one. With a null
    signup_at, customers first seen in December were "No purchases" members of every earlier month."""
    import pandas as pd

    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    ws = Workspace.init(tmp_path / "lines")
    lines = pd.DataFrame({"InvoiceNo": ["1", "2", "C3", "4"], "StockCode": ["A", "A", "A", "B"],
                          "Description": ["x"] * 4, "Quantity": ["2", "1", "-1", "3"],
                          "InvoiceDate": ["2011-01-05 10:00", "2011-03-01 09:00", "2011-02-01 08:00",
                                          "2011-06-01 12:00"],
                          "UnitPrice": ["1.5", "2.0", "2.0", "1.0"],
                          "CustomerID": ["17850", "17850", "13047", "12583"],
                          "Country": ["United Kingdom", "United Kingdom", "France", "Germany"]})
    ws.ingest("orders", lines, preset="online-retail")
    c = ws.store.table("customers").to_pyarrow().to_pandas().set_index("customer_id")
    assert c.loc["17850", "signup_at"] == pd.Timestamp("2011-01-05 10:00")
    assert c.loc["13047", "signup_at"] == pd.Timestamp("2011-02-01 08:00")  # a return is a first line too
    f = ws.features("2011-04-01")
    assert sorted(f.customer_id) == ["13047", "17850"]  # 12583's first line is in June
