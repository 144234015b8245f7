"""Tests for segmint.segment.model (generic documents) and cluster model JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

import segmint
from segmint.errors import ConfigError, ModelVersionError
from segmint.segment import model as docs
from segmint.segment.cluster import ClusterSegmenter


def test_header_names_format_version_and_kind():
    head = docs.model_header("rules")
    assert head == {
        "format": "segmint.model",
        "format_version": docs.FORMAT_VERSION,
        "segmint_version": segmint.__version__,
        "kind": "rules",
    }
    assert docs.check_model_header(head, "rules") is head


def test_unknown_format_version_is_refused_with_both_versions():
    doc = {**docs.model_header("cluster"), "format_version": 7, "segmint_version": "0.9.0"}
    with pytest.raises(ModelVersionError) as err:
        docs.check_model_header(doc, "cluster")
    msg = str(err.value)
    assert "format version 7" in msg and "0.9.0" in msg and segmint.__version__ in msg
    assert "Upgrade segmint" in msg and "refit" in msg


def test_newer_major_segmint_is_refused():
    doc = {**docs.model_header("cluster"), "segmint_version": "99.0.0"}
    with pytest.raises(ModelVersionError, match=r"99\.0\.0.*newer major.*Upgrade"):
        docs.check_model_header(doc, "cluster")
    older = {**docs.model_header("cluster"), "segmint_version": "0.0.1"}
    assert docs.check_model_header(older, "cluster") is older


def test_wrong_kind_or_not_a_document():
    with pytest.raises(ConfigError, match="kind 'rules', expected 'cluster'"):
        docs.check_model_header(docs.model_header("rules"), "cluster")
    with pytest.raises(ConfigError, match="not a segmint model"):
        docs.check_model_header({"centroids": []}, "cluster")
    with pytest.raises(ConfigError, match="not valid JSON"):
        docs.loads("{nope")
    with pytest.raises(ConfigError, match="cannot store"):
        docs.to_jsonable({"x": object()})


def test_floats_round_trip_bit_for_bit():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(size=500) * 10.0 ** rng.integers(-300, 300, 500), np.nan, np.inf, -np.inf, -0.0]
    text = docs.dumps({"values": values})
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    back = np.array(docs.loads(text)["values"])
    assert np.array_equal(back.view("int64"), values.view("int64"))


def _mixed(n: int = 300, seed: int = 0) -> pd.DataFrame:
    X, _ = make_blobs(n_samples=n, centers=3, n_features=2, random_state=seed)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": np.abs(X[:, 0]) ** 2,
            "b": X[:, 1],
            "vip": rng.random(n) < 0.2,
            "tier": rng.choice(["gold", "silver", "bronze"], n),
        }
    )


FEATURES = {"a": "numeric", "b": "numeric", "vip": "boolean", "tier": "categorical"}


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hdbscan"])
def test_cluster_model_json_round_trip(algorithm):
    df = _mixed()
    seg = ClusterSegmenter(
        FEATURES,
        algorithm=algorithm,
        k=3 if algorithm != "hdbscan" else "auto",
        n_bootstrap=2,
        sample_size=250,
    ).fit(df)
    text = seg.to_json()
    doc = json.loads(text)
    assert doc["kind"] == "cluster" and doc["algorithm"] == algorithm
    assert doc["segmint_version"] == segmint.__version__ and doc["random_state"] == 0
    assert doc["features"] == FEATURES and doc["segments"][0] == "cluster_1"
    assert {"settings", "preprocessing", "params", "selection", "feature_names_out"} <= set(doc)
    back = ClusterSegmenter.from_json(text)
    assert back.to_json() == text
    assert back.get_params() == seg.get_params()
    assert np.array_equal(back.predict(df), seg.predict(df))
    pd.testing.assert_frame_equal(back.selection_, seg.selection_, check_dtype=False)
    for key, value in seg.params_.items():
        assert np.array_equal(np.asarray(back.params_[key]), np.asarray(value))


def test_from_json_refuses_newer_documents():
    seg = ClusterSegmenter(["a", "b"], k=2, n_bootstrap=0).fit(_mixed(60))
    doc = seg.to_dict()
    with pytest.raises(ModelVersionError, match="format version 2"):
        ClusterSegmenter.from_dict({**doc, "format_version": 2})
    with pytest.raises(ModelVersionError, match="segmint 3.1.0"):
        ClusterSegmenter.from_json(json.dumps({**doc, "segmint_version": "3.1.0"}))
