"""Tests for segmint.segment.cluster.ClusterSegmenter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segmint.errors import ConfigError, DataError, FitError, NotFittedError
from segmint.segment.cluster import ClusterSegmenter

CORNERS = [[-8.0, -8.0], [8.0, 8.0], [-8.0, 8.0], [8.0, -8.0]]


def _blobs(n=400, centers=3, std=0.5, seed=0):
    """Blobs at fixed, well-separated corners (random centres can overlap)."""
    X, truth = make_blobs(
        n_samples=n, centers=CORNERS[:centers], n_features=2, cluster_std=std, random_state=seed
    )
    return pd.DataFrame(X, columns=["a", "b"]), truth


def test_labels_are_strings_ordered_by_size():
    df = pd.DataFrame(
        {"x": np.r_[np.zeros(50), np.full(30, 10.0), np.full(20, 20.0)] + np.linspace(0, 0.1, 100)}
    )
    seg = ClusterSegmenter(["x"], k=3, n_bootstrap=0, winsorize=None).fit(df)
    labels = seg.predict(df)
    assert seg.segments_ == ["cluster_1", "cluster_2", "cluster_3"]
    counts = pd.Series(labels).value_counts()
    assert counts.to_dict() == {"cluster_1": 50, "cluster_2": 30, "cluster_3": 20}
    assert np.array_equal(seg.fit_predict(df), labels)


def test_ids_stable_across_seeds():
    df, _ = _blobs(seed=3)
    one = ClusterSegmenter(["a", "b"], k=3, n_bootstrap=0, random_state=1).fit(df).predict(df)
    two = ClusterSegmenter(["a", "b"], k=3, n_bootstrap=0, random_state=2).fit(df).predict(df)
    assert np.array_equal(one, two)


def test_fits_on_a_bounded_sample_and_predicts_all():
    df, truth = _blobs(n=3000, centers=4, std=0.6, seed=4)
    seg = ClusterSegmenter(["a", "b"], k_range=(2, 6), sample_size=600, n_bootstrap=3).fit(df)
    assert seg.n_samples_fit_ == 600 and seg.k_ == 4
    labels = seg.predict(df)
    assert len(labels) == 3000 and adjusted_rand_score(truth, labels) >= 0.95
    assert seg.inertia_ > 0  # refined on all 3,000 rows


def test_fixed_k_records_criteria_for_that_k():
    df, _ = _blobs()
    seg = ClusterSegmenter(["a", "b"], k=4, n_bootstrap=3).fit(df)
    assert seg.k_ == 4 and seg.selection_["k"].tolist() == [4]
    assert seg.selection_reason_ == "k=4 fixed by the user"
    assert "stability" in seg.selection_


def test_gmm_path_uses_bic():
    df, truth = _blobs(centers=3, std=0.7, seed=5)
    seg = ClusterSegmenter(["a", "b"], algorithm="gmm", k_range=(2, 5), n_bootstrap=3).fit(df)
    # the mixture's own BIC for every k (it decides between k whose silhouettes tie)
    assert seg.k_ == 3 and seg.selection_["bic"].notna().all(), seg.selection_reason_
    assert seg.selection_reason_.startswith("k=3 has the")
    assert adjusted_rand_score(truth, seg.predict(df)) >= 0.9
    assert np.isclose(seg.params_["weights"].sum(), 1.0)
    assert seg.params_["weights"][0] >= seg.params_["weights"][-1]


def test_hdbscan_path_labels_noise():
    df, truth = _blobs(n=450, centers=3, std=0.4, seed=6)
    far = pd.DataFrame({"a": [60.0, -60.0], "b": [60.0, 60.0]})
    seg = ClusterSegmenter(["a", "b"], algorithm="hdbscan", scaling=None, winsorize=None).fit(df)
    assert seg.k_ == 3 and seg.selection_["k"].tolist() == [3]
    assert "k does not apply" in seg.selection_reason_
    assert adjusted_rand_score(truth, seg.predict(df)) >= 0.9
    assert seg.predict(far).tolist() == ["noise", "noise"]
    assert seg.params_["noise_radius"] > 0 and len(seg.params_["exemplars"]) <= 3 * seg.n_exemplars


def test_hdbscan_without_clusters_fails_clearly():
    df = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0)})
    with pytest.raises(FitError, match="min_cluster_size"):
        ClusterSegmenter(["a", "b"], algorithm="hdbscan", min_cluster_size=200).fit(df)


def test_mixed_feature_types():
    rng = np.random.default_rng(0)
    df, _ = _blobs(n=300)
    df["vip"] = rng.random(300) < 0.1
    df["region"] = rng.choice(["n", "s"], 300)
    seg = ClusterSegmenter(
        {"a": "numeric", "b": "numeric", "vip": "boolean", "region": "categorical"}, k=3, n_bootstrap=0
    ).fit(df)
    names = seg.preprocessor_.get_feature_names_out()
    assert names[:3] == ["a", "b", "vip"] and sorted(names[3:]) == ["region=n", "region=s"]
    assert seg.params_["centroids"].shape == (3, 5)


def test_estimator_contract_and_errors():
    df, _ = _blobs(n=60)
    seg = ClusterSegmenter(["a", "b"], k=2, n_bootstrap=0)
    assert clone(seg).get_params() == seg.get_params()
    with pytest.raises(NotFittedError):
        seg.predict(df)
    # The messages are generated from ClusterSegmenter._parameter_constraints.
    with pytest.raises(ConfigError, match="'algorithm' parameter of ClusterSegmenter .* Did you mean 'kmeans'"):
        ClusterSegmenter(["a"], algorithm="kmean").fit(df)
    with pytest.raises(ConfigError, match=r"'k_range' parameter .* must be a \(low, high\) pair with low <= high, "
                                          r"each an int in the range \[2, inf\)\. Got \(1, 3\)"):
        ClusterSegmenter(["a"], k_range=(1, 3)).fit(df)
    with pytest.raises(ConfigError, match=r"'k' parameter .* must be an int in the range \[1, inf\) or a str among "
                                          r"\{'auto'\}\. Got 'many' instead\.$"):
        ClusterSegmenter(["a"], k="many").fit(df)
    # Too few rows for the segments asked for is a property of the data.
    with pytest.raises(DataError, match=r"k=80 segments on 60 sample\(s\)"):
        ClusterSegmenter(["a"], k=80).fit(df)
