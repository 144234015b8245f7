"""``kind: tiers``: bands of one numeric feature (CLV tiers, churn-risk tiers); see :mod:`segmint.segment.tiers`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir

from segmint.segment.definitions import TierDef
from segmint.segment.kinds import register
from segmint.segment.kinds.base import FitContext, Resolver, SegmentationKind, labelled

__all__ = ["TIERS", "TiersKind"]


class TiersKind(SegmentationKind):
    name = "tiers"
    model_kind = "tiers"
    definition = TierDef

    def fit(self, defn: Any, table: ir.Table, ctx: FitContext) -> dict[str, Any]:
        from segmint.segment.tiers import fit_tiers

        return fit_tiers(defn, table)

    def label(self, doc: Mapping[str, Any], table: ir.Table, resolver: Resolver | None = None) -> ir.Table:
        from segmint.segment.tiers import tier_expression

        return labelled(table, tier_expression(doc, table))

    def segment_names(self, doc: Mapping[str, Any]) -> list[str]:
        return list(doc["labels"]) + ([doc["missing"]] if doc["missing"] else [])

    def reason_features(self, doc: Mapping[str, Any]) -> list[str]:
        return [doc["feature"]]

    def explain_stored(self, doc: Mapping[str, Any], values: Mapping[str, Any], assigned: Sequence[str],
                       segmenters: Mapping[str, Any]) -> dict[str, Any]:
        from segmint.segment.tiers import describe_band

        value = values.get(doc["feature"])
        value = None if value is None else float(value)
        return {"tier": {"feature": doc["feature"], "value": None if value != value else value,  # NaN: missing
                         "band": describe_band(doc, assigned[0]) if assigned else None, "cuts": doc["cuts"]}}

    def explain_computed(self, doc: Mapping[str, Any], row, assigned: Sequence[str]) -> dict[str, Any]:
        import pandas as pd

        from segmint.segment.tiers import describe_band

        value = row[doc["feature"]].iloc[0]
        return {"tier": {"feature": doc["feature"], "value": None if pd.isna(value) else float(value),
                         "band": describe_band(doc, assigned[0]) if assigned else None, "cuts": doc["cuts"]}}


TIERS = register(TiersKind())
