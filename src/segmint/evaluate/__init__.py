"""Validate segments: are they distinct, stable, substantial, reachable, explainable, profitable?

The entry point is :func:`scorecard`; the measures it combines are usable on their own.
"""

from segmint.evaluate.distinct import cluster_quality, effect_sizes, feature_tests, separability
from segmint.evaluate.explain import Explanation, explain
from segmint.evaluate.inputs import prepare
from segmint.evaluate.scorecard import Scorecard, scorecard
from segmint.evaluate.stability import bootstrap_agreement, temporal_agreement
from segmint.evaluate.synthetic import planted_features
from segmint.evaluate.thresholds import METRICS, Thresholds

__all__ = [
    "METRICS", "Explanation", "Scorecard", "Thresholds", "bootstrap_agreement", "cluster_quality",
    "effect_sizes", "explain", "feature_tests", "planted_features", "prepare", "scorecard", "separability",
    "temporal_agreement",
]
