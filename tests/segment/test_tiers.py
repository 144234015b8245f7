"""Predictive tiers: quantile and threshold cuts, boundaries, nulls, service level against pandas."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pytest

from segmint.errors import ConfigError, UnknownNameError
from segmint.segment.definitions import parse_definition
from segmint.segment.tiers import describe_band, fit_tiers, tier_expression

from .test_service import AS_OF, features, small_shop


def _labels(defn, values):
    t = ibis.memtable(pa.table({"v": pa.array(values, pa.float64())}))
    doc = fit_tiers(defn, t)
    return doc, t.select(s=tier_expression(doc, t)).to_pyarrow()["s"].to_pylist()


def test_threshold_bands_include_their_lower_cut():
    d = parse_definition("t", {"kind": "tiers", "feature": "v", "thresholds": [0.3, 0.7],
                               "labels": ["high", "mid", "low"], "missing": None})
    doc, labels = _labels(d, [0.0, 0.3, 0.69, 0.7, 1.0, None, float("nan")])
    assert labels == ["high", "mid", "mid", "low", "low", None, None]
    assert describe_band(doc, "mid") == "0.3 <= v < 0.7"


def test_quantile_cuts_match_numpy():
    values = [float(x) for x in np.random.default_rng(0).gamma(2.0, 100.0, 500)]
    d = parse_definition("t", {"kind": "tiers", "feature": "v", "quantiles": [0.5, 0.9]})
    doc, labels = _labels(d, values + [None])
    assert doc["cuts"] == pytest.approx(np.quantile(values, [0.5, 0.9]).tolist(), rel=0, abs=0)
    assert labels[-1] == "No prediction"
    assert labels.count("tier_3") == sum(v >= doc["cuts"][1] for v in values)


def test_errors_name_the_feature():
    d = parse_definition("t", {"kind": "tiers", "feature": "clv", "thresholds": [1]})
    with pytest.raises(UnknownNameError, match="lacks"):
        _labels(d, [1.0])
    t = ibis.memtable(pa.table({"clv": ["a"]}))
    with pytest.raises(ConfigError, match="numeric"):
        fit_tiers(d, t)


def test_clv_and_churn_tiers_at_service_level(ws):
    small_shop(ws, {"value": {"kind": "tiers", "by": "clv", "quantiles": [0.5], "labels": ["Low", "High"]},
                    "churn": {"kind": "tiers", "by": "churn"}})
    value = ws.segment("value", as_of=AS_OF)
    churn = ws.segment("churn", as_of=AS_OF)
    f = features(ws)
    clv, alive = f["predicted_clv_12m"], f["probability_alive"]
    cut = float(np.quantile(clv.dropna(), 0.5))
    expected = np.where(clv.isna(), "No prediction", np.where(clv >= cut, "High", "Low"))
    assert value.labels.sort_index().tolist() == expected.tolist()
    expected = np.where(alive.isna(), "No prediction",
                        np.where(alive < 0.3, "High risk", np.where(alive < 0.7, "Medium risk", "Low risk")))
    assert churn.labels.sort_index().tolist() == expected.tolist()
    assert ws.why("value", "C13").to_dict()["tier"]["band"] == "predicted_clv_12m is missing"
