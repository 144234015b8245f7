"""The workspace store: an Ibis connection to an embedded DuckDB file, its tables and transactions.

Everything that scans customers or orders goes through :attr:`Store.con`, an Ibis
backend, so the same expressions can later run on Spark. The store creates the
canonical tables from their contracts, so a new workspace always has every table
(empty), and wraps engine errors (a locked file, a corrupt file) in
:class:`~segmint.errors.WorkspaceError` with the fix.

The engine's own connection (the DuckDB connection under the Ibis backend) is private
to the store package: statements Ibis cannot express are methods here (deletes, added
columns, settings) or on the table gateways :attr:`Store.runs`, :attr:`Store.tokens` and
:attr:`Store.audit`, with their SQL text in :mod:`segmint.store.sql`. Each method that
sends DuckDB-only SQL has a portable Ibis branch beside it, taken when
:attr:`Store.native_sql` is False (on an engine other than DuckDB).

Examples
--------
>>> import tempfile, pathlib
>>> with Store(pathlib.Path(tempfile.mkdtemp()) / "store.duckdb") as store:
...     store.count("orders")
0
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import ibis.expr.schema as sch

from segmint.config import MEMORY_SIZE
from segmint.contracts import CONTRACTS, ENGINE_TYPES
from segmint.errors import UnknownNameError, WorkspaceError, did_you_mean
from segmint.store import sql
from segmint.store.audit import AuditTable
from segmint.store.runs import RunTables
from segmint.store.tokens import TokenTable

#: DuckDB's buffer pool bound unless ``engine.memory_limit`` says otherwise (see :class:`Store`).
DEFAULT_MEMORY_LIMIT = "1GB"

#: Columns every canonical table carries besides its contract.
LINEAGE = {"_source": "string", "_ingested_at": "timestamp"}

SYSTEM_TABLES: dict[str, dict[str, str]] = {
    "quarantine": {
        "ingest_id": "string",
        "table_name": "string",
        "source": "string",
        "line": "int64",
        "raw": "string",
        "reasons": "string",
        "ingested_at": "timestamp",
    },
    # the high-water mark of each SQL source read with --since-column (segmint.ingest.sql_incremental)
    "ingest_cursors": {
        "source": "string",
        "since_column": "string",
        "high_water": "string",
        "rows_read": "int64",
        "updated_at": "timestamp",
    },
    "ingest_runs": {
        "ingest_id": "string",
        "table_name": "string",
        "source": "string",
        "rows_read": "int64",
        "rows_accepted": "int64",
        "rows_new": "int64",
        "rows_updated": "int64",
        "rows_already_present": "int64",
        "rows_quarantined": "int64",
        "quarantine_reasons": "string",
        "started_at": "timestamp",
        "finished_at": "timestamp",
    },
}


def canonical_schema(table: str) -> sch.Schema:
    """The store schema of a canonical table: its contract's columns plus lineage columns."""
    cols = {c.name: ENGINE_TYPES[c.type] for c in CONTRACTS[table].columns}
    return ibis.schema({**cols, **LINEAGE})


