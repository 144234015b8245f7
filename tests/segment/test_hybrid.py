"""Hybrid segmentations: clusters inside one rule segment, rule labels elsewhere."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa

from segmint.segment import runs
from segmint.segment.definitions import parse_definition
from segmint.segment.hybrid import fit_hybrid, hybrid_expression, hybrid_segments


def _table():
    rng = np.random.default_rng(0)
    n = 300
    recency = np.concatenate([rng.uniform(0, 90, 200), rng.uniform(400, 600, 100)])
    x = np.concatenate([rng.normal(0, 0.3, 100), rng.normal(10, 0.3, 100), rng.normal(5, 1, 100)])
    return ibis.memtable(pa.table({"customer_id": [f"C{i:03d}" for i in range(n)], "recency_days": recency,
                                   "x": x, "tenure_days": np.full(n, 500.0)}))


DEFN = {"kind": "hybrid", "segments": [
    {"name": "New", "where": "tenure_days <= 60"},
    {"name": "Lost", "where": "recency_days > 365"},
    {"name": "Active", "where": "recency_days <= 365",
     "cluster": {"features": ["x"], "k": "auto", "k_range": [2, 4], "n_bootstrap": 3}}], "else": "Other"}


def test_clusters_inside_the_active_segment_only():
    t = _table()
    defn = parse_definition("h", DEFN)
    doc = fit_hybrid(defn, t)
    labels = t.select("customer_id", s=hybrid_expression(doc, t)).order_by("customer_id").to_pyarrow()["s"]
    labels = np.array(labels.to_pylist())
    assert (labels[200:] == "Lost").all()
    active = labels[:200]
    assert set(active) == {"Active/cluster_1", "Active/cluster_2"}
    assert len(set(active[:100])) == 1 and len(set(active[100:])) == 1 and active[0] != active[150]
    assert hybrid_segments(doc) == ["New", "Lost", "Active/cluster_1", "Active/cluster_2", "Other"]
    assert doc["clusters"]["Active"]["selection"]["k"] == 2


def test_hybrid_model_applies_to_new_customers():
    t = _table()
    doc = fit_hybrid(parse_definition("h", DEFN), t)
    new = {"customer_id": ["N1", "N2", "N3"], "recency_days": [10.0, 10.0, 500.0], "x": [0.1, 9.9, 0.0],
           "tenure_days": [30.0, 500.0, 500.0]}
    import pandas as pd

    out = runs.apply_model(doc, pd.DataFrame(new)).to_pyarrow()["segment"].to_pylist()
    inner = t.select(s=hybrid_expression(doc, t)).to_pyarrow()["s"].to_pylist()
    assert out[0] == "New" and out[2] == "Lost" and out[1] in inner and out[1].startswith("Active/")


def test_a_customer_s_cluster_is_explained_without_pandas_as_with_it():
    """The look-up's one-customer explanation (plain values) equals the one-row-frame explanation."""
    import pandas as pd

    from segmint.segment.cluster import ClusterSegmenter
    from segmint.segment.hybrid import explain_cluster

    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({"recency_days": rng.exponential(60, n), "frequency": rng.poisson(4, n),
                       "monetary_total": rng.lognormal(5, 1, n)})
    seg = ClusterSegmenter(["recency_days", "frequency", "monetary_total"], k=3, n_bootstrap=0,
                           random_state=0).fit(df)
    doc = seg.to_dict()
    pre = seg.preprocessor_
    rows = [{"recency_days": float(r), "frequency": int(f), "monetary_total": float(m)}
            for r, f, m in zip(df.recency_days, df.frequency, df.monetary_total)][:60]
    rows += [{"recency_days": None, "frequency": 3, "monetary_total": 250.5},  # missing values are filled
             {"recency_days": 12.0, "frequency": None, "monetary_total": None}, {"frequency": 7}]
    for values in rows:
        frame = pd.DataFrame([{f: values.get(f) for f in doc["features"]}])
        np.testing.assert_array_equal(pre.transform_row(values), pre.transform(frame)[0])
        assert explain_cluster(doc, None, segmenter=seg, values=values) == explain_cluster(doc, frame), values
    # Not plain numbers: the frame's transform decides (the same answer, by the old path).
    odd = {"recency_days": "12", "frequency": True, "monetary_total": 10.0}
    assert pre.transform_row(odd) is None
    frame = pd.DataFrame([odd])
    assert explain_cluster(doc, None, values=odd) == explain_cluster(doc, frame)
