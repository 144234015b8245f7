"""Tests for segmint.segment.kselect: the rule, and k="auto" on data with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segmint.segment.cluster import ClusterSegmenter
from segmint.segment.kselect import adjusted_rand, choose_k, quality_scores, select_k


def _row(k, sil, ch, db, stab=None):
    row = {"k": k, "silhouette": sil, "calinski_harabasz": ch, "davies_bouldin": db}
    if stab is not None:
        row["stability"] = stab
    return row


def test_rank_aggregation_with_stability_gate():
    rows = [_row(2, 0.5, 100, 0.9, 0.99), _row(3, 0.6, 200, 0.6, 0.95), _row(4, 0.9, 900, 0.2, 0.5)]
    k, reason, table = choose_k(rows, stability_threshold=0.8)
    assert k == 3  # k=4 scores best but is unstable
    assert "k=4 failed the stability gate" in reason
    assert table["passes_gate"].tolist() == [True, True, False]
    assert table["mean_rank"].tolist()[:2] == [2.0, 1.0] and np.isnan(table["mean_rank"][2])


def test_without_stability_ties_go_to_the_smaller_k_and_nan_ranks_last():
    rows = [_row(3, 0.6, 200, 0.5), _row(2, 0.7, 100, 0.6), _row(4, np.nan, 300, 0.4)]
    k, reason, table = choose_k(rows)
    # k=2: ranks 1,3,3 (7/3); k=3: 2,2,2 (2); k=4: 3,1,1 (5/3) -> k=4 wins outright
    assert k == 4 and table["k"].tolist() == [2, 3, 4]
    assert "stability not measured" in reason
    assert table["chosen"].tolist() == [False, False, True]
    tie = [_row(2, 0.7, 100, 0.5), _row(3, 0.6, 200, 0.5)]
    k, reason, _ = choose_k(tie)
    assert k == 2 and "tie with k=3 goes to the smaller k" in reason


def test_near_tie_between_stable_k_goes_to_the_larger():
    """A coarse split of a hierarchy against the finer stable partition (the generated shop, test features).

    Davies-Bouldin and Calinski-Harabasz favour k=2 (businesses against consumers), the
    silhouette k=7 (the seven personas); both are stable. Mean ranks tie at 5/3 among the
    gated k, and ties or near ties (within one place on one criterion) go to the larger k.
    """
    rows = [
        _row(2, 0.337, 2783, 0.880, 1.000),
        _row(3, 0.261, 2369, 1.419, 0.583),
        _row(6, 0.337, 2571, 1.286, 0.824),
        _row(7, 0.381, 2774, 1.072, 0.997),
        _row(8, 0.354, 2507, 1.353, 0.949),
        _row(9, 0.326, 2295, 1.516, 0.944),
    ]
    k, reason, table = choose_k(rows)
    assert k == 7
    assert reason.startswith("k=7 has the best mean rank 1.67")
    assert "k=2 within 0.33 of it, the largest stable k is preferred" in reason
    assert table.loc[table["near_best"], "k"].tolist() == [2, 7]
    assert table.loc[table["chosen"], "k"].tolist() == [7]
    # One place worse on one criterion is still a near tie: the larger stable k wins.
    rows = [_row(2, 0.5, 300, 0.5, 1.0), _row(3, 0.6, 200, 0.6, 0.95), _row(4, 0.4, 100, 0.7, 0.9)]
    k, reason, table = choose_k(rows)  # mean ranks: k=2 (2+1+1)/3, k=3 (1+2+2)/3, k=4 3
    assert k == 3 and table["mean_rank"].tolist() == pytest.approx([4 / 3, 5 / 3, 3.0])
    assert reason.startswith(
        "k=3 (mean rank 1.67) is the largest stable k within 0.33 of the best mean rank 1.33 (k=2)"
    )


def test_no_k_passes_the_gate_keeps_the_most_stable():
    rows = [_row(2, 0.5, 100, 0.9, 0.5), _row(3, 0.9, 900, 0.2, 0.7), _row(4, 0.95, 950, 0.1, 0.3)]
    k, reason, table = choose_k(rows, stability_threshold=0.8)
    assert k == 3 and "no k reached stability" in reason
    assert table["passes_gate"].tolist() == [False, True, False]


def test_quality_scores_single_cluster_is_nan():
    X = np.random.default_rng(0).normal(size=(20, 2))
    assert all(np.isnan(v) for v in quality_scores(X, np.zeros(20, int), np.arange(20)).values())


@pytest.mark.parametrize(
    ("centers", "std", "seed"),
    [
        (4, 0.6, 0),
        (6, 0.5, 2),
        pytest.param(4, 1.2, 1, marks=pytest.mark.slow),
        pytest.param(6, 0.9, 4, marks=pytest.mark.slow),
    ],
)
def test_auto_k_finds_blobs(centers, std, seed):
    X, truth, C = make_blobs(
        n_samples=450,
        centers=centers,
        n_features=3,
        cluster_std=std,
        center_box=(-12, 12),
        random_state=seed,
        return_centers=True,
    )
    # "Well separated": centres at least 6 standard deviations apart.
    assert pdist(C).min() >= 6 * std
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    seg = ClusterSegmenter(["a", "b", "c"], k_range=(2, 9), n_bootstrap=4, random_state=seed).fit(df)
    assert seg.k_ == centers, seg.selection_reason_
    assert adjusted_rand_score(truth, seg.predict(df)) >= 0.9
    assert set(seg.selection_["k"]) == set(range(2, 10))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_mall_customers_has_five_groups(seed, shared_data):
    df = pd.read_csv(shared_data / "mall_customers.csv")
    seg = ClusterSegmenter(["annual_income_thousands", "spending_score"], random_state=seed).fit(df)
    assert seg.k_ == 5, seg.selection_reason_
    table = seg.selection_
    criteria = {"silhouette", "calinski_harabasz", "davies_bouldin", "stability", "mean_rank", "chosen"}
    assert criteria <= set(table)
    assert table.loc[table["k"] == 5, "stability"].item() >= 0.8
    assert seg.selection_reason_.startswith("k=5 has the best mean rank")


def test_resample_fits_restart_the_model_kept_at_each_k():
    """With one random start per fit k-means often merges blobs; the resample fits' solutions rescue it."""
    X, _ = make_blobs(600, centers=8, cluster_std=0.4, center_box=(-15, 15), random_state=3)

    def make(k, seed, bootstrap):
        return KMeans(k, n_init=1, init="random", random_state=seed)

    def restart(fitted):
        return KMeans(len(fitted.cluster_centers_), init=fitted.cluster_centers_, n_init=1)

    plain = select_k(X, [6, 7, 8, 9], make, n_bootstrap=4, random_state=0)
    helped = select_k(X, [6, 7, 8, 9], make, n_bootstrap=4, random_state=0, restart=restart)
    # Same resamples, so the same stability; the kept models are never worse and here much better.
    assert helped.table["stability"].tolist() == plain.table["stability"].tolist()
    assert (helped.table["inertia"] <= plain.table["inertia"]).all()
    assert helped.table.set_index("k").loc[8, "inertia"] < 0.1 * plain.table.set_index("k").loc[8, "inertia"]
    for k, model in helped.models.items():
        assert model.inertia_ == pytest.approx(helped.table.set_index("k").loc[k, "inertia"])


def test_same_seed_same_result():
    X, _ = make_blobs(n_samples=400, centers=3, random_state=5)
    df = pd.DataFrame(X, columns=["a", "b"])
    kwargs = {
        "features": ["a", "b"],
        "k_range": (2, 5),
        "n_bootstrap": 3,
        "sample_size": 300,
        "random_state": 11,
    }
    one, two = ClusterSegmenter(**kwargs).fit(df), ClusterSegmenter(**kwargs).fit(df)
    pd.testing.assert_frame_equal(one.selection_, two.selection_)
    assert one.to_json() == two.to_json()
    assert np.array_equal(one.predict(df), two.predict(df))


def test_adjusted_rand_matches_scikit_learn():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.integers(0, rng.integers(1, 8), 300), rng.integers(0, rng.integers(1, 8), 300)
        assert adjusted_rand(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    same = rng.integers(0, 5, 100)
    assert adjusted_rand(same, (same + 2) % 5) == 1.0
    assert adjusted_rand(np.zeros(10, int), np.zeros(10, int)) == adjusted_rand_score(np.zeros(10), np.zeros(10))
