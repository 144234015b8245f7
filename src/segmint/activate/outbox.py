"""The outbox: every change of membership, written in the same transaction as the memberships.

Destinations (:mod:`segmint.activate.sync`) read what to send from here, never from the
memberships directly: nothing is sent that was not committed (a run that fails rolls its
changes back with it), and nothing committed is lost (a change stays in the outbox until
it is pruned after every destination has taken it).

Two tables:

``outbox``
    One row per change: ``seq`` (a global, increasing sequence number), ``segmentation``,
    ``segment``, ``customer_id``, ``change`` (``entered``, ``exited`` or ``deleted``), the run
    that made it (``version``, ``as_of``), ``customer_seq`` (the customer's own sequence
    number within the segmentation: a receiver that sees changes out of order keeps the
    highest) and ``created_at``.
``outbox_audience``
    The published audience of each segmentation: the memberships of its current run (the
    latest ``as_of``, then the latest version), which the next run is compared with. A new
    destination starts from it (its members arrive as ``entered`` changes).

A run of an earlier ``as_of`` than the current one (a backfill) changes history, not the
audience: it writes no changes.

Examples
--------
>>> import datetime as dt, ibis
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> first = ibis.memtable({"customer_id": ["C1", "C2"], "segment": ["VIP", "New"]})
>>> with store.transaction():
...     record_run(store, "value", 1, dt.datetime(2025, 1, 1), first)
2
>>> later = ibis.memtable({"customer_id": ["C1", "C2"], "segment": ["VIP", "VIP"]})
>>> with store.transaction():
...     record_run(store, "value", 1, dt.datetime(2025, 2, 1), later)
2
>>> [(c["customer_id"], c["segment"], c["change"], c["customer_seq"]) for c in changes(store, after=2)]
[('C2', 'New', 'exited', 2), ('C2', 'VIP', 'entered', 3)]
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ibis
import ibis.expr.types as ir

__all__ = ["AUDIENCE", "CHANGES", "OUTBOX", "SCHEMAS", "audience", "bootstrap", "changes", "ensure_tables", "last_seq",
           "record_deleted", "record_run"]

OUTBOX = "outbox"
AUDIENCE = "outbox_audience"

#: The kinds of change, in the order a customer's changes of one run are numbered (an exit before an entry).
CHANGES = ("exited", "entered", "deleted")

SCHEMAS = {
    OUTBOX: ibis.schema({"seq": "int64", "segmentation": "string", "segment": "string", "customer_id": "string",
                         "change": "string", "version": "int64", "as_of": "timestamp", "customer_seq": "int64",
                         "created_at": "timestamp"}),
    AUDIENCE: ibis.schema({"segmentation": "string", "customer_id": "string", "segment": "string",
                           "version": "int64", "as_of": "timestamp"}),
}


def ensure_tables(store) -> None:
    """Create the outbox's tables when missing (a workspace from before the outbox has none)."""
    existing = set(store.con.list_tables())
    for name, schema in SCHEMAS.items():
        if name not in existing:
            store.con.create_table(name, schema=schema)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _current(store, name: str) -> tuple[int, dt.datetime] | None:
    """(version, as_of) of the published audience of ``name``, or None before its first run."""
    a = store.con.table(AUDIENCE)
    # every row of a segmentation's audience carries its run (record_run moves them all together): the first
    # row found says it, where a distinct over a million rows cost a fraction of a second
    rows = a.filter(a.segmentation == name).select("version", "as_of").limit(1).to_pyarrow().to_pylist()
    return (int(rows[0]["version"]), rows[0]["as_of"]) if rows else None


def last_seq(store) -> int:
    """The highest sequence number in the outbox (0 when empty)."""
    ensure_tables(store)
    value = store.con.table(OUTBOX).seq.max().to_pyarrow().as_py()
    return int(value or 0)


