"""Explain a stored run: why a customer is in their segment(s), and what each rule condition keeps."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pandas as pd

from segmint.errors import ConfigError, UnknownNameError
from segmint.segment import kinds
from segmint.segment import membership as ms
from segmint.segment.context import ID, SegmentContext, features_at, get_definition, iso, resolver
from segmint.segment.reasons import cached_plan, explain_stored
from segmint.segment.results import Why
from segmint.segment.rules import attrition as rule_attrition
from segmint.segment.rules import explain
from segmint.segment.runs import run_info

__all__ = ["RunCache", "attrition", "why", "why_computed"]


class RunCache:
    """Stored-run answers for repeated look-ups: which run ``(name, as_of)`` means, and its model.

    Valid while this process stores no run (:func:`segmint.segment.membership.writes`);
    another process cannot store one while this one holds the workspace open. The
    server keeps one per app, so a look-up runs one query instead of three.
    """

    def __init__(self) -> None:
        self._items: dict[tuple, tuple[int, tuple]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple | None:
        entry = self._items.get(key)
        return entry[1] if entry is not None and entry[0] == ms.writes() else None

    def put(self, key: tuple, generation: int, value: tuple) -> None:
        with self._lock:
            if len(self._items) > 1024:
                self._items.clear()
            self._items[key] = (generation, value)


def why(ctx: SegmentContext, name: str, customer_id: object, as_of: object = None,
        cache: RunCache | None = None) -> Why:
    """Why a customer is in their segment(s): rule conditions held or failed, or cluster distances.

    Runs store their reasons (:mod:`segmint.segment.reasons`), so this is three small
    queries (the run, the model, the customer's row); a run stored before reasons
    existed is explained by evaluating the rules on its feature snapshot, with the same
    result. Stored runs are explained even when their definition has since been removed.
    With a :class:`RunCache`, repeated look-ups skip the first two queries.

    Raises
    ------
    UnknownNameError
        Unknown segmentation, or a customer who is not in the run's feature snapshot.
    DataError
        The segmentation has no run (at ``as_of``).
    """
    key = (str(ctx.store.path), name, None if as_of is None else str(as_of))
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        generation = ms.writes()  # read before the tables: see RunCache
        version, when, stored = run_info(ctx, name, as_of, defined=False)
        doc, text = ctx.models.get(ctx.store, name, version)
        hit = (version, when, stored, doc, text)
        if cache is not None:
            cache.put(key, generation, hit)
    version, when, stored, doc, text = hit
    cid = str(customer_id)
    if stored:
        found = ms.lookup(ctx.store, name, version, when, cid)
        if found is None:
            raise UnknownNameError(f"customer {cid!r} is not in the feature snapshot as of {iso(when)}")
        assigned, payload = found
        return Why.from_parts(_header(name, doc, version, when, cid), assigned,
                              explain_stored(doc, payload, assigned, cached_plan(doc, text)))
    return why_computed(ctx, name, doc, version, when, cid)


def _header(name: str, doc: dict[str, Any], version: int, when: dt.datetime, cid: str) -> dict[str, Any]:
    return {"segmentation": name, "kind": doc["kind"], "version": version, "as_of": iso(when), "customer_id": cid}


def why_computed(ctx: SegmentContext, name: str, doc: dict[str, Any], version: int, when: dt.datetime,
                 cid: str) -> Why:
    """``why`` for a run without stored reasons: evaluate every rule on the feature snapshot."""
    from segmint.features.snapshot import load_features

    table = load_features(ctx.store, when)
    assigned = (ms.memberships(ctx.store, name, version, when).filter(lambda t: t.customer_id == cid)
                .order_by("segment").to_pyarrow()["segment"].to_pylist())
    row = table.filter(table[ID] == cid).to_pyarrow().to_pandas()
    if row.empty:
        raise UnknownNameError(f"customer {cid!r} is not in the feature snapshot as of {iso(when)}")
    parts: dict[str, Any] = {}
    rules_doc = doc.get("rules")
    if rules_doc is not None:
        resolve = resolver(ctx.definitions(), table)
        parts["rules"] = []
        for seg in rules_doc["segments"]:
            steps = explain(seg["where"], table, ID, cid, resolve)
            parts["rules"].append({"segment": seg["name"], "where": seg["where"],
                                   "held": bool(steps["held"][0] is True),
                                   "conditions": steps.to_dict(orient="records")})
    parts.update(kinds.for_model(doc).explain_computed(doc, row, assigned))
    return Why.from_parts(_header(name, doc, version, when, cid), assigned, parts)


def attrition(ctx: SegmentContext, name: str, as_of: object = None) -> dict[str, pd.DataFrame]:
    """Per rule segment: how many customers each AND condition keeps, alone and cumulatively."""
    defs = ctx.definitions()
    defn = get_definition(ctx, name, defs)
    pairs = kinds.get(defn.kind).rule_pairs(defn)
    if pairs is None:
        raise ConfigError(f"segmentation {name!r} is of kind {defn.kind}; attrition applies to rule segments")
    table, _ = features_at(ctx, as_of)
    resolve = resolver(defs, table)
    return {segment: rule_attrition(where, table, resolve) for segment, where in pairs}
