"""Planted and random segmentations shared by the evaluation tests.

Plain cached functions rather than conftest.py fixtures: several test folders have no
``__init__.py``, and under ``--doctest-modules`` their conftest.py files clash by name. The
cache computes each result once per session, whichever test asks first.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from segmint.evaluate import planted_features, scorecard


@cache
def get_planted() -> tuple[pd.DataFrame, pd.Series]:
    """3,000 customers in five well-separated planted segments."""
    return planted_features(3000, seed=0)


@cache
def _card(kind: str):
    features, labels = get_planted()
    if kind == "random":
        labels = pd.Series(np.random.default_rng(1).integers(0, 5, len(features)), index=features.index)
    return scorecard(features, labels, n_bootstrap=10, sample_size=2000)


def get_planted_card():
    return _card("planted")


def get_random_card():
    return _card("random")