def record_run(store, name: str, version: int, as_of: dt.datetime, members: ir.Table,
               published: bool | None = None) -> int:
    """Write the changes a run makes to the published audience of ``name``; return how many.

    Call it inside the transaction that writes the run's memberships.

    Parameters
    ----------
    store : segmint.store.Store
    name, version, as_of
        The run.
    members : ibis.Table
        The run's memberships: ``customer_id``, ``segment`` (null segments are left out).
    published : bool, optional
        Whether the run becomes the published audience; by default when its ``(as_of,
        version)`` is at least the current one's (a backfill of an earlier date is not).
    """
    ensure_tables(store)
    current = _current(store, name)
    if published is None:
        published = current is None or (as_of, int(version)) >= (current[1], current[0])
    if not published:
        return 0
    new = members.filter(members.segment.notnull()).select(
        customer_id=members.customer_id.cast("string"), segment=members.segment.cast("string"),
        _new=ibis.literal(True))
    a = store.con.table(AUDIENCE)
    old = a.filter(a.segmentation == name).select(_customer_id=a.customer_id, _segment=a.segment,
                                                  _old=ibis.literal(True))
    # One full outer join of the run and the audience instead of two anti-joins: each side's
    # million (customer, segment) strings are hashed once, not twice (the two anti-joins were
    # half of the diff's time at 1M customers).
    both = new.outer_join(old, [new.customer_id == old._customer_id, new.segment == old._segment])
    entered = both._old.isnull()
    moves = both.filter(entered | both._new.isnull()).select(
        customer_id=both.customer_id.coalesce(both._customer_id), segment=both.segment.coalesce(both._segment),
        change=ibis.ifelse(entered, "entered", "exited"), _order=ibis.ifelse(entered, 1, 0).cast("int8"))
    with _staged(store, moves) as staged:
        n = _append(store, name, int(version), as_of, staged)
        # The audience follows the run by its changes: the exits deleted, the entries added, and
        # every row moved to the run (an update of two columns). Rewriting the whole audience
        # (delete then insert a million rows) cost more than the diff itself.
        if n:
            gone = staged.filter(staged.change == "exited")
            store.delete_keys(AUDIENCE, ["segmentation", "customer_id", "segment"],
                              gone.mutate(segmentation=ibis.literal(name, type="string")))
        store.update_rows(AUDIENCE, {"version": int(version), "as_of": as_of}, segmentation=name)
        if n:
            came = staged.filter(staged.change == "entered")
            store.con.insert(AUDIENCE, came.select(
                segmentation=ibis.literal(name, type="string"), customer_id=came.customer_id, segment=came.segment,
                version=ibis.literal(int(version), type="int64"), as_of=ibis.literal(as_of, type="timestamp")))
    return n


@contextmanager
def _staged(store, moves: ir.Table) -> Iterator[ir.Table]:
    """``moves`` computed once into a temporary table, dropped afterwards."""
    temporary = f"_segmint_outbox_{uuid.uuid4().hex[:12]}"
    staged = store.con.create_table(temporary, moves, temp=True)
    try:
        yield staged
    finally:
        store.con.drop_table(temporary, force=True)


def _append(store, name: str, version: int, as_of: dt.datetime, staged: ir.Table) -> int:
    """Number and insert ``staged`` (``customer_id``, ``segment``, ``change``, ``_order``) into the outbox."""
    count = int(staged.count().to_pyarrow().as_py())
    if not count:
        return 0
    base = last_seq(store)
    o = store.con.table(OUTBOX)
    touched = staged.select("customer_id").distinct()
    before = (o.filter(o.segmentation == name).semi_join(touched, "customer_id")
              .group_by("customer_id").aggregate(_prior=lambda t: t.customer_seq.max()))
    joined = staged.left_join(before, "customer_id").select(staged, _prior=before._prior.fill_null(0))
    # One numbering for the whole run, by customer, exit before entry: a receiver replaying the
    # outbox in seq order never sees a customer in two segments of an exclusive segmentation.
    order = [joined.customer_id, joined._order, joined.segment]
    seq = ibis.row_number().over(order_by=order) + base + 1
    per_customer = ibis.row_number().over(group_by=joined.customer_id, order_by=[joined._order, joined.segment])
    rows = joined.select(seq=seq.cast("int64"), segmentation=ibis.literal(name, type="string"),
                         segment=joined.segment, customer_id=joined.customer_id, change=joined.change,
                         version=ibis.literal(version, type="int64"), as_of=ibis.literal(as_of, type="timestamp"),
                         customer_seq=(joined._prior + per_customer + 1).cast("int64"),
                         created_at=ibis.literal(_now(), type="timestamp")).order_by("seq")
    store.con.insert(OUTBOX, rows)
    return count


