"""Rule kinds: ``rules`` (exclusive, first match wins), ``audiences`` (overlapping) and ``rfm`` (the template).

All three fit the same ``rules`` model document: the rules, checked against the snapshot's
features, with the definition kind recorded as ``segmentation_kind``.

Examples
--------
>>> import ibis, pyarrow as pa
>>> from segmint.segment import kinds
>>> from segmint.segment.definitions import parse_definition
>>> defn = parse_definition("a", {"kind": "audiences", "segments": {"Big": "spend > 10", "Any": "spend >= 0"}})
>>> t = ibis.memtable(pa.table({"customer_id": ["a", "b"], "spend": [5.0, 50.0]}))
>>> kind = kinds.get("audiences")
>>> doc = kind.fit(defn, t, kinds.FitContext(features=None, definitions={"a": defn}))
>>> sorted(map(tuple, kind.label(doc, t).to_pyarrow().to_pandas().values.tolist()))
[('a', 'Any'), ('b', 'Any'), ('b', 'Big')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.errors import ConfigError
from segmint.segment.definitions import RuleDef
from segmint.segment.kinds import register
from segmint.segment.kinds.base import ID, FitContext, Resolver, SegmentationKind, labelled

__all__ = ["AUDIENCES", "RFM", "RULES", "RulesKind"]


class RulesKind(SegmentationKind):
    """Named rules over the features; exclusive (first match wins) or overlapping audiences."""

    model_kind = "rules"
    definition = RuleDef
    referable = True

    def __init__(self, name: str = "rules", exclusive: bool = True) -> None:
        self.name = name
        self.exclusive = exclusive

    def rule_pairs(self, defn: Any) -> list[tuple[str, str]]:
        return defn.rule_pairs()

    def checked_rules(self, defn: Any, table: ir.Table, ctx: FitContext):
        """The definition's rules, checked against the snapshot's features and the other definitions' segments."""
        from segmint.segment.rule_compile import catalog_from_schema
        from segmint.segment.rules import RuleSegmentation

        segs = {n: (d.segment_names() if hasattr(d, "segment_names") else []) for n, d in ctx.definitions.items()}
        rules = RuleSegmentation(defn.rule_pairs(), else_=defn.else_, exclusive=defn.exclusive)
        rules.check(catalog_from_schema(table.schema()), segs)  # unknown feature: "did you mean"
        return rules

    def fit(self, defn: Any, table: ir.Table, ctx: FitContext) -> dict[str, Any]:
        from segmint.segment import model as docs

        rules = self.checked_rules(defn, table, ctx)
        return docs.to_jsonable({**docs.model_header("rules"), "segmentation_kind": defn.kind, "rules": rules.to_dict()})

    def _rules(self, doc: Mapping[str, Any]):
        from segmint.segment.rules import RuleSegmentation

        return RuleSegmentation.from_dict(doc["rules"])

    def label(self, doc: Mapping[str, Any], table: ir.Table, resolver: Resolver | None = None) -> ir.Table:
        rules = self._rules(doc)
        if rules.exclusive:
            return labelled(table, rules.compile(table, resolver))
        # audiences: one row per audience a customer is in
        parts = [table.filter(c).select(table[ID], segment=ibis.literal(n, type="string"))
                 for n, c in rules.compile(table, resolver).items()]
        out = parts[0]
        for p in parts[1:]:
            out = out.union(p)
        return out

    def is_exclusive(self, doc: Mapping[str, Any]) -> bool:
        return self._rules(doc).exclusive

    def segment_names(self, doc: Mapping[str, Any]) -> list[str]:
        return self._rules(doc).names


class RfmKind(RulesKind):
    """The built-in RFM template: rules on the RFM scores, written for scores 1..5."""

    def __init__(self) -> None:
        super().__init__("rfm")

    def fit(self, defn: Any, table: ir.Table, ctx: FitContext) -> dict[str, Any]:
        from segmint.segment.rfm_template import RFM_BINS

        if ctx.features is not None and ctx.features.rfm_bins != RFM_BINS:
            raise ConfigError(f"the built-in RFM template is written for scores 1..{RFM_BINS}, but features.rfm_bins "
                              f"is {ctx.features.rfm_bins}; print it with `segmint segment --template rfm`, "
                              "adapt the rules and use kind: rules")
        return super().fit(defn, table, ctx)


RULES = register(RulesKind("rules"))
AUDIENCES = register(RulesKind("audiences", exclusive=False))
RFM = register(RfmKind())
