"""Stored segmentations and memberships: versions, runs, history, migrations.

Two tables hold the results of ``segmint segment``:

``segmentations``
    One row per (name, version): kind, the definition and the fitted model as JSON,
    ``fingerprint`` (the definition without descriptions, which decides the version),
    ``fitted_as_of`` and ``created_at``.
``memberships``
    One row per (segmentation, version, as_of, customer_id, segment); audiences have
    one row per audience a customer is in.
``membership_reasons``
    One row per (segmentation, version, as_of, customer_id) of the snapshot: why the
    customer got their segment(s), as JSON text (see :mod:`segmint.segment.reasons`).
``segmentation_runs``
    One row per stored run: ``customers``, ``rows`` and whether reasons were stored, so
    that finding the latest run does not aggregate every membership.

A run writes them in one transaction and replaces an earlier run of the same
(segmentation, version, as_of). Rows are written in ``customer_id`` order, so that the
engine's per-block min/max statistics narrow a one-customer look-up (:func:`lookup`) to
a block or two of each run. Everything else here reads them with Ibis: sizes per
``as_of`` with who entered and left, and migration matrices between two runs.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from segmint.activate import outbox
from segmint.errors import RunMissing
from segmint.store.runs import MEMBERSHIPS, REASONS, RUNS, SCHEMAS, SEGMENTATIONS

__all__ = [
    "ABSENT",
    "MEMBERSHIPS",
    "SEGMENTATIONS",
    "REASONS",
    "RUNS",
    "ensure_tables",
    "find_runs",
    "history",
    "lookup",
    "memberships",
    "migration",
    "model_text",
    "runs",
    "versions",
    "write_run",
    "writes",
]

#: Row and column label of customers not in the base at one of the two compared runs.
ABSENT = "(not in base)"

# The tables' schemas and every statement Ibis cannot say live in the store (segmint.store.runs);
# the names above are re-exported from there for the callers of this module.


_writes = 0
_WRITE_LOCK = threading.RLock()


def writes() -> int:
    """How many runs this process has stored: a cache of stored runs is valid while this holds.

    Another process cannot write meanwhile: DuckDB lets one process at a time open the
    store for writing, and a process that serves or caches holds it open.
    """
    return _writes


def note_erasure() -> None:
    """Stored runs lost rows outside a run (``segmint forget``): every cache of stored runs is stale."""
    global _writes
    _writes += 1


def ensure_tables(store) -> None:
    """Create the tables when missing (a new workspace has none).

    A store written before ``segmentation_runs`` existed gets it filled from its
    memberships (its runs have no stored reasons: ``why`` computes those).
    """
    store.runs.ensure_tables()


def versions(store, name: str) -> list[dict[str, Any]]:
    """Stored versions of a segmentation, oldest first (every column of ``segmentations``)."""
    if SEGMENTATIONS not in store.con.list_tables():
        return []
    t = store.con.table(SEGMENTATIONS)
    return t.filter(t.name == name).order_by("version").to_pyarrow().to_pylist()


def runs(store, name: str) -> pd.DataFrame:
    """Runs of a segmentation: ``version``, ``as_of``, ``customers``, ``rows``, ``stored_at``; oldest first."""
    if MEMBERSHIPS not in store.con.list_tables():
        return pd.DataFrame(columns=["version", "as_of", "customers", "rows", "stored_at"])
    ensure_tables(store)
    r = store.con.table(RUNS)
    out = r.filter(r.segmentation == name).select("version", "as_of", "customers", "rows", "stored_at")
    return out.order_by(["as_of", "version"]).to_pyarrow().to_pandas()


def find_runs(store, name: str) -> list[tuple[int, dt.datetime, bool]]:
    """``(version, as_of, reasons_stored)`` of every stored run of ``name``, oldest first.

    One small query on ``segmentation_runs``, without Ibis or pandas: the one-customer
    look-up calls it on every request.
    """
    return store.runs.find(name)


def lookup(store, name: str, version: int, as_of: dt.datetime, customer_id: str) -> tuple[list[str], str] | None:
    """One customer's stored segments and reasons in a run, or None when the run has no row for them.

    One point query with bound parameters on ``membership_reasons``. A run's rows are
    stored in ``customer_id`` order, so the engine's block statistics skip every block
    but one.
    """
    return store.runs.lookup(name, version, as_of, customer_id)


def write_run(store, name: str, version: int, as_of: dt.datetime, labels: ir.Table,
              new_version: dict[str, Any] | None = None, reasons: ir.Table | None = None,
              exclusive: bool = False) -> None:
    """Store one run in a single transaction: the new version's row (if any), memberships and reasons.

    ``labels`` has ``customer_id`` and ``segment`` (null segments are not stored);
    ``reasons``, when given, ``customer_id`` and ``reasons`` (JSON text, one row per
    customer). An earlier run of the same (name, version, as_of) is replaced.

    ``exclusive=True`` says that ``labels`` holds one row per customer (at most one segment
    each) and also the ``reasons`` column: each customer's stored segments are then their
    segment (none when it is null) without reading the memberships back and joining them,
    which cost as much as the rest of the write (the stored rows are the same).
    """
    ensure_tables(store)
    key = {"segmentation": ibis.literal(name, type="string"), "version": ibis.literal(int(version), type="int64"),
           "as_of": ibis.literal(as_of, type="timestamp")}
    temporary = None
    if exclusive:
        # Labels and reasons are computed once (a nearest-centroid assignment or a rule tree per
        # customer is not free on a million rows) into a temporary table both inserts read. It is
        # sorted once, by customer: both inserts then keep its order (DuckDB preserves insertion
        # order by default) instead of sorting a million rows each, the reasons' text with them.
        temporary = f"_segmint_run_{uuid.uuid4().hex[:12]}"
        labels = store.con.create_table(temporary, labels.select(
            customer_id=labels.customer_id.cast("string"), segment=labels.segment.cast("string"),
            reasons=labels.reasons).order_by("customer_id"), temp=True)
    try:
        # One run written at a time in this process: runs of one segmentation share its published audience
        # (the outbox's), and the server may store a run from a request (a look-up at a new date) while its
        # job thread stores another: two transactions deleting the same rows fail ("Conflict on tuple deletion").
        with _WRITE_LOCK:
            _write(store, name, version, as_of, labels, new_version, reasons, exclusive, key)
    finally:
        if temporary is not None:
            store.con.drop_table(temporary, force=True)
    global _writes
    _writes += 1  # after the commit: a cache filled meanwhile was tagged with the old count


def _write(store, name, version, as_of, labels, new_version, reasons, exclusive, key) -> None:
    rows = labels.filter(labels.segment.notnull()).select(
        **key, customer_id=labels.customer_id.cast("string"), segment=labels.segment.cast("string"))
    if not exclusive:  # an exclusive run's labels are already in customer order (one segment each)
        rows = rows.order_by(["customer_id", "segment"])  # see the module docstring: block statistics
    with store.transaction():
        if new_version is not None:
            schema = SCHEMAS[SEGMENTATIONS]
            row = pa.Table.from_pylist([{k: new_version[k] for k in schema.names}], schema=schema.to_pyarrow())
            store.con.insert(SEGMENTATIONS, ibis.memtable(row))
        store.runs.delete_run(name, version, as_of)  # Ibis has no DELETE: the store's statement
        store.con.insert(MEMBERSHIPS, rows)
        if exclusive:
            held = ibis.ifelse(labels.segment.isnull(), ibis.null("array<string>"),
                               ibis.array([labels.segment.cast("string")]))
            store.con.insert(REASONS, labels.select(**key, customer_id=labels.customer_id.cast("string"),
                                                    segments=held, reasons=labels.reasons))
        elif reasons is not None:
            # Each customer's segments ride along with the reasons, so that a look-up reads one row
            # of one table; they come from the memberships just written, in the same transaction.
            m = memberships(store, name, version, as_of)
            held = m.group_by("customer_id").aggregate(segments=m.segment.collect(order_by=m.segment))
            r = reasons.select(customer_id=reasons.customer_id.cast("string"), reasons=reasons.reasons)
            joined = r.left_join(held, r.customer_id == held.customer_id)
            store.con.insert(REASONS, joined.select(**key, customer_id=r.customer_id, segments=held.segments,
                                                    reasons=r.reasons).order_by("customer_id"))
        # The changes this run makes to the published audience, for the destinations (same transaction).
        outbox.record_run(store, name, int(version), as_of, memberships(store, name, version, as_of))
        stored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        store.runs.insert_summary(name, version, as_of, exclusive or reasons is not None, stored_at)


def model_text(store, name: str, version: int) -> str | None:
    """The stored model document (JSON text) of one version, or None (one small query)."""
    return store.runs.model_text(name, version)


def memberships(store, name: str, version: int, as_of: dt.datetime) -> ir.Table:
    """The stored memberships of one run: ``customer_id``, ``segment``."""
    ensure_tables(store)
    m = store.con.table(MEMBERSHIPS)
    m = m.filter((m.segmentation == name) & (m.version == int(version))
                 & (m.as_of == ibis.literal(as_of, type="timestamp")))
    return m.select("customer_id", "segment")


def _sizes(m: ir.Table) -> ir.Table:
    return m.group_by(["as_of", "segment"]).aggregate(size=m.count())


def history(store, name: str, version: int) -> pd.DataFrame:
    """Segment sizes per ``as_of`` with how many customers entered and left since the previous run.

    Returns
    -------
    pandas.DataFrame
        ``as_of``, ``segment``, ``size``, ``entered``, ``left``; the first run has null
        ``entered`` / ``left`` (there is nothing to compare with).
    """
    ensure_tables(store)
    m = store.con.table(MEMBERSHIPS)
    m = m.filter((m.segmentation == name) & (m.version == int(version))).select("as_of", "customer_id", "segment")
    dates = sorted(m.select("as_of").distinct().to_pyarrow()["as_of"].to_pylist())
    if not dates:
        return pd.DataFrame(columns=["as_of", "segment", "size", "entered", "left"])
    frames = []
    sizes = _sizes(m).to_pyarrow().to_pandas()
    for prev, cur in zip(dates, dates[1:]):
        a = m.filter(m.as_of == ibis.literal(prev, type="timestamp"))
        b = m.filter(m.as_of == ibis.literal(cur, type="timestamp"))
        keys = ["customer_id", "segment"]
        entered = b.anti_join(a, keys).group_by("segment").aggregate(entered=lambda t: t.count())
        left = a.anti_join(b, keys).group_by("segment").aggregate(left=lambda t: t.count())
        both = entered.to_pyarrow().to_pandas().merge(left.to_pyarrow().to_pandas(), on="segment", how="outer")
        both["as_of"] = pd.Timestamp(cur)
        frames.append(both)
    sizes["as_of"] = pd.to_datetime(sizes["as_of"])
    out = sizes
    if frames:
        moves = pd.concat(frames, ignore_index=True)
        out = sizes.merge(moves, on=["as_of", "segment"], how="outer")
        out["size"] = out["size"].fillna(0)
        later = out["as_of"] > pd.Timestamp(dates[0])
        for col in ("entered", "left"):
            out.loc[later, col] = out.loc[later, col].fillna(0)
    else:
        out["entered"] = pd.NA
        out["left"] = pd.NA
    out = out.sort_values(["as_of", "segment"]).reset_index(drop=True)
    for col in ("size", "entered", "left"):
        out[col] = out[col].astype("Int64")
    return out[["as_of", "segment", "size", "entered", "left"]]


def migration(before: ir.Table, after: ir.Table, exclusive: bool = True) -> dict[str, Any]:
    """Compare two runs (each ``customer_id``, ``segment``).

    Returns
    -------
    dict
        ``matrix``: DataFrame of counts, rows the segment before, columns the segment after
        (:data:`ABSENT` for customers in only one run; exclusive segmentations only, else None);
        ``changes``: per segment ``before``, ``after``, ``stayed``, ``entered``, ``left``;
        ``moved``: Ibis table of ``customer_id``, ``from_segment``, ``to_segment`` (exclusive) or
        ``customer_id``, ``segment``, ``change`` ("entered"/"left") for audiences;
        ``customers``, ``moved_count``, ``moved_share``.
    """
    if exclusive:
        # One outer join answers everything: with one segment per customer, "stayed in s" is a pair (s, s),
        # "entered s" a pair (other, s), "left s" a pair (s, other); the per-segment figures are sums over
        # the matrix (five more joins over both runs took 0.6 s a comparison at 900,000 customers).
        b = before.rename(from_segment="segment")
        a = after.rename(to_segment="segment")
        joined = b.outer_join(a, b.customer_id == a.customer_id)
        pairs = joined.select(customer_id=ibis.coalesce(b.customer_id, a.customer_id),
                              from_segment=b.from_segment.fill_null(ABSENT), to_segment=a.to_segment.fill_null(ABSENT))
        counts = pairs.group_by(["from_segment", "to_segment"]).aggregate(n=pairs.count()).to_pyarrow().to_pandas()
        matrix = (counts.pivot(index="from_segment", columns="to_segment", values="n").fillna(0).astype("int64")
                  if len(counts) else pd.DataFrame(dtype="int64"))
        matrix.index.name, matrix.columns.name = "from", "to"
        changes = _changes_of_pairs(counts)
        moved = pairs.filter(pairs.from_segment != pairs.to_segment).order_by("customer_id")
        customers = int(counts["n"].sum()) if len(counts) else 0
        moved_count = int(counts.loc[counts.from_segment != counts.to_segment, "n"].sum()) if len(counts) else 0
    else:
        keys = ["customer_id", "segment"]
        stayed = before.semi_join(after, keys).group_by("segment").aggregate(stayed=lambda t: t.count())
        entered = after.anti_join(before, keys).group_by("segment").aggregate(entered=lambda t: t.count())
        left = before.anti_join(after, keys).group_by("segment").aggregate(left=lambda t: t.count())
        n_before = before.group_by("segment").aggregate(before=lambda t: t.count())
        n_after = after.group_by("segment").aggregate(after=lambda t: t.count())
        changes = None
        for part in (n_before, n_after, stayed, entered, left):
            df = part.to_pyarrow().to_pandas()
            changes = df if changes is None else changes.merge(df, on="segment", how="outer")
        changes = _tidy_changes(changes)
        matrix = None
        ins = after.anti_join(before, keys).mutate(change=ibis.literal("entered"))
        outs = before.anti_join(after, keys).mutate(change=ibis.literal("left"))
        moved = ins.union(outs).order_by(["customer_id", "segment"])
        everyone = before.select("customer_id").union(after.select("customer_id"), distinct=True)
        customers = int(everyone.count().to_pyarrow().as_py())
        moved_count = int(moved.select("customer_id").distinct().count().to_pyarrow().as_py())
    return {"matrix": matrix, "changes": changes, "moved": moved, "customers": customers,
            "moved_count": moved_count, "moved_share": moved_count / customers if customers else 0.0}


CHANGE_COLUMNS = ["segment", "before", "after", "stayed", "entered", "left"]


def _tidy_changes(changes: pd.DataFrame) -> pd.DataFrame:
    changes = changes.fillna(0).sort_values("segment").reset_index(drop=True)
    for col in CHANGE_COLUMNS[1:]:
        changes[col] = changes[col].astype("int64")
    return changes[CHANGE_COLUMNS]


def _changes_of_pairs(counts: pd.DataFrame) -> pd.DataFrame:
    """Per-segment before/after/stayed/entered/left of an exclusive migration, from its (from, to) counts."""
    frm, to, n = counts["from_segment"], counts["to_segment"], counts["n"]
    same = frm == to
    parts = [n[frm != ABSENT].groupby(frm[frm != ABSENT]).sum().rename("before"),
             n[to != ABSENT].groupby(to[to != ABSENT]).sum().rename("after"),
             n[same].groupby(frm[same]).sum().rename("stayed"),
             n[~same & (to != ABSENT)].groupby(to[~same & (to != ABSENT)]).sum().rename("entered"),
             n[~same & (frm != ABSENT)].groupby(frm[~same & (frm != ABSENT)]).sum().rename("left")]
    frame = pd.concat(parts, axis=1)
    frame.index.name = "segment"
    return _tidy_changes(frame.reset_index())


def require_run(table: ir.Table, what: str) -> ir.Table:
    """Raise a :class:`~segmint.errors.RunMissing` (a DataError) naming ``what`` when a run has no rows."""
    if int(table.count().to_pyarrow().as_py()) == 0:
        raise RunMissing(f"no memberships stored for {what}; run `segmint segment` for it first")
    return table
