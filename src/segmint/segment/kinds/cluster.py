"""``kind: cluster``: clustering on the snapshot's features, k chosen by evidence.

Fitting runs in memory on a bounded sample (:func:`segmint.segment.hybrid.fit_cluster`);
every customer is assigned in the engine by nearest centre
(:func:`segmint.segment.assign.assign_expression`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir

from segmint.segment.definitions import ClusterDef
from segmint.segment.kinds import register
from segmint.segment.kinds.base import FitContext, Resolver, SegmentationKind, labelled

__all__ = ["CLUSTER", "ClusterKind", "cluster_part"]


def cluster_part(doc: Mapping[str, Any], values: Mapping[str, Any], segmenter: Any = None) -> dict[str, Any]:
    """A cluster document's explanation from stored feature values (distances and pulls)."""
    from segmint.segment.hybrid import explain_cluster

    return explain_cluster(doc, None, segmenter=segmenter,
                           values={f: values.get(f) for f in (doc.get("features") or {})})


def segmenter(doc: Mapping[str, Any]) -> Any:
    from segmint.segment.cluster import ClusterSegmenter

    return ClusterSegmenter.from_dict(doc)


class ClusterKind(SegmentationKind):
    name = "cluster"
    model_kind = "cluster"
    definition = ClusterDef

    def fit(self, defn: Any, table: ir.Table, ctx: FitContext) -> dict[str, Any]:
        from segmint.segment.hybrid import fit_cluster

        return fit_cluster(defn, table).to_dict()

    def label(self, doc: Mapping[str, Any], table: ir.Table, resolver: Resolver | None = None) -> ir.Table:
        from segmint.segment.assign import assign_expression

        return labelled(table, assign_expression(doc, table))

    def segment_names(self, doc: Mapping[str, Any]) -> list[str]:
        from segmint.segment.cluster import NOISE

        return list(doc["segments"]) + ([NOISE] if doc["algorithm"] == "hdbscan" else [])

    def selection(self, doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        return {"all": doc}

    def reason_features(self, doc: Mapping[str, Any]) -> list[str]:
        return list(doc.get("features") or {})

    def segmenters(self, doc: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        return (("", segmenter(doc)),)

    def explain_stored(self, doc: Mapping[str, Any], values: Mapping[str, Any], assigned: Sequence[str],
                       segmenters: Mapping[str, Any]) -> dict[str, Any]:
        return {"cluster": cluster_part(doc, values, segmenters.get(""))}

    def explain_computed(self, doc: Mapping[str, Any], row, assigned: Sequence[str]) -> dict[str, Any]:
        from segmint.segment.hybrid import explain_cluster

        return {"cluster": explain_cluster(doc, row)}


CLUSTER = register(ClusterKind())
