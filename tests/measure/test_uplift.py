"""The two-model uplift on plain arrays (fast; the end-to-end checks are in test_campaigns.py)."""

from __future__ import annotations

import numpy as np

from segmint.measure.uplift import two_model


def test_a_feature_missing_for_a_whole_arm_is_left_out_of_that_arm():
    """A segment defined by an absence (churned: no recent spend) can leave a feature empty in one group;
    scikit-learn's binning fails on an all-missing column, so that arm's model goes without it."""
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 3))
    treated = rng.random(n) < 0.5
    X[~treated, 2] = np.nan  # missing for every held-out customer
    y = X[:, 0] + treated * (X[:, 1] > 0) * 2.0  # only x1 > 0 responds
    score = two_model(X, y, treated, rng.random(n) < 0.5)
    assert np.isfinite(score).all()
    assert score[X[:, 1] > 0].mean() > score[X[:, 1] <= 0].mean() + 1.0
