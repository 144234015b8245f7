"""The stored segmentations' tables: their schemas and every statement on them that Ibis cannot say.

:mod:`segmint.segment.membership` decides what a run writes (in one transaction) and reads
memberships with Ibis; this module owns the tables' schemas and the small statements:
deleting a run's rows, its summary row, and the point queries the one-customer look-up
and the server's serving index run on every request or refresh. Values are bound
parameters; the SQL text is in :mod:`segmint.store.sql`.

Each method has two branches: the DuckDB statement (``store.native_sql``, the default) and
an Ibis expression that any engine runs (Spark has no ``QUALIFY``, ``strlen`` or
``DELETE`` on Parquet). ``tests/store/test_portable.py`` runs both on DuckDB and compares.

Examples
--------
>>> import tempfile, pathlib, datetime
>>> from segmint.store import Store
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "s.duckdb")
>>> store.runs.ensure_tables()
>>> store.runs.find("lifecycle"), store.runs.latest()
([], {})
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

import ibis
import pyarrow as pa

from segmint.store import sql
from segmint.store.sql import MEMBERSHIPS, REASONS, RUNS, SEGMENTATIONS

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store.engine import Store

SCHEMAS = {
    SEGMENTATIONS: ibis.schema({"name": "string", "version": "int64", "kind": "string", "fingerprint": "string",
                                "definition": "string", "model": "string", "fitted_as_of": "timestamp",
                                "created_at": "timestamp"}),
    MEMBERSHIPS: ibis.schema({"segmentation": "string", "version": "int64", "as_of": "timestamp",
                              "customer_id": "string", "segment": "string"}),
    REASONS: ibis.schema({"segmentation": "string", "version": "int64", "as_of": "timestamp",
                          "customer_id": "string", "segments": "array<string>", "reasons": "string"}),
    RUNS: ibis.schema({"segmentation": "string", "version": "int64", "as_of": "timestamp", "customers": "int64",
                       "rows": "int64", "reasons": "boolean", "stored_at": "timestamp"}),
}


class LatestRun(NamedTuple):
    """The latest stored run of one segmentation."""

    version: int
    as_of: dt.datetime
    reasons: bool
    stored_at: dt.datetime | None


class RunSize(NamedTuple):
    """What one run's rows weigh: rows, the longest id, reasons text, segments held and their text (bytes)."""

    rows: int
    longest_id: int
    reasons_bytes: int
    segments: int
    segment_bytes: int


