"""Who may not be sent anywhere: the suppression list, consent, and other exclusions (holdouts).

``suppressions`` holds customers nobody may send to (``segmint suppress``): people who asked
not to be contacted, test accounts, staff. Every destination checks it at send time
(:func:`excluded`), together with ``marketing_consent`` (unless the destination says
``consent: false``) and every extra rule the caller passes (the workspace passes the
holdout groups of running campaigns, :mod:`segmint.measure.campaigns`), so a change made before someone was
suppressed is still held back when it is sent.

Examples
--------
>>> import ibis
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> suppress(store, ["C2"], reason="asked not to be contacted")
1
>>> ids = ibis.memtable({"customer_id": ["C1", "C2"]})
>>> sorted(excluded(store, ids, require_consent=False))
['C2']
>>> [r["customer_id"] for r in suppressed(store)]
['C2']
>>> unsuppress(store, ["C2"])
1
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.activate.consent import CONSENT

__all__ = ["Exclusion", "SUPPRESSIONS", "excluded", "suppress", "suppressed", "unsuppress"]

SUPPRESSIONS = "suppressions"
SCHEMA = ibis.schema({"customer_id": "string", "reason": "string", "added_at": "timestamp"})

#: Another exclusion: ``f(store, ids) -> ibis.Table`` of the ``customer_id`` of ``ids`` to hold back.
Exclusion = Callable[[Any, ir.Table], ir.Table]


def _ensure(store) -> None:
    if SUPPRESSIONS not in store.con.list_tables():
        store.con.create_table(SUPPRESSIONS, schema=SCHEMA)


def suppress(store, customer_ids: list[str], reason: str = "") -> int:
    """Add customers to the suppression list (those already on it stay as they were); how many were added."""
    _ensure(store)
    ids = sorted({str(c) for c in customer_ids})
    t = store.con.table(SUPPRESSIONS)
    # a table of the ids, not a literal list: any text (a NUL, quotes) is data, never part of the SQL
    wanted = ibis.memtable({"customer_id": ids}, schema={"customer_id": "string"})
    have = set(t.semi_join(wanted, "customer_id").customer_id.to_pyarrow().to_pylist()) if ids else set()
    new = [c for c in ids if c not in have]
    if new:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        store.con.insert(SUPPRESSIONS, ibis.memtable({"customer_id": new, "reason": [reason[:200]] * len(new),
                                                      "added_at": [now] * len(new)}, schema=SCHEMA))
    return len(new)


def unsuppress(store, customer_ids: list[str]) -> int:
    """Take customers off the list; how many were on it."""
    _ensure(store)
    ids = ibis.memtable({"customer_id": sorted({str(c) for c in customer_ids})}, schema={"customer_id": "string"})
    t = store.con.table(SUPPRESSIONS)
    n = int(t.semi_join(ids, "customer_id").count().to_pyarrow().as_py())
    if n:
        store.delete_keys(SUPPRESSIONS, ["customer_id"], ids)
    return n


def suppressed(store) -> list[dict[str, Any]]:
    """The suppression list, oldest first."""
    _ensure(store)
    return store.con.table(SUPPRESSIONS).order_by(["added_at", "customer_id"]).to_pyarrow().to_pylist()


def excluded(store, ids: ir.Table, require_consent: bool = True, rules: list[Exclusion] = ()) -> list[str]:
    """The customers of ``ids`` (a table with ``customer_id``) who may not be sent now."""
    _ensure(store)
    ids = ids.select(customer_id=ids.customer_id.cast("string"))
    parts = [ids.semi_join(store.con.table(SUPPRESSIONS), "customer_id")]
    if require_consent:
        c = store.table("customers").select("customer_id", CONSENT)
        ok = c.filter(c[CONSENT].fill_null(False)).select("customer_id")
        parts.append(ids.anti_join(ok, "customer_id"))
    for rule in rules:
        parts.append(rule(store, ids).select("customer_id"))
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out.distinct().customer_id.to_pyarrow().to_pylist()
