"""The generated shop's second period, in which bargain hunters stop buying: monitoring finds exactly that.

Segments are the planted personas (a rules segmentation on the persona, carried as a customer attribute),
so membership does not move and every flag is drift. The features are the order windows and the promo
share; the periods are mid-2024 (see :data:`segmint.datasets.shift.DEFAULT_SPLIT`).
"""

from __future__ import annotations

import pytest

from segmint.datasets import PERSONA_NAMES, make_shop
from segmint.datasets.shift import shift_frames, shop_frames

from .conftest import configure

WINDOWS = ["orders_last_30", "spend_last_30", "orders_last_90", "spend_last_90"]


@pytest.mark.slow
def test_monitoring_flags_the_shifted_persona_and_nothing_else(ws):
    shop = make_shop(4000, seed=3)
    frames = shop_frames(shop)
    frames["customers"] = frames["customers"].merge(shop.ground_truth, on="customer_id")
    first, second = shift_frames(frames, shop.ground_truth, "bargain_hunter", "2024-06-01", "2024-08-30")
    ws = configure(ws, {"personas": {"kind": "rules", "segments": [{"name": p, "where": f"persona = '{p}'"}
                                                                 for p in PERSONA_NAMES]}},
                   {"drift": {"features": [*WINDOWS, "promo_share"]}})
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, first[table])
    assert ws.refresh("2024-06-01")["alerts"] == []
    for table in ("orders", "events", "responses"):
        ws.ingest(table, second[table])
    raised = ws.refresh("2024-08-30")["alerts"]
    # the default rules: share moves, drift, stale data, revenue drops of 30%
    assert sorted((a["kind"], a["segment"]) for a in raised) == [("drift", "bargain_hunter"),
                                                                 ("kpi_drop", "bargain_hunter")]
    drift = ws.monitor("personas")["drift"]
    flagged = {s for s, v in drift["segments"].items() if not v.get("suppressed") and v["dataset_drift"]}
    assert flagged == {"bargain_hunter"}
    assert drift["segments"]["bargain_hunter"]["drifted"] == WINDOWS  # not promo_share: history, not the period
    assert not drift["overall"]["dataset_drift"]
    kpis = {r["segment"]: r for r in ws.monitor("personas")["kpis"] if r["as_of"] == "2024-08-30"}
    assert kpis["bargain_hunter"]["orders"] == 0 and all(k["orders"] > 0 for s, k in kpis.items()
                                                         if s not in ("bargain_hunter", "churned"))


@pytest.mark.slow
def test_monitoring_flags_the_persona_that_appears_and_nothing_else(ws):
    """``change="appear"``: small businesses arrive in the second period; only their arrival is flagged.

    Their segment's share moves from nothing to about a sixth; the others' shares shrink by as much in
    proportion (the largest, lapsed, by about 5.6 points: under the 10 points the rule here allows), and
    the newcomers' recent orders move the whole population's order windows (overall drift). No existing
    segment drifts: their customers behave as before.
    """
    shop = make_shop(4000, seed=3)
    frames = shop_frames(shop)
    frames["customers"] = frames["customers"].merge(shop.ground_truth, on="customer_id")
    first, second = shift_frames(frames, shop.ground_truth, "small_business", "2024-06-01", "2024-08-30",
                                 change="appear")
    ws = configure(ws, {"personas": {"kind": "rules", "segments": [{"name": p, "where": f"persona = '{p}'"}
                                                                 for p in PERSONA_NAMES]}},
                   {"drift": {"features": [*WINDOWS, "promo_share"]},
                    "alerts": [{"kind": "share_move", "points": 10}, {"kind": "drift"},
                               {"kind": "kpi_drop", "kpi": "revenue", "percent": 30}]})
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, first[table])
    first_run = ws.refresh("2024-06-01")
    assert first_run["alerts"] == [] and first_run["segmentations"][0]["sizes"].get("small_business", 0) == 0
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, second[table])
    second_run = ws.refresh("2024-08-30")
    assert second_run["snapshot"]["mode"] == "incremental"
    raised = second_run["alerts"]
    assert sorted((a["kind"], a["segment"] or "") for a in raised) == [("drift", ""), ("share_move", "small_business")]
    move = next(a for a in raised if a["kind"] == "share_move")
    assert move["evidence"]["share_before"] == 0.0 and move["evidence"]["share_after"] > 0.1
    drift = ws.monitor("personas")["drift"]
    flagged = {s for s, v in drift["segments"].items() if not v.get("suppressed") and v.get("dataset_drift")}
    assert flagged <= {"small_business"}  # the others behave as before; the newcomers have no reference
    # everyone: the newcomers' recent orders move the order windows, not the promo share
    assert drift["overall"]["dataset_drift"] and sorted(drift["overall"]["drifted"]) == sorted(WINDOWS)