class RunTables:
    """Statements on ``segmentations``, ``memberships``, ``membership_reasons`` and ``segmentation_runs``.

    Parameters
    ----------
    store : segmint.store.Store
        The store (or a cursor store of one thread) the statements run through.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- schema ---------------------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        """Create the tables when missing (a new workspace has none).

        A store written before ``segmentation_runs`` existed gets it filled from its
        memberships (its runs have no stored reasons: ``why`` computes those).
        """
        con = self.store.con
        existing = set(con.list_tables())
        for name, schema in SCHEMAS.items():
            if name not in existing:
                con.create_table(name, schema=schema)
        if RUNS not in existing and MEMBERSHIPS in existing:
            if self.store.native_sql:
                self.store._raw.execute(sql.RUNS_FROM_MEMBERSHIPS)
            else:
                m = con.table(MEMBERSHIPS)
                self._insert_summaries(m, reasons=False, stored_at=None)

    def _insert_summaries(self, m: ibis.Table, reasons: bool, stored_at: dt.datetime | None) -> None:
        """Ibis branch of the summary rows: one per (segmentation, version, as_of) of ``m``."""
        rows = m.group_by(["segmentation", "version", "as_of"]).aggregate(
            customers=m.customer_id.nunique(), rows=m.count())
        rows = rows.mutate(reasons=ibis.literal(reasons, type="boolean"),
                           stored_at=ibis.literal(stored_at, type="timestamp"))
        self.store.con.insert(RUNS, rows.select(*SCHEMAS[RUNS].names).cast(SCHEMAS[RUNS]))

    # -- writing a run (inside the caller's transaction) ----------------------------------------------
    def delete_run(self, name: str, version: int, as_of: dt.datetime) -> None:
        """Delete one run's memberships, reasons and summary row (a re-run replaces them)."""
        for table in (MEMBERSHIPS, REASONS, RUNS):
            self.store.delete_rows(table, segmentation=name, version=int(version), as_of=as_of)

    def insert_summary(self, name: str, version: int, as_of: dt.datetime, reasons: bool,
                       stored_at: dt.datetime | None) -> None:
        """Write one run's summary row, counted from the memberships just written."""
        if self.store.native_sql:
            self.store._raw.execute(sql.RUN_ROW, [bool(reasons), stored_at, name, int(version), as_of])
            return
        m = self.store.con.table(MEMBERSHIPS)
        m = m.filter((m.segmentation == name) & (m.version == int(version))
                     & (m.as_of == ibis.literal(as_of, type="timestamp")))
        self._insert_summaries(m, reasons=bool(reasons), stored_at=stored_at)

    def recount(self) -> None:
        """Count every run's customers and rows again from its memberships (inside the caller's transaction).

        An erasure (``segmint forget``) or a retention purge takes memberships away: the summary
        rows then say what the run holds now, not what it held when it was stored.
        """
        existing = set(self.store.con.list_tables())
        if RUNS not in existing or MEMBERSHIPS not in existing:
            return
        if self.store.native_sql:
            self.store._raw.execute(sql.RECOUNT_RUNS)
            return
        r, m = self.store.con.table(RUNS), self.store.con.table(MEMBERSHIPS)
        keys = ["segmentation", "version", "as_of"]
        counts = m.group_by(keys).aggregate(_customers=m.customer_id.nunique(), _rows=m.count())
        joined = r.left_join(counts, keys)
        zero = ibis.literal(0, type="int64")
        rows = joined.select(**{c: joined[c] for c in SCHEMAS[RUNS].names if c not in ("customers", "rows")},
                             customers=joined._customers.coalesce(zero), rows=joined._rows.coalesce(zero))
        self.store._rewrite(RUNS, rows.select(*SCHEMAS[RUNS].names).cast(SCHEMAS[RUNS]))

    # -- point queries --------------------------------------------------------------------------------
    def find(self, name: str) -> list[tuple[int, dt.datetime, bool]]:
        """``(version, as_of, reasons_stored)`` of every stored run of ``name``, oldest first.

        One small query without Ibis or pandas on DuckDB: the one-customer look-up calls it
        on every request (that is not cached).
        """
        if self.store.native_sql:
            try:
                rows = self.store._raw.execute(sql.FIND_RUNS, [name]).fetchall()
            except Exception:  # noqa: BLE001 - duckdb.CatalogException: an older store, not migrated yet
                self.ensure_tables()
                rows = self.store._raw.execute(sql.FIND_RUNS, [name]).fetchall()
        else:
            self.ensure_tables()
            r = self.store.con.table(RUNS)
            rows = [tuple(x.values()) for x in r.filter(r.segmentation == name).select("version", "as_of", "reasons")
                    .order_by(["as_of", "version"]).to_pyarrow().to_pylist()]
        return [(int(v), when, bool(has)) for v, when, has in rows]

    def lookup(self, name: str, version: int, as_of: dt.datetime, customer_id: str) -> tuple[list[str], str] | None:
        """One customer's stored segments and reasons in a run, or None when the run has no row for them."""
        if self.store.native_sql:
            row = self.store._raw.execute(sql.LOOKUP, [name, int(version), as_of, str(customer_id)]).fetchone()
        else:
            r = self._run(REASONS, name, version, as_of)
            found = r.filter(r.customer_id == str(customer_id)).select("segments", "reasons").limit(1)
            rows = found.to_pyarrow().to_pylist()
            row = tuple(rows[0].values()) if rows else None
        if row is None:
            return None
        return list(row[0] or []), row[1]

    def model_text(self, name: str, version: int) -> str | None:
        """The stored model document (JSON text) of one version, or None."""
        if self.store.native_sql:
            row = self.store._raw.execute(sql.MODEL_TEXT, [name, int(version)]).fetchone()
            return row[0] if row else None
        s = self.store.con.table(SEGMENTATIONS)
        rows = s.filter((s.name == name) & (s.version == int(version))).select("model").limit(1).to_pyarrow()
        return rows["model"][0].as_py() if rows.num_rows else None

    # -- the serving index ----------------------------------------------------------------------------
    def latest(self) -> dict[str, LatestRun]:
        """The latest run of every segmentation (the latest as_of, then the latest version there)."""
        if RUNS not in self.store.con.list_tables():
            return {}
        if self.store.native_sql:
            rows = self.store._raw.execute(sql.LATEST_RUNS).fetchall()
        else:
            r = self.store.con.table(RUNS)
            rank = ibis.row_number().over(group_by=r.segmentation, order_by=[r.as_of.desc(), r.version.desc()])
            best = r.mutate(_rank=rank).filter(lambda t: t._rank == 0)
            rows = [tuple(x.values()) for x in best.select("segmentation", "version", "as_of", "reasons",
                                                            "stored_at").to_pyarrow().to_pylist()]
        return {n: LatestRun(int(v), when, bool(has), stored) for n, v, when, has, stored in rows}

    def size(self, name: str, version: int, as_of: dt.datetime) -> RunSize:
        """What one run's rows weigh in memory, before loading them (bytes of ids, reasons and segments)."""
        if self.store.native_sql:
            row = self.store._raw.execute(sql.RUN_SIZE, [name, int(version), as_of]).fetchone()
            return RunSize(*(int(x) for x in row))
        r = self._run(REASONS, name, version, as_of)
        zero = ibis.literal(0, type="int64")
        agg = r.aggregate(
            rows=r.count(), longest_id=r.customer_id.length().max().coalesce(zero),
            reasons_bytes=r.reasons.length().sum().coalesce(zero), segments=r.segments.length().sum().coalesce(zero),
            segment_bytes=r.segments.join("").length().sum().coalesce(zero))
        return RunSize(*(int(x) for x in agg.to_pyarrow().to_pylist()[0].values()))

    def rows(self, name: str, version: int, as_of: dt.datetime) -> pa.Table:
        """One run's ``customer_id``, ``segments`` and ``reasons`` as Arrow, in customer order."""
        if self.store.native_sql:
            return self.store._raw.execute(sql.RUN_ROWS, [name, int(version), as_of]).fetch_arrow_table()
        r = self._run(REASONS, name, version, as_of)
        return r.select("customer_id", "segments", "reasons").order_by("customer_id").to_pyarrow()

    def _run(self, table: str, name: str, version: int, as_of: dt.datetime) -> ibis.Table:
        t = self.store.con.table(table)
        return t.filter((t.segmentation == name) & (t.version == int(version))
                        & (t.as_of == ibis.literal(as_of, type="timestamp")))


__all__ = ["LatestRun", "RunSize", "RunTables", "SCHEMAS", "MEMBERSHIPS", "REASONS", "RUNS", "SEGMENTATIONS"]