def record_deleted(store, customer_ids: list[str]) -> int:
    """Write a ``deleted`` change for each published membership of these customers, and unpublish them.

    The erasure of a person (``segmint forget``) calls it, so that every destination that
    received them is told. Returns the number of changes written.
    """
    ensure_tables(store)
    ids = ibis.memtable({"customer_id": [str(c) for c in customer_ids]}, schema={"customer_id": "string"})
    a = store.con.table(AUDIENCE)
    held = a.semi_join(ids, "customer_id").to_pyarrow().to_pylist()
    total = 0
    for (name, version, as_of) in sorted({(r["segmentation"], r["version"], r["as_of"]) for r in held}):
        rows = [r for r in held if r["segmentation"] == name]
        moves = ibis.memtable({"customer_id": [r["customer_id"] for r in rows],
                               "segment": [r["segment"] for r in rows]},
                              schema={"customer_id": "string", "segment": "string"})
        with _staged(store, moves.mutate(change=ibis.literal("deleted"), _order=ibis.literal(2, type="int8"))) as staged:
            total += _append(store, name, int(version), as_of, staged)
    if held:
        store.delete_keys(AUDIENCE, ["customer_id"], ids)
    return total


def bootstrap(store) -> list[str]:
    """Publish the latest run of every segmentation stored before the outbox existed (no changes written).

    A workspace from an earlier segmint has runs but no published audience; its current
    memberships become the audience that later runs are compared with and that a new
    destination starts from. Returns the segmentations published.
    """
    ensure_tables(store)
    store.runs.ensure_tables()
    a = store.con.table(AUDIENCE)
    have = set(a.select("segmentation").distinct().segmentation.to_pyarrow().to_pylist())
    done = []
    for name, run in sorted(store.runs.latest().items()):
        if name in have:
            continue
        m = store.con.table("memberships")
        m = m.filter((m.segmentation == name) & (m.version == run.version)
                     & (m.as_of == ibis.literal(run.as_of, type="timestamp")))
        with store.transaction():
            store.con.insert(AUDIENCE, m.select("segmentation", "customer_id", "segment", "version", "as_of")
                             .order_by("customer_id"))
        done.append(name)
    return done


def changes(store, after: int = 0, upto: int | None = None, segmentations: list[str] | None = None,
            segments: list[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Changes with ``after < seq <= upto``, in ``seq`` order, of some segmentations and segments."""
    return changes_table(store, after, upto, segmentations, segments, limit).to_pyarrow().to_pylist()


def changes_table(store, after: int = 0, upto: int | None = None, segmentations: list[str] | None = None,
                  segments: list[str] | None = None, limit: int | None = None) -> ir.Table:
    """:func:`changes` as an Ibis table."""
    ensure_tables(store)
    o = store.con.table(OUTBOX)
    o = o.filter(o.seq > int(after))
    if upto is not None:
        o = o.filter(o.seq <= int(upto))
    if segmentations:
        o = o.filter(o.segmentation.isin(list(segmentations)))
    if segments:
        o = o.filter(o.segment.isin(list(segments)))
    o = o.order_by("seq")
    return o.limit(limit) if limit else o


def audience(store, segmentations: list[str] | None = None, segments: list[str] | None = None) -> ir.Table:
    """The published audience (``segmentation``, ``customer_id``, ``segment``, ``version``, ``as_of``)."""
    ensure_tables(store)
    a = store.con.table(AUDIENCE)
    if segmentations:
        a = a.filter(a.segmentation.isin(list(segmentations)))
    if segments:
        a = a.filter(a.segment.isin(list(segments)))
    return a
