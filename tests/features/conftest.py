"""Small hand-made shops for the feature tests, and a helper comparing engine and reference."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

AS_OF = dt.datetime(2024, 7, 1)

CUSTOMERS = pd.DataFrame({
    "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
    "signup_at": ["2023-01-10", "2024-02-01", None, "2023-06-01", "2024-08-01", "2022-05-05", "2024-06-30"],
    "gender": ["F", "M", None, "F", "M", "F", "M"],
    "age": [23, 41, None, 67, 30, 35, 55],
    "region": ["London", "Wales", "London", None, "Scotland", "London", "Wales"],
    "country": ["United Kingdom"] * 7,
    "city": ["London", "Cardiff", "London", None, "Glasgow", "London", "Swansea"],
    "is_business": [False, True, False, None, False, False, False],
    "industry": [None, "Retail", None, None, None, None, None],
    "company_size": [None, "10-49", None, None, None, None, None],
    "marketing_consent": [True, False, True, True, None, True, False],
    "preferred_channel": ["email", "sms", None, "email", "email", "post", "sms"],
    "loyalty_tier": ["gold", "silver", None, "bronze", "gold", None, "silver"],  # an extra attribute
    "email": ["a@x.example", "b@x.example", "c@x.example", None, None, None, None],
})

ORDERS = pd.DataFrame({
    "order_id": [f"O{i}" for i in range(1, 19)],
    "customer_id": ["C1", "C1", "C1", "C1", "C1", "C2", "C2", "C2", "C3", "C4", "C4", "C8", "C6", "C6", "C6", "C6",
                    "C1", "C2"],
    "ordered_at": ["2023-02-01 10:00:00", "2023-11-15 09:30:00", "2024-04-10 12:00:00", "2024-06-20 18:45:00",
                   "2024-06-20 18:45:00", "2024-02-10 08:00:00", "2024-03-01 08:00:00", "2024-03-05 10:00:00",
                   "2024-06-30 23:59:59", "2023-07-01 00:00:00", "2023-07-02 00:00:00", "2024-05-05 05:05:05",
                   "2024-01-01 00:00:00", "2024-03-01 00:00:00", "2024-05-01 00:00:00", "2024-06-01 00:00:00",
                   "2024-07-01 00:00:00", "2024-09-01 00:00:00"],
    "amount": ["50", "20.5", "100", "30", "-30", "10", "15", "12", "99.99", "40", "-40", "25", "5", "5", "7", "9",
               "1000", "1000"],
    "quantity": [2, 1, 5, 1, -1, 1, 1, None, 3, 2, -2, 1, 1, 1, 1, 1, 9, 9],
    "category": ["Books", "Toys", "Books", "Home & Garden", "Home & Garden", "Books", None, "Toys", "Toys",
                 "Books", "Books", None, "Books", "Books", "Toys", "Toys", "Books", "Books"],
    "channel": ["web", "web", "app", "store", "store", "web", "web", "web", None, "app", "app", "web", "app", "app",
                "app", "app", "web", "web"],
    "promo": [True, False, None, False, False, True, True, False, False, None, None, False, True, False, True,
              False, True, True],
    "returned": [False, False, None, False, True, False, False, False, False, False, True, False, False, False,
                 False, False, False, False],
})

EVENTS = pd.DataFrame({
    "customer_id": ["C1"] * 6 + ["C2"] * 4 + ["C6"] * 2 + ["C1"],
    "occurred_at": ["2024-05-01 10:00", "2024-05-01 11:00", "2024-05-02 09:00", "2024-06-15 10:00",
                    "2024-06-20 10:00", "2024-06-25 10:00", "2024-05-01 10:00", "2024-05-01 10:30",
                    "2024-06-10 12:00", "2024-04-01 12:00", "2024-06-29 12:00", "2024-06-30 13:00",
                    "2024-07-02 10:00"],
    "event": ["email_sent", "email_open", "email_click", "web_visit", "web_visit", "support_contact",
              "email_sent", "email_open", "email_open", "web_visit", "app_open", "app_open", "web_visit"],
    "properties": [None] * 13,
})

RESPONSES = pd.DataFrame({
    "customer_id": ["C1", "C1", "C1", "C2", "C2", "C6", "C1"],
    "answered_at": ["2024-01-01", "2024-05-01", "2024-05-01", "2024-03-01", "2024-03-01", "2024-06-01",
                    "2024-07-05"],
    "question": ["nps", "nps", "Favourite colour", "nps", "Favourite colour", "nps", "nps"],
    "answer": ["6", "9", "blue", " 7 ", "green", "10", "0"],
})


@pytest.fixture
def shop(ws):
    """A workspace with the hand-made shop: C8 is known only from orders (ingested before customers)."""
    ws.ingest("orders", ORDERS)
    ws.ingest("customers", CUSTOMERS)
    ws.ingest("events", EVENTS)
    ws.ingest("responses", RESPONSES)
    return ws


def stored(ws, table: str) -> pd.DataFrame:
    return ws.store.table(table).to_pyarrow().to_pandas()


def reference_for(ws, as_of=AS_OF, windows=(30, 90, 365), bins=5) -> pd.DataFrame:
    from .pandas_reference import reference_features

    events, responses = stored(ws, "events"), stored(ws, "responses")
    return reference_features(stored(ws, "customers"), stored(ws, "orders"), events if len(events) else None,
                              responses if len(responses) else None, as_of, windows, bins)


def assert_same(engine: pd.DataFrame, reference: pd.DataFrame, columns=None) -> None:
    """Every reference column equals the engine's (floats to 1e-9, nulls equal)."""
    engine = engine.set_index("customer_id").sort_index() if "customer_id" in engine else engine.sort_index()
    assert list(engine.index) == list(reference.index)
    for col in columns or reference.columns:
        assert col in engine.columns, f"engine lacks {col}"
        a, b = engine[col], reference[col]
        assert (a.isna().to_numpy() == b.isna().to_numpy()).all(), f"{col}: nulls differ\n{a}\n{b}"
        mask = a.notna().to_numpy()
        av, bv = a[mask].to_numpy(), b[mask].to_numpy()
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            np.testing.assert_allclose(av.astype(float), bv.astype(float), rtol=1e-9, atol=1e-9, err_msg=col)
        else:
            assert [str(x) for x in av] == [str(x) for x in bv], f"{col}: {list(av)} != {list(bv)}"
