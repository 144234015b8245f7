"""Bootstrap and temporal agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.evaluate import bootstrap_agreement, temporal_agreement


@pytest.mark.parametrize("surrogate", ["tree", "centroid"])
def test_structure_is_stable_and_noise_is_not(surrogate):
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(10, 1, (300, 2)), rng.normal((0, 10), 1, (300, 2))]
    y = np.repeat(["a", "b", "c"], 300)
    good, jac = bootstrap_agreement(X, y, n_bootstrap=5, surrogate=surrogate)
    assert good["bootstrap_ari"] > 0.95 and jac.min() > 0.95
    bad, jac = bootstrap_agreement(X, rng.permutation(y), n_bootstrap=5, surrogate=surrogate)
    assert bad["bootstrap_ari"] < 0.05 and jac.max() < 0.5


def test_unknown_surrogate():
    with pytest.raises(ValueError, match="surrogate"):
        bootstrap_agreement(np.zeros((10, 1)), ["a"] * 5 + ["b"] * 5, surrogate="svm")


def test_temporal_agreement_counts_leavers_and_joiners():
    a = pd.Series(["x", "x", "y", "y", "y"], index=[1, 2, 3, 4, 5])
    b = pd.Series(["x", "y", "y", "y", "x"], index=[1, 2, 3, 4, 6])  # 5 left, 6 joined
    summary, per = temporal_agreement(a, b)
    assert summary["customers_both"] == 4
    assert summary["customers_only_earlier"] == 1 and summary["customers_only_later"] == 1
    y = per.set_index("segment").loc["y"]
    assert y["stayed"] == 2 and y["retention"] == pytest.approx(2 / 3) and y["jaccard"] == pytest.approx(2 / 4)


def test_temporal_agreement_equals_the_sets_of_customers_it_counts():
    # The per-segment figures are counted, not built from sets of ids; they must be the set answers, with
    # customers at one date only, unlabelled ones, a segment that empties and one that appears.
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(3)
    ids = np.array([f"C{i:05d}" for i in range(3000)])
    before = pd.Series(rng.choice(["x", "y", "z", None], len(ids), p=[0.4, 0.3, 0.2, 0.1]), index=ids)
    later_ids = np.r_[ids[rng.random(len(ids)) < 0.9], [f"N{i}" for i in range(300)]]
    after = pd.Series(rng.choice(["x", "y", "w"], len(later_ids)), index=later_ids)
    summary, per = temporal_agreement(before, after)

    a, b = before.dropna(), after.dropna()
    both = a.index.intersection(b.index)
    assert summary["temporal_ari"] == pytest.approx(adjusted_rand_score(a.loc[both], b.loc[both]), abs=1e-12)
    assert (summary["customers_both"], summary["customers_only_earlier"], summary["customers_only_later"]) == (
        len(both), len(a.index.difference(b.index)), len(b.index.difference(a.index)))
    for row in per.itertuples():
        was, now = set(a.index[a == row.segment]), set(b.index[b == row.segment])
        assert (row.earlier, row.later, row.stayed) == (len(was), len(now), len(was & now))
        assert row.retention == pytest.approx(len(was & now) / len(was))
        assert row.jaccard == pytest.approx(len(was & now) / len(was | now))
    assert set(per.segment) == {"x", "y", "z"} and per.set_index("segment").loc["z", "later"] == 0


def test_temporal_agreement_refuses_a_customer_labelled_twice():
    from segmint.errors import DataError

    once = pd.Series(["x", "y", "y"], index=["C1", "C2", "C3"])
    twice = pd.Series(["x", "y", "x"], index=["C1", "C2", "C2"])
    with pytest.raises(DataError, match=r"labels_later: 1 customer ids appear more than once \('C2'\)"):
        temporal_agreement(once, twice)
    with pytest.raises(DataError, match=r"^labels: 1 customer ids"):
        temporal_agreement(twice, once)
