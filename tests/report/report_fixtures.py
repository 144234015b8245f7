"""A complete planted report's inputs, shared by the report tests.

Plain cached functions rather than conftest.py fixtures (conftest.py files in folders without
``__init__.py`` clash by name under ``--doctest-modules``); built once per session.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from segmint.evaluate import planted_features, scorecard
from segmint.profile import personas, profile


def get_report_inputs():
    pytest.importorskip("plotly", reason="the HTML report inlines Plotly.js from the plotly package")
    return _inputs()


@cache
def _inputs():
    features, labels = planted_features(2000, seed=0)
    labels = labels.astype(object)
    labels.iloc[:4] = "tiny"  # a segment under min_segment_size, to show suppression
    later = labels.copy()
    later.iloc[100:300] = 1
    card = scorecard(features, labels, labels_later=later, n_bootstrap=5, sample_size=2000)
    prof = profile(features, labels)
    selection = pd.DataFrame({"k": [2, 3, 4, 5, 6], "silhouette": [0.3, 0.35, 0.42, 0.55, 0.45],
                              "calinski_harabasz": [900.0, 1400, 2100, 3000, 2500],
                              "davies_bouldin": [1.2, 1.0, 0.9, 0.7, 0.8], "stability": [0.99, 0.95, 0.9, 0.97, 0.8],
                              "mean_rank": [4.5, 3.5, 3.0, 1.0, 2.5]})
    return {
        "features": features, "labels": labels, "scorecard": card, "profile": prof, "personas": personas(prof),
        "selection": selection, "migrations": pd.crosstab(labels.astype(str), later.astype(str)),
        "rng": np.random.default_rng(0),
    }




def render_planted(inputs, path, **kw):
    """Write the planted report to ``path``; keyword arguments override render_report's."""
    from segmint.report import render_report

    args = {k: inputs[k] for k in ("features", "labels", "scorecard", "profile", "personas")}
    args.update(selection=inputs["selection"], migrations=inputs["migrations"], notes=["Synthetic planted shop."])
    args.update(kw)
    return render_report(path, "Planted shop", **args)
