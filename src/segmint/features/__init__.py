"""Customer features as of any date, computed in the engine as Ibis expressions.

* :func:`compute_features` / :func:`snapshot` / :func:`load_features` /
  :func:`list_snapshots`: compute, store and read feature snapshots
  (:mod:`segmint.features.snapshot`).
* :func:`catalog_for`, :data:`CATALOG`: what each feature means
  (:mod:`segmint.features.catalog`); the reference is ``docs/features.md``.
* :func:`rfm_summary`: Lifetimes' frequency/recency/T summary of a transaction log
  in pandas (:mod:`segmint.features.summary`).
"""

from segmint.features.catalog import CATALOG, FAMILIES, KINDS, PATTERNS, Feature, catalog_for, resolve
from segmint.features.snapshot import (
    compute_features,
    features_frame,
    list_snapshots,
    load_features,
    snapshot,
)
from segmint.features.summary import rfm_summary

__all__ = [
    "CATALOG",
    "FAMILIES",
    "KINDS",
    "PATTERNS",
    "Feature",
    "catalog_for",
    "compute_features",
    "features_frame",
    "list_snapshots",
    "load_features",
    "resolve",
    "rfm_summary",
    "snapshot",
]
