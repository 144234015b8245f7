"""Stored reasons: a run stores why each customer got their segment, and ``why`` reads them back.

The stored path must give exactly what evaluating the rules on the snapshot gives, for
every kind of model and every customer (nulls included); runs stored before reasons
existed are still explained (by computing).
"""

from __future__ import annotations

import json
import math

import pytest

from segmint.errors import UnknownNameError
from segmint.segment import membership as ms
from segmint.segment import explain_run, runs

from .test_service import AS_OF, LIFECYCLE, small_shop

CLUSTER = {"features": ["recency_days", "monetary_total", "frequency"], "k": 2, "n_bootstrap": 1,
           "random_state": 0}


def every_kind(rules_name: str, rules: dict) -> dict:
    """One segmentation of every kind: ``rules_name`` (rules, with a 'VIP' segment), audiences that
    refer to it, tiers, a cluster and a hybrid (also used by tests/server/test_serving.py)."""
    return {
        rules_name: rules,
        "aud": {"kind": "audiences", "segments": {
            "big": "monetary_total >= 900", "recent": "recency_days < 35",
            "vip_too": f"in_segment('{rules_name}', 'VIP') or not frequency > 3"}},
        "bands": {"kind": "tiers", "feature": "monetary_total", "thresholds": [100, 500, 2000],
                  "missing": "No purchases"},
        "groups": {"kind": "cluster", **CLUSTER},
        "mixed": {"kind": "hybrid", "segments": [{"name": "Never", "where": "recency_days is null"},
                                                 {"name": "Buyers", "where": "frequency >= 1", "cluster": CLUSTER}],
                  "else": "Other"},
    }


SEGMENTATIONS = every_kind("life", LIFECYCLE)
CUSTOMERS = [f"C{i:02d}" for i in range(1, 14)]


@pytest.fixture
def shop(ws):
    small_shop(ws, SEGMENTATIONS)
    return ws


def _same(a, b, path="") -> None:
    """Equal JSON values, floats to 1e-9 (the engine's JSON prints the shortest round-trip text)."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is None and b is None, path
        elif math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), path
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    elif isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def _computed(ws, name, cid):
    version, when = runs.run_of(ws.segment_context(), name)
    doc, _ = ws.stored_model(name, version)
    return explain_run.why_computed(ws.segment_context(), name, doc, version, when, cid).to_dict()


@pytest.mark.parametrize("name", list(SEGMENTATIONS))
def test_stored_reasons_equal_the_computed_explanation(shop, name):
    shop.segment(name, as_of=AS_OF)
    assert ms.find_runs(shop.store, name)[-1][2] is True  # this run stored its reasons
    assert shop.store.con.con.execute("SELECT count(*) FROM membership_reasons WHERE segmentation = ?",
                                      [name]).fetchone()[0] == len(CUSTOMERS)
    for cid in CUSTOMERS:
        stored = shop.why(name, cid).to_dict()
        computed = _computed(shop, name, cid)
        _same(json.loads(json.dumps(stored, default=str)), json.loads(json.dumps(computed, default=str)),
              f"{name}/{cid}")
    with pytest.raises(UnknownNameError, match="'C99' is not in the feature snapshot"):
        shop.why(name, "C99").to_dict()


def test_reasons_of_a_customer_with_nulls(shop):
    shop.segment("life", as_of=AS_OF)
    never = shop.why("life", "C13").to_dict()  # no orders: recency_days is null
    assert never["segments"] == ["Never"]
    vip = never["rules"][0]
    assert vip["held"] is False and vip["conditions"][2]["held"] is None  # unknown, not false
    assert vip["conditions"][2]["values"] == {"recency_days": None}
    assert never["rules"][3]["held"] is True
    shop.segment("bands", as_of=AS_OF)
    assert shop.why("bands", "C13").to_dict()["tier"] == {"feature": "monetary_total", "value": 0.0,
                                                         "band": "monetary_total < 100",
                                                         "cuts": [100.0, 500.0, 2000.0]}
    assert shop.why("bands", "C05").to_dict()["tier"]["band"] == "500 <= monetary_total < 2000"


def test_a_run_stored_without_reasons_is_still_explained(shop):
    """Runs written before reasons existed: no rows in membership_reasons, reasons flag false."""
    shop.segment("life", as_of=AS_OF)
    expected = shop.why("life", "C07").to_dict()
    con = shop.store.con.con
    con.execute("DELETE FROM membership_reasons")
    con.execute("UPDATE segmentation_runs SET reasons = false")
    again = shop.why("life", "C07").to_dict()
    assert again == expected
    assert [(c["condition"], c["held"]) for c in again["rules"][0]["conditions"][1:]] == [
        ("monetary_total >= 900", True), ("recency_days <= 60", False)]


def test_an_older_store_gets_its_runs_table_from_the_memberships(shop):
    shop.segment("life", as_of=AS_OF)
    shop.segment("life", as_of="2024-06-01")
    con = shop.store.con.con
    con.execute("DROP TABLE segmentation_runs")
    con.execute("DROP TABLE membership_reasons")
    runs = ms.find_runs(shop.store, "life")  # creates and fills the table
    assert [(v, r) for v, _, r in runs] == [(1, False), (1, False)]
    assert [i.to_dict() for i in shop.segmentations()][0]["runs"] == 2
    assert shop.why("life", "C07", as_of=AS_OF).to_dict()["segments"] == ["Mid"]


def test_a_rerun_replaces_the_reasons(shop):
    shop.segment("life", as_of=AS_OF)
    shop.segment("life", as_of=AS_OF)
    con = shop.store.con.con
    assert con.execute("SELECT count(*) FROM membership_reasons").fetchone()[0] == len(CUSTOMERS)
    assert con.execute("SELECT count(*) FROM segmentation_runs").fetchone()[0] == 1
    runs = ms.runs(shop.store, "life")
    assert runs[["version", "customers", "rows"]].values.tolist() == [[1, 13, 13]]
