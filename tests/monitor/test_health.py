"""Model health of a cluster segmentation, and the refit rules a refresh follows (and records)."""

from __future__ import annotations

import pytest

from segmint.datasets import make_shop
from segmint.monitor.health import refit_reasons
from segmint.monitor.settings import ModelHealthSettings

from .conftest import configure

CLUSTER = {"kind": "cluster", "features": ["recency_days", "frequency", "monetary_total"], "k": 3}


def test_refit_reasons_follow_the_rules():
    health = {"far_share": 0.3, "distance_increase": 0.1}
    assert refit_reasons(health, None, ModelHealthSettings()) == []
    rules = ModelHealthSettings(refit_far_share=0.2, refit_distance_increase=0.05, refit_drift_share=0.5)
    assert refit_reasons(health, 0.6, rules) == ["far_share 0.300 > refit_far_share 0.2",
                                                 "distance_increase 0.100 > refit_distance_increase 0.05",
                                                 "drift_share 0.600 >= refit_drift_share 0.5"]
    assert refit_reasons(None, 0.4, rules) == []


@pytest.mark.slow
def test_a_degraded_model_is_refitted_and_the_reason_recorded(ws):
    shop = make_shop(500, seed=2)
    for table in ("customers", "orders"):
        ws.ingest(table, getattr(shop, table))
    ws = configure(ws, {"groups": CLUSTER}, {"alerts": [{"kind": "refit"}]})
    ws.refresh("2024-06-01")
    health = ws.monitor("groups")["model_health"]
    # at the run it was fitted on, about 1 - far_quantile of the customers are far from every centroid
    assert health["fitted_as_of"] == "2024-06-01" and 0.02 <= health["far_share"] <= 0.08
    assert health["distance_increase"] == pytest.approx(0.0) and 0.5 <= health["stability"] <= 1.0
    kept = ws.refresh("2024-09-01")["segmentations"][0]
    assert not kept["fitted"] and kept["model_health"]["fitted_as_of"] == "2024-06-01"
    strict = configure(ws, monitoring={"model_health": {"refit_far_share": 0.01}, "alerts": [{"kind": "refit"}]})
    done = strict.refresh("2024-12-01")
    seg = done["segmentations"][0]
    assert seg["fitted"] and seg["refit_reasons"][0].startswith("far_share ")
    assert [a["kind"] for a in done["alerts"]] == ["refit"]
    assert strict.monitor("groups")["model_health"]["fitted_as_of"] == "2024-12-01"