class Store:
    """An open workspace store.

    Parameters
    ----------
    path : Path
        The DuckDB file (created when missing).
    read_only : bool, default False
        Open without taking the write lock (several readers may share the file).
    memory_limit : str or None, default "1GB"
        Most memory DuckDB's buffer pool may hold, e.g. ``"1GB"`` or ``"512MB"``
        (``engine.memory_limit`` in ``segmint.yaml``); None keeps DuckDB's default (80% of
        the RAM). The pool counts in the process's memory, and DuckDB fills it before it
        frees anything: without a bound a million-customer feature snapshot held 2.5 GB,
        with 1 GB it holds 1.5 GB, for about half a second more of its ~15 s than with a 2 GB
        bound (sorts and hash tables spill to disk beyond the bound, next to the store).
    threads : int or None, default None
        DuckDB's worker threads (``engine.threads``); None: one per core.
    """

    #: Send the DuckDB dialect's statements (True on DuckDB); False takes the portable Ibis branches.
    native_sql: bool = True

    def __init__(self, path: Path, read_only: bool = False, memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
                 threads: int | None = None) -> None:
        self.path = Path(path)
        self.read_only = read_only
        try:
            self.con = ibis.duckdb.connect(str(self.path), read_only=read_only)
        except Exception as exc:  # duckdb raises IOException; keep the user away from it
            raise WorkspaceError(_explain_open_error(self.path, exc)) from None
        self._raw = self.con.con
        # Stored timestamps are UTC; a session zone would shift them on read.
        self._raw.execute(sql.SET_UTC)
        self._raw.execute(sql.SET_NO_PROGRESS_BAR)  # our own console shows progress
        try:
            self._configure(memory_limit, threads)
        except WorkspaceError:
            self.con.disconnect()  # release the file lock: the caller gets no Store to close
            raise
        if not read_only:
            self.ensure_schema()

    def _configure(self, memory_limit: str | None, threads: int | None) -> None:
        """Apply the engine settings; the values are checked here, so no free text reaches the SQL."""
        if memory_limit is not None:
            match = MEMORY_SIZE.fullmatch(str(memory_limit))
            if match is None:
                raise WorkspaceError(f"engine.memory_limit {memory_limit!r} is not a size; write it as a number "
                                     "and a unit, e.g. 1GB or 512MB (or null for DuckDB's default)")
            self._raw.execute(sql.set_memory_limit(f"{match.group(1)}{match.group(2)}"))
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
                raise WorkspaceError(f"engine.threads must be a whole number >= 1, got {threads!r}")
            self._raw.execute(sql.set_threads(threads))

    def setting(self, name: str) -> str:
        """The engine's current value of one setting, as text (e.g. ``memory_limit``)."""
        return str(self._raw.execute(sql.CURRENT_SETTING, [name]).fetchone()[0])

    def cursor(self) -> "Store":
        """A store on the same open database through a cursor of its own, for another thread.

        A DuckDB connection must not be used by two threads at once, but its cursors may:
        each has its own transactions, and DuckDB's MVCC lets a reader see the last
        committed state while a writer works. Close it with :meth:`close` (the database
        stays open).
        """
        raw = self._raw.cursor()
        raw.execute(sql.SET_UTC)  # the session settings of the parent do not carry over
        view = Store.__new__(Store)
        view.path, view.read_only, view.native_sql = self.path, self.read_only, self.native_sql
        view.con = ibis.duckdb.from_connection(raw)
        view._raw = raw
        return view

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (releases the file lock)."""
        self.con.disconnect()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create every canonical and system table that does not exist yet."""
        existing = set(self.con.list_tables())
        for name in CONTRACTS:
            if name not in existing:
                self.con.create_table(name, schema=canonical_schema(name))
        for name, cols in SYSTEM_TABLES.items():
            if name not in existing:
                self.con.create_table(name, schema=ibis.schema(cols))

    def add_columns(self, table: str, columns: dict[str, str]) -> None:
        """Add attribute columns (customers may carry any extra attribute)."""
        existing = self.con.table(table).schema()
        for name, typ in columns.items():
            if name in existing:
                continue
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
                raise WorkspaceError(f"cannot add column {name!r} to {table}: use letters, digits and _")
            # The identifier is validated above and the type comes from our own list,
            # so no free user text reaches the SQL.
            if self.native_sql:
                self._raw.execute(sql.add_column(table, name, self._sql_type(dt.dtype(typ))))
            else:
                t = self.con.table(table)
                self._rewrite(table, t.mutate(**{name: ibis.null(dt.dtype(typ))}))

    def _sql_type(self, typ: dt.DataType) -> str:
        return self.con.compiler.type_mapper.to_string(typ)

    # -- deletes (Ibis has no DELETE) -------------------------------------------------------
    def delete_rows(self, table: str, **equals: Any) -> None:
        """Delete the rows of ``table`` whose columns equal the given values (bound, never pasted).

        Examples
        --------
        >>> import tempfile, pathlib, datetime
        >>> with Store(pathlib.Path(tempfile.mkdtemp()) / "s.duckdb") as store:
        ...     store.con.insert("quarantine", ibis.memtable({"table_name": ["orders", "events"]}).mutate(
        ...         **{c: ibis.null(t) for c, t in SYSTEM_TABLES["quarantine"].items() if c != "table_name"}
        ...     ).select(*SYSTEM_TABLES["quarantine"]))
        ...     store.delete_rows("quarantine", table_name="orders")
        ...     store.table("quarantine").table_name.to_pyarrow().to_pylist()
        ['events']
        """
        if self.native_sql:
            self._raw.execute(sql.delete_where(table, list(equals)), list(equals.values()))
            return
        t = self.con.table(table)
        hit = ibis.literal(True)
        for column, value in equals.items():
            hit = hit & (t[column] == ibis.literal(value, type=t[column].type()))
        self._rewrite(table, t.filter(~hit.fill_null(False)))  # a null never equals: such rows stay, as in SQL

    def update_rows(self, table: str, values: dict[str, Any], **equals: Any) -> None:
        """Set ``values`` (column: value, bound) in the rows of ``table`` whose columns equal ``equals``.

        The outbox moves its published audience to a new run this way: one column-wise update of
        two columns, where deleting and inserting a million rows rewrote every customer id.
        """
        if self.native_sql:
            self._raw.execute(sql.update_where(table, list(values), list(equals)),
                              [*values.values(), *equals.values()])
            return
        t = self.con.table(table)
        hit = ibis.literal(True)
        for column, value in equals.items():
            hit = hit & (t[column] == ibis.literal(value, type=t[column].type()))
        hit = hit.fill_null(False)
        self._rewrite(table, t.mutate(**{c: ibis.ifelse(hit, ibis.literal(v, type=t[c].type()), t[c])
                                         for c, v in values.items()}))

    def update_many(self, table: str, key: list[str], rows: pa.Table) -> None:
        """Set the other columns of ``rows`` in the rows of ``table`` with the same ``key`` (one statement).

        A delivery run writes the state of the messages a receiver accepted this way: an update
        per message cost several milliseconds each, as much as its request to a local receiver.
        """
        columns = [c for c in rows.column_names if c not in key]
        if self.native_sql:
            temporary = f"_segmint_update_{uuid.uuid4().hex[:8]}"
            self._raw.register(temporary, rows)
            try:
                self._raw.execute(sql.update_from(table, temporary, list(key), columns))
            finally:
                self._raw.unregister(temporary)
            return
        t = self.con.table(table)
        u = ibis.memtable(rows).rename({f"_u_{c}": c for c in rows.column_names}).mutate(_u_hit=ibis.literal(True))
        j = t.left_join(u, [t[k] == u[f"_u_{k}"] for k in key])
        hit = j._u_hit.notnull()
        self._rewrite(table, j.select(**{c: ibis.ifelse(hit, j[f"_u_{c}"].cast(t[c].type()), j[c]) if c in columns
                                         else j[c] for c in t.columns}))

    def delete_before(self, table: str, column: str, before: Any) -> None:
        """Delete the rows of ``table`` whose ``column`` (a time) is earlier than ``before`` (retention)."""
        if self.native_sql:
            self._raw.execute(sql.delete_before(table, column), [before])
            return
        t = self.con.table(table)
        keep = (t[column] >= ibis.literal(before, type=t[column].type())).fill_null(True)  # a null time stays
        self._rewrite(table, t.filter(keep))

    def delete_keys(self, table: str, key: list[str], keys: ibis.Table, null_safe: bool = False) -> None:
        """Delete the rows of ``table`` whose ``key`` columns match a row of ``keys``.

        ``null_safe=True``: a null in ``keys`` matches a null in the table (for rows matched on every column).
        """
        if self.native_sql:
            temporary = f"_segmint_delete_{uuid.uuid4().hex[:8]}"
            self.con.create_table(temporary, keys.select(*key), temp=True)
            try:
                self._raw.execute(sql.delete_keys(table, temporary, list(key), null_safe))
            finally:
                self.con.drop_table(temporary, force=True)
            return
        t = self.con.table(table)
        k = keys.select(*key)
        if null_safe:
            self._rewrite(table, t.anti_join(k, [t[c].identical_to(k[c]) for c in key]))
        else:
            self._rewrite(table, t.anti_join(k, list(key)))

    def replace_row(self, table: str, key: dict[str, Any], row: dict[str, Any]) -> None:
        """Replace the rows of ``table`` whose columns equal ``key`` by one ``row`` (the caller's transaction).

        For small state tables updated one row at a time (a delivery's status): two bound statements, where an
        Ibis insert of a one-row memtable costs ~0.1 s of compiling and registering.
        """
        self.delete_rows(table, **key)
        if self.native_sql:
            columns = list(row)
            self._raw.execute(sql.insert_values(table, columns), [row[c] for c in columns])
            return
        self.con.insert(table, ibis.memtable([row], schema=self.con.table(table).schema()))

    def _rewrite(self, table: str, rows: ibis.Table) -> None:
        """Replace ``table``'s rows by ``rows`` (an expression over it): the portable delete/alter."""
        temporary = f"_segmint_rewrite_{uuid.uuid4().hex[:8]}"
        self.con.create_table(temporary, rows, temp=True)
        try:
            self.con.create_table(table, self.con.table(temporary), overwrite=True)
        finally:
            self.con.drop_table(temporary, force=True)

    # -- access ----------------------------------------------------------------------------
    def tables(self) -> list[str]:
        return sorted(self.con.list_tables())

    def base_tables(self) -> list[str]:
        """The store's own tables: no temporary table, view or Ibis memtable of this session."""
        if self.native_sql:
            return [r[0] for r in self._raw.execute(sql.BASE_TABLES).fetchall()]
        return sorted(n for n in self.con.list_tables() if not n.startswith(("_segmint_", "ibis_")))

    def table(self, name: str) -> ibis.Table:
        """The Ibis table ``name``, or an error that lists what exists."""
        names = self.con.list_tables()
        if name not in names:
            raise UnknownNameError(f"the store has no table {name!r}; {did_you_mean(name, names)}")
        return self.con.table(name)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    # -- the server's and the segmentations' own tables -------------------------------------
    @cached_property
    def runs(self) -> RunTables:
        """Stored segmentations, memberships, reasons and run summaries (:mod:`segmint.store.runs`)."""
        return RunTables(self)

    @cached_property
    def tokens(self) -> TokenTable:
        """The ``api_tokens`` table (:mod:`segmint.store.tokens`)."""
        return TokenTable(self)

    @cached_property
    def audit(self) -> AuditTable:
        """The ``audit_log`` table (:mod:`segmint.store.audit`)."""
        return AuditTable(self)

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one transaction: all of its writes land, or none do."""
        raw = self._raw
        raw.begin()
        try:
            yield
        except BaseException:
            raw.rollback()
            raise
        else:
            raw.commit()

    # --- ingest (issue 16): positions, interrupting a read, one writer at a time -------------
    def create_positioned(self, name: str, rows: ibis.Table) -> str:
        """Materialise ``rows`` as the temporary table ``name``; return a view of it with ``_rec``.

        ``_rec`` is each row's 0-based position in insertion order (the engine keeps a file's
        order when it reads it in parallel): DuckDB's ``rowid``, which costs nothing, where a
        ``row_number()`` window is a second, serial pass over every row (it doubled the time of
        staging a CSV file). The portable branch numbers the rows with that window.
        """
        view = name + "_pos"
        if self.native_sql:
            self.con.create_table(name, rows, temp=True)
            self._raw.execute(sql.position_view(name, view))
        else:
            self.con.create_table(name, rows, temp=True)
            t = self.con.table(name)
            self.con.create_table(view, t.mutate(_rec=ibis.row_number()).relocate("_rec"), temp=True)
        return view

    def delete_all(self, table: str) -> None:
        """Delete every row of ``table`` (``ingest --mode replace``), inside the caller's transaction."""
        if self.native_sql:
            self._raw.execute(sql.delete_all(table))
            return
        t = self.con.table(table)
        self._rewrite(table, t.filter(ibis.literal(False)))

    def interrupt(self) -> None:
        """Stop the statement running on this connection (it fails with an interrupt error)."""
        self._raw.interrupt()

    def query_progress(self) -> float | None:
        """How far the running statement is, 0-100 (None when the engine cannot tell)."""
        try:
            value = float(self._raw.query_progress())
        except Exception:  # noqa: BLE001 - progress is best effort; no statement runs
            return None
        return value if value >= 0 else None

    @contextmanager
    def writer(self, what: str, wait: float = 0.0) -> Iterator[None]:
        """Hold this store's write lock for ``what`` (one ingest at a time per store, across threads).

        Two processes cannot open the store for writing at once (the engine's file lock); within
        one process (the server's threads), a second ingest waits ``wait`` seconds for the first,
        then is refused with a :class:`WorkspaceError` naming what runs.
        """
        lock, running = _WRITERS.setdefault(str(self.path.resolve()), (threading.Lock(), [None]))
        acquired = lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)
        if not acquired:
            raise WorkspaceError(f"another {running[0] or 'ingest'} is writing to {self.path} now; "
                                 "nothing was written. Run this one when it has finished.")
        running[0] = what
        try:
            yield
        finally:
            running[0] = None
            lock.release()


#: path of a store -> (its write lock, what holds it): shared by every Store and cursor of the process.
_WRITERS: dict[str, tuple[threading.Lock, list]] = {}


def _explain_open_error(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        holder = f" (process {pid.group(1)})" if pid else ""
        return (
            f"the workspace store {path} is in use by another segmint process{holder}. "
            "Wait for it to finish, stop `segmint serve`, or send the request through the server's API."
        )
    if "not a valid DuckDB database" in text or "Corrupt" in text:
        return f"{path} is not a segmint store (not a valid DuckDB file). Move it away and run `segmint init`."
    return f"cannot open the workspace store {path}: {text.splitlines()[0]}"


__all__ = ["Store", "canonical_schema", "DEFAULT_MEMORY_LIMIT", "LINEAGE", "SYSTEM_TABLES"]
