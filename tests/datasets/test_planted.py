"""Tests for segmint.datasets.planted: the planted k-selection benchmark's data sets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segmint.datasets.planted import DESIGNS, SMALLEST_SHARE, benchmark_suite, make_from_spec, make_planted


def test_suite_covers_the_designs_sizes_and_k():
    specs = benchmark_suite()
    assert len(specs) == 70 and len({s.name for s in specs}) == 70
    assert {s.design for s in specs} == set(DESIGNS)
    assert {s.k for s in specs} == set(range(2, 9))
    assert all(2_000 <= s.n <= 50_000 and 3 <= s.d <= 8 for s in specs)
    assert benchmark_suite() == specs  # deterministic


@pytest.mark.parametrize("design", DESIGNS)
def test_every_design_plants_k_groups_with_exact_shares(design):
    data = make_planted(design, k=4, n=3_000, d=5, seed=3)
    assert data.X.shape == (3_000, 5) and not data.X.isna().any().any()
    counts = np.bincount(data.labels, minlength=4)
    assert np.abs(counts / 3_000 - data.shares).max() <= 1 / 3_000
    if design == "lognormal":
        assert (data.X > 0).all().all() and (data.X.skew() > 0.5).any()
    again = make_planted(design, k=4, n=3_000, d=5, seed=3)
    assert again.X.equals(data.X) and np.array_equal(again.labels, data.labels)


def test_imbalanced_shares_fall_to_three_percent():
    for k in range(2, 9):
        shares = make_planted("imbalanced", k, 2_000, 3, seed=0).shares
        assert shares.min() == pytest.approx(SMALLEST_SHARE) and shares.sum() == pytest.approx(1.0)
    assert make_planted("imbalanced", 2, 2_000, 3).shares.tolist() == pytest.approx([0.97, 0.03])


def test_noise_design_hides_the_groups_in_some_features_only():
    data = make_planted("noise", k=3, n=3_000, d=7, seed=1)
    # a feature carries group information when the groups' means differ a lot against its spread
    spread = [data.X.groupby(data.labels)[c].mean().std() / data.X[c].std() for c in data.X]
    noise = sum(s < 0.1 for s in spread)
    assert 1 <= noise <= 2 and sum(s > 0.3 for s in spread) == 7 - noise


def test_groups_are_findable_at_the_true_k():
    for spec in benchmark_suite(per_design=1):
        data = make_from_spec(spec)
        Z = np.log(data.X) if spec.design == "lognormal" else data.X
        Z = (Z - Z.mean()) / Z.std()
        labels = KMeans(spec.k, n_init=3, random_state=0).fit_predict(Z)
        assert adjusted_rand_score(data.labels, labels) > 0.8, spec.name
