"""``kind: hybrid``: rule segments, some of whose members are clustered (``segment/cluster_i``).

See :mod:`segmint.segment.hybrid` for the fitting and the assignment expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir

from segmint.segment.kinds import register
from segmint.segment.kinds.base import FitContext, Resolver, SegmentationKind, labelled
from segmint.segment.kinds.cluster import cluster_part, segmenter
from segmint.segment.kinds.rules import RULES

__all__ = ["HYBRID", "HybridKind"]


def _inside(segment: str, assigned: Sequence[str]) -> bool:
    from segmint.segment.hybrid import SEPARATOR

    return any(a.startswith(segment + SEPARATOR) for a in assigned)


class HybridKind(SegmentationKind):
    name = "hybrid"
    model_kind = "hybrid"
    definition = RULES.definition

    def rule_pairs(self, defn: Any) -> list[tuple[str, str]]:
        return defn.rule_pairs()

    def fit(self, defn: Any, table: ir.Table, ctx: FitContext) -> dict[str, Any]:
        from segmint.segment.hybrid import fit_hybrid

        RULES.checked_rules(defn, table, ctx)  # unknown feature or segment: "did you mean", before any fitting
        return fit_hybrid(defn, table, ctx.resolver)

    def label(self, doc: Mapping[str, Any], table: ir.Table, resolver: Resolver | None = None) -> ir.Table:
        from segmint.segment.hybrid import hybrid_expression

        return labelled(table, hybrid_expression(doc, table, resolver))

    def segment_names(self, doc: Mapping[str, Any]) -> list[str]:
        from segmint.segment.hybrid import hybrid_segments

        return hybrid_segments(doc)

    def selection(self, doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        return dict(doc.get("clusters") or {})

    def reason_features(self, doc: Mapping[str, Any]) -> list[str]:
        return [f for cdoc in (doc.get("clusters") or {}).values() for f in (cdoc.get("features") or {})]

    def segmenters(self, doc: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple((segment, segmenter(cdoc)) for segment, cdoc in (doc.get("clusters") or {}).items())

    def explain_stored(self, doc: Mapping[str, Any], values: Mapping[str, Any], assigned: Sequence[str],
                       segmenters: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for segment, cdoc in doc["clusters"].items():
            if _inside(segment, assigned):
                out["cluster"] = cluster_part(cdoc, values, segmenters.get(segment))
        return out

    def explain_computed(self, doc: Mapping[str, Any], row, assigned: Sequence[str]) -> dict[str, Any]:
        from segmint.segment.hybrid import explain_cluster

        out: dict[str, Any] = {}
        for segment, cdoc in doc["clusters"].items():
            if _inside(segment, assigned):
                out["cluster"] = explain_cluster(cdoc, row)
        return out


HYBRID = register(HybridKind())
