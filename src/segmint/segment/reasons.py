"""Stored reasons: why each customer got their segment, computed once per run in the engine.

``segmint why`` and the server's one-customer look-up used to re-evaluate every rule
(and load the feature snapshot) for each question: several engine queries a call. A
run now also stores, per customer of the snapshot, one JSON text with what an
explanation needs and nothing the model document already holds:

``{"h": [...], "v": {...}}``
    ``h``: whether each node of each rule held (``true``, ``false`` or ``null`` for
    unknown), in the order of :func:`plan` (rule segments in order, each rule's nodes in
    pre-order, as :func:`segmint.segment.rules.explain` lists them); absent for models
    without rules. ``v``: the customer's values of every feature the model reads (rule
    features, the clustered features, the tier feature).

The JSON is built by the engine (a struct cast to JSON) in the same pass that labels
the customers, so storing reasons adds one scan of the snapshot per run and no Python
work per customer. Reading them back (:func:`explain_stored`) rebuilds exactly the
dictionary that the computing path gives: the condition texts and depths come from the
model document, the truth values and feature values from the stored JSON; cluster
distances and pulls are recomputed from the stored values with
:func:`segmint.segment.hybrid.explain_cluster`, a few array operations. What each kind
adds (the features it stores, its part of the explanation) comes from its
:class:`~segmint.segment.kinds.base.SegmentationKind`.

Examples
--------
>>> import ibis, pyarrow as pa
>>> from segmint.segment.rules import RuleSegmentation
>>> rules = RuleSegmentation([("VIP", "spend >= 100 and orders > 2")], else_="Other")
>>> doc = {"kind": "rules", "rules": rules.to_dict()}
>>> t = ibis.memtable(pa.table({"customer_id": ["a", "b"], "spend": [150.0, 20.0], "orders": [3, 1]}))
>>> stored = reasons_table(doc, t).order_by("customer_id").to_pyarrow().to_pylist()
>>> stored[0]["reasons"]
'{"h":[true,true,true],"v":{"spend":150.0,"orders":3}}'
>>> why = explain_stored(doc, stored[1]["reasons"], ["Other"])
>>> [(c["condition"], c["held"]) for c in why["rules"][0]["conditions"]]
[('spend >= 100 and orders > 2', False), ('spend >= 100', False), ('orders > 2', False)]
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.segment import kinds
from segmint.segment.rule_compile import to_ibis
from segmint.segment.rule_parser import And, Expr, Not, Or, parse

__all__ = ["Plan", "explain_stored", "plan", "reasons_table"]

ID = "customer_id"


@dataclass(frozen=True)
class Plan:
    """What a model's explanation needs per customer.

    ``rules``: per rule segment ``(name, where, nodes)`` with ``nodes`` a list of
    ``(depth, node)`` in pre-order; ``features``: every feature the explanation shows;
    ``shown``: per node, in the same order, its text and the features it shows (worked
    out once here rather than on every look-up).
    """

    rules: tuple[tuple[str, str, tuple[tuple[int, Expr], ...]], ...]
    features: tuple[str, ...]
    shown: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: What the kind rebuilds once per model (:meth:`~segmint.segment.kinds.base.SegmentationKind.segmenters`):
    #: for clusters ``(key, ClusterSegmenter)``, key "" for a cluster model, the rule segment in a hybrid one.
    segmenters: tuple[tuple[str, Any], ...] = ()
    #: The kind that reads the model (:func:`segmint.segment.kinds.for_model`), looked up once.
    kind: Any = None


def _nodes(node: Expr, depth: int, out: list[tuple[int, Expr]]) -> None:
    # The same walk as rules.explain: the whole rule, then its and/or/not operands, nested.
    out.append((depth, node))
    if isinstance(node, And | Or | Not):
        for child in node.children():
            _nodes(child, depth + 1, out)


def plan(doc: Mapping[str, Any]) -> Plan:
    """The rule nodes and features that explain a model document (of any registered kind)."""
    rules = []
    features: dict[str, None] = {}
    for seg in (doc.get("rules") or {}).get("segments", []):
        nodes: list[tuple[int, Expr]] = []
        _nodes(parse(seg["where"]), 0, nodes)
        rules.append((seg["name"], seg["where"], tuple(nodes)))
        for f in nodes[0][1].features():
            features.setdefault(f)
    kind = kinds.for_model(doc)
    for f in kind.reason_features(doc):
        features.setdefault(f)
    shown = tuple((node.to_text(), tuple(node.features())) for _, _, nodes in rules for _, node in nodes)
    return Plan(tuple(rules), tuple(features), shown, kind.segmenters(doc), kind)


_PLANS: OrderedDict[str, Plan] = OrderedDict()
_PLANS_LOCK = threading.Lock()


def cached_plan(doc: Mapping[str, Any], key: str) -> Plan:
    """:func:`plan` memoised by ``key`` (the stored model text: a stored version never changes)."""
    with _PLANS_LOCK:
        hit = _PLANS.get(key)
        if hit is not None:
            _PLANS.move_to_end(key)
            return hit
    value = plan(doc)
    with _PLANS_LOCK:
        _PLANS[key] = value
        while len(_PLANS) > 64:
            _PLANS.popitem(last=False)
    return value


def reasons_table(doc: Mapping[str, Any], table: ir.Table, resolver=None, the_plan: Plan | None = None) -> ir.Table:
    """``customer_id`` and ``reasons`` (JSON text) for every row of ``table``, built in the engine.

    Parameters
    ----------
    doc : dict
        The model document the run labels with.
    table : ibis.Table
        The feature snapshot (one row per customer).
    resolver : callable, optional
        Segment resolver for rules using ``in_segment`` (the one the labels use).
    """
    p = the_plan or plan(doc)
    parts: dict[str, ir.Value] = {}
    held = [to_ibis(node, table, resolver).cast("boolean") for _, _, nodes in p.rules for _, node in nodes]
    if held:
        parts["h"] = ibis.array(held)
    # A struct needs at least one field; a model that reads no feature stores only "h".
    if p.features:
        parts["v"] = ibis.struct({f: table[f] for f in p.features})
    if not parts:
        return table.select(table[ID], reasons=ibis.literal("{}", type="string"))
    return table.select(table[ID], reasons=ibis.struct(parts).cast("json").cast("string"))


def explain_stored(doc: Mapping[str, Any], reasons: str, assigned: Sequence[str],
                   the_plan: Plan | None = None) -> dict[str, Any]:
    """The explanation parts of ``why`` (``rules``, ``cluster``, ``tier``) from stored reasons.

    Parameters
    ----------
    doc : dict
        The model document of the run.
    reasons : str
        The stored JSON text of one customer.
    assigned : list of str
        The customer's stored segments.
    """
    p = the_plan or plan(doc)
    payload = json.loads(reasons)
    flags, values = payload.get("h") or [], payload.get("v") or {}
    out: dict[str, Any] = {}
    if doc.get("rules") is not None:
        out["rules"] = []
        i = 0
        for name, where, nodes in p.rules:
            conditions = []
            for depth, _ in nodes:
                text, used = p.shown[i]
                conditions.append({"depth": depth, "condition": text, "values": {f: values.get(f) for f in used},
                                   "held": flags[i]})
                i += 1
            out["rules"].append({"segment": name, "where": where, "held": conditions[0]["held"] is True,
                                 "conditions": conditions})
    out.update((p.kind or kinds.for_model(doc)).explain_stored(doc, values, assigned, dict(p.segmenters)))
    return out
