"""DuckDB and Spark give the same snapshot, memberships, reasons and exports for the same shop.

One hand-made shop with every awkward value at once, and a few hypothesis-generated ones (few:
each example starts a Spark ingest, snapshot and two segmentations). Spark runs on ``local[2]``
here and on a standalone cluster in ``test_standalone.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.spark import parity

pytestmark = [pytest.mark.spark, pytest.mark.slow,
              # PySpark 4.0 passes pandas 3 a deprecated keyword when it converts through Arrow
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
              # PySpark leaves the local sockets of its Arrow transfers to the garbage collector
              pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
              pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket"
                                         ":pytest.PytestUnraisableExceptionWarning")]

#: Ids that stress ordering and text handling: unicode, a trailing space, digits that look numeric.
IDS = ["C1", "c1", "Ünï-2", "客户3", "C 4", "0005", "C6", "C7", "C8", "C9", "C10", "C11", "C12"]
#: The plausible range's edges (segmint.yaml default: from 1900-01-01) and ties on one second.
TIMES = ["1900-01-01 00:00:00", "2024-05-31 23:59:59", "2024-06-01 00:00:00", "2023-01-01 10:00:00",
         "2023-01-01 10:00:00", "2024-02-29 12:00:00", "2022-12-31 23:59:59"]
AMOUNTS = ["19.99", "0", "0.01", "-5.00", "999999999.99", "NaN", "", "1e3", "oops", "12.5"]


def awkward_shop() -> dict[str, list[dict]]:
    """Nulls, NaN, ties, customers without orders, unicode, extreme amounts, bad JSON and edge dates."""
    customers = [{"customer_id": c, "signup_at": "2022-06-01" if i % 3 else "",
                  "region": ["Nord", "Süd", None][i % 3], "marketing_consent": "false" if i % 4 == 0 else "true"}
                 for i, c in enumerate(IDS)]
    orders = []
    for i in range(60):
        orders.append({"order_id": f"O{i}", "customer_id": IDS[i % 11], "ordered_at": TIMES[i % len(TIMES)],
                       "amount": AMOUNTS[i % len(AMOUNTS)] if i % 4 == 0 else f"{(i * 7.31) % 97:.2f}",
                       "category": ["Home", "Toys", ""][i % 3], "channel": "web", "promo": ["true", "false"][i % 2]})
    events = [{"customer_id": IDS[i % 12], "occurred_at": TIMES[(i + 1) % len(TIMES)], "event": "web_visit",
               "properties": ['{"pages": 2}', "not json", ""][i % 3]} for i in range(20)]
    return {"customers": customers, "orders": orders, "events": events}


def test_awkward_shop_agrees(pyspark, tmp_path):
    data = parity.write_shop(tmp_path / "data", awkward_shop())
    duck = parity.run(tmp_path / "duckdb", data, "duckdb")
    spark = parity.run(tmp_path / "spark", data, "spark")
    assert duck.quarantined["orders"] > 0  # the bad amounts are refused on both, the same way
    assert len(duck.features) >= 12
    parity.assert_same(duck, spark)


_day = st.dates(dt.date(1900, 1, 1), dt.date(2024, 5, 31))
_time = st.builds(lambda d, s: f"{d} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}", _day,
                  st.sampled_from([0, 0, 43200, 86399]))
_amount = st.one_of(st.sampled_from(["NaN", "", "0", "1e9", "0.01"]),
                    st.decimals(-1000, 10**9, places=2, allow_nan=False).map(str))


@st.composite
def shops(draw):
    ids = draw(st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]),
                                min_size=1, max_size=6), min_size=12, max_size=20, unique_by=str.casefold))
    buyers = ids[: draw(st.integers(10, len(ids)))]  # the rest: customers without an order
    orders = []
    for i, c in enumerate(buyers):
        for j in range(draw(st.integers(1, 4))):
            orders.append({"order_id": f"O{i}-{j}", "customer_id": c, "ordered_at": draw(_time),
                           "amount": draw(_amount), "category": draw(st.sampled_from(["Home", "Toys", ""])),
                           "channel": "web", "promo": draw(st.sampled_from(["true", "false", ""]))})
    customers = [{"customer_id": c, "signup_at": draw(st.one_of(st.just(""), _day.map(str))),
                  "marketing_consent": draw(st.sampled_from(["true", "false", ""]))} for c in ids]
    return {"customers": customers, "orders": orders}


@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(shop=shops())
def test_generated_shops_agree(pyspark, tmp_path_factory, shop):
    root = tmp_path_factory.mktemp("shop")
    data = parity.write_shop(root / "data", shop)
    parity.assert_same(parity.run(root / "duckdb", data, "duckdb"), parity.run(root / "spark", data, "spark"))
