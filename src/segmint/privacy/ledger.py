"""The erasure ledger and the suppression list: what was erased or purged, and who may not come back.

Two tables in the store, neither of which holds a customer id:

* ``erasure_ledger``: one row per request (``forget``, ``readmit``, ``retention``): when, the
  request's id and text, who asked, how many people, the keyed hash of each id, the rows taken
  from each table, the files regenerated or deleted, and the destinations told;
* ``erasure_suppression``: the keyed hash of each erased id. Ingest compares the hash of every
  incoming ``customer_id`` with it and quarantines a match with the reason ``erased`` (its raw
  record withheld), until ``segmint forget --readmit ID`` removes the entry.

The hash is ``HMAC-SHA256(key, "erasure" + NUL + id)`` with the workspace's pseudonymisation key
(:func:`segmint.ingest.pii.load_or_create_key`): the same id gives the same hash, and nobody
without the key can test a guessed id against the ledger. Rotating the key ends every
suppression (docs/privacy.md, "Keys").

Examples
--------
>>> subject_hash(b"k" * 32, "C1") == subject_hash(b"k" * 32, "C1"), len(subject_hash(b"k" * 32, "C1"))
(True, 64)
>>> subject_hash(b"k" * 32, "C1") == subject_hash(b"j" * 32, "C1")
False
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store import Store

LEDGER = "erasure_ledger"
SUPPRESSION = "erasure_suppression"

SCHEMAS = {
    LEDGER: ibis.schema({"request_id": "string", "at": "timestamp", "action": "string", "request": "string",
                         "who": "string", "subjects": "int64", "subject_hashes": "string", "tables": "string",
                         "rows": "int64", "files": "string", "destinations": "string", "details": "string"}),
    SUPPRESSION: ibis.schema({"subject_hash": "string", "request_id": "string", "since": "timestamp"}),
}


def subject_hash(key: bytes, customer_id: str) -> str:
    """The keyed hash the ledger and the suppression list hold for ``customer_id`` (64 hex digits)."""
    return hmac.new(bytes(key), b"erasure\0" + str(customer_id).encode(), hashlib.sha256).hexdigest()


def erasure_key(store: Store) -> bytes | None:
    """The workspace's pseudonymisation key, for a store at ``<workspace>/.segmint/store.duckdb`` (None in memory)."""
    from segmint.ingest.pii import load_or_create_key

    if str(store.path) == ":memory:":
        return None
    return load_or_create_key(store.path.parent.parent)


def ensure_tables(store: Store) -> None:
    """Create the ledger and the suppression table when missing."""
    existing = set(store.con.list_tables())
    for name, schema in SCHEMAS.items():
        if name not in existing:
            store.con.create_table(name, schema=schema)


def now() -> dt.datetime:
    """UTC now, naive (as the store keeps times)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record(store: Store, *, request_id: str, action: str, request: str, who: str, hashes: list[str],
           tables: dict[str, int], files: dict[str, str] | None = None,
           destinations: list[dict[str, Any]] | None = None, details: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> None:
    """Append one request to the ledger (inside the caller's transaction)."""
    ensure_tables(store)
    row = {"request_id": request_id, "at": at or now(), "action": action, "request": request, "who": who,
           "subjects": len(hashes), "subject_hashes": json.dumps(sorted(hashes)),
           "tables": json.dumps(tables, sort_keys=True), "rows": int(sum(tables.values())),
           "files": json.dumps(files or {}, sort_keys=True), "destinations": json.dumps(destinations or []),
           "details": json.dumps(details or {}, sort_keys=True, default=str)}
    store.con.insert(LEDGER, ibis.memtable(pa.Table.from_pylist([row], schema=SCHEMAS[LEDGER].to_pyarrow())))


def entries(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    """The latest ledger rows first, JSON columns parsed."""
    if LEDGER not in store.con.list_tables():
        return []
    t = store.con.table(LEDGER)
    rows = t.order_by(ibis.desc("at")).limit(int(limit)).to_pyarrow().to_pylist()
    for r in rows:
        r["at"] = r["at"].isoformat()
        for c in ("subject_hashes", "tables", "files", "destinations", "details"):
            r[c] = json.loads(r[c] or "null")
    return rows


def suppress(store: Store, hashes: Iterable[str], request_id: str) -> int:
    """Add suppression entries (those not there yet); returns how many were added."""
    ensure_tables(store)
    hashes = sorted(set(hashes))
    if not hashes:
        return 0
    t = store.con.table(SUPPRESSION)
    new = ibis.memtable(pa.table({"subject_hash": pa.array(hashes, pa.string())}))
    fresh = new.anti_join(t, "subject_hash").mutate(request_id=ibis.literal(request_id),
                                                    since=ibis.literal(now(), type="timestamp"))
    n = int(fresh.count().to_pyarrow().as_py())
    if n:
        store.con.insert(SUPPRESSION, fresh.select(*SCHEMAS[SUPPRESSION].names))
    return n


def suppressed(store: Store, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` are on the suppression list."""
    if SUPPRESSION not in store.con.list_tables():
        return set()
    hashes = sorted(set(hashes))
    if not hashes:
        return set()
    t = store.con.table(SUPPRESSION)
    found = t.filter(t.subject_hash.isin(hashes)).subject_hash.to_pyarrow().to_pylist()
    return set(found)


def lift(store: Store, hashes: Iterable[str]) -> int:
    """Remove suppression entries; returns how many there were."""
    hit = suppressed(store, hashes)
    if hit:
        keys = ibis.memtable(pa.table({"subject_hash": pa.array(sorted(hit), pa.string())}))
        store.delete_keys(SUPPRESSION, ["subject_hash"], keys)
    return len(hit)


def has_suppressions(store: Store) -> bool:
    """Whether any id is suppressed (ingest checks this before hashing anything)."""
    if SUPPRESSION not in store.con.list_tables():
        return False
    return int(store.con.table(SUPPRESSION).count().to_pyarrow().as_py()) > 0


def erased_ids(store: Store, ids: ibis.Column) -> ibis.Table | None:
    """The ids among ``ids`` (a column of an ingest's typed rows) that were erased: a table ``_erased_id``.

    None when nothing is suppressed (no hashing then). Only the distinct ids of the source are hashed.
    """
    if not has_suppressions(store):
        return None
    key = erasure_key(store)
    if key is None:
        return None
    distinct = ids.name("_id").as_table().distinct().filter(lambda t: t._id.notnull()).to_pyarrow()
    values = distinct.column("_id").to_pylist()
    if not values:
        return None
    hashes = [subject_hash(key, v) for v in values]
    hit = suppressed(store, hashes)
    found = [v for v, h in zip(values, hashes) if h in hit]
    if not found:
        return None
    return ibis.memtable(pa.table({"_erased_id": pa.array(found, pa.string())}))


__all__ = ["LEDGER", "SUPPRESSION", "entries", "erased_ids", "erasure_key", "lift", "record", "subject_hash",
           "suppress", "suppressed"]
