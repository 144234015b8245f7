"""Where a person can be in the store, and rewriting the store's file so deleted rows leave no bytes.

**The convention** (docs/privacy.md, "Where a person is stored"): every table with a column
named ``customer_id`` holds rows about one customer each, and erasing a person deletes the
rows whose ``customer_id`` is theirs. A table that keys people under another column name
registers it with :func:`register_customer_table`; a table that may *mention* a person in
free text registers the columns with :func:`register_text_mentions` (the quarantine's raw
record, the audit log's target and details). :func:`customer_tables` and
:func:`text_tables` read the store's catalogue every time, so a table another module adds
later is covered without a change to ``segmint forget``.

DuckDB's DELETE marks rows deleted; their bytes stay in the file until the blocks are reused,
and neither CHECKPOINT nor VACUUM overwrites them (measured: a deleted pseudonym is still in
the file after both). :func:`rewrite_database` copies the live rows into a fresh file
(``COPY FROM DATABASE``), swaps it in, and overwrites the old file with zeros before
removing it.

Examples
--------
>>> import tempfile, pathlib
>>> from segmint.store import Store
>>> with Store(pathlib.Path(tempfile.mkdtemp()) / "s.duckdb") as store:
...     sorted(customer_tables(store))[:3]
['customers', 'events', 'order_items']
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from segmint.errors import WorkspaceError
from segmint.store import sql

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store.engine import Store

#: The column that, by convention, names the customer a row is about.
CUSTOMER_COLUMN = "customer_id"

#: Tables that key people under another column than ``customer_id``: table -> column.
_CUSTOMER_TABLES: dict[str, str] = {}

#: Tables whose text columns may mention a person: table -> (columns, "delete" or "redact").
_TEXT_MENTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # a quarantined row is the person's data: it goes
    "quarantine": (("raw",), "delete"),
    # the audit trail stays, with the person's id replaced (a lookup's target, a forwarded command's argv)
    "audit_log": (("target", "details"), "redact"),
}


def register_customer_table(table: str, column: str) -> None:
    """Declare that ``table`` keys people under ``column`` (for a table without a ``customer_id`` column).

    Examples
    --------
    >>> register_customer_table("outbox_example", "person")
    >>> _CUSTOMER_TABLES.pop("outbox_example")
    'person'
    """
    sql.identifier(table), sql.identifier(column)  # plain names only
    _CUSTOMER_TABLES[table] = column


def register_text_mentions(table: str, columns: tuple[str, ...], action: str) -> None:
    """Declare text columns of ``table`` that may mention a person; ``action``: "delete" the row or "redact"."""
    if action not in ("delete", "redact"):
        raise WorkspaceError(f"a mention is deleted or redacted, not {action!r}")
    for name in (table, *columns):
        sql.identifier(name)
    _TEXT_MENTIONS[table] = (tuple(columns), action)


def customer_tables(store: Store) -> dict[str, str]:
    """Every table of the store that holds rows about one customer each: table -> its customer column."""
    if store.native_sql:  # one catalogue query: a schema read per table cost ~0.1 s each through Ibis
        present = {(t, c) for t, c in store._raw.execute(sql.BASE_COLUMNS).fetchall()}
        tables = sorted({t for t, _c in present})
        has = lambda name, column: (name, column) in present  # noqa: E731
    else:
        tables = store.base_tables()
        has = lambda name, column: column in store.con.table(name).columns  # noqa: E731
    out: dict[str, str] = {}
    for name in tables:
        column = _CUSTOMER_TABLES.get(name, CUSTOMER_COLUMN)
        if has(name, column):
            out[name] = column
    return out


def delete_people(store: Store, tables: dict[str, str], ids: list[str]) -> tuple[dict[str, int], set[str]]:
    """Delete the rows of ``ids`` from ``tables`` (table -> customer column), in the caller's transaction.

    Returns the rows deleted per table (tables with none left out) and the ids found somewhere.
    On DuckDB one temporary table of the ids serves a count and a delete per table, as SQL text
    (an Ibis memtable per table and statement cost more than the statements); elsewhere a semi-join
    counts and :meth:`Store.delete_keys` deletes.
    """
    import ibis
    import pyarrow as pa
    import pyarrow.compute as pc

    counts: dict[str, int] = {}
    present: set[str] = set()
    wanted = pa.table({"_forget_id": pa.array(ids, pa.string())})
    if store.native_sql:
        temporary = f"_segmint_forget_{uuid.uuid4().hex[:8]}"
        store.con.create_table(temporary, wanted, temp=True)
        try:
            for name, column in sorted(tables.items()):
                found = store._raw.execute(sql.count_in(name, column, temporary, "_forget_id")).fetchall()
                if found:
                    counts[name] = int(sum(n for _id, n in found))
                    present.update(i for i, _n in found)
                    store._raw.execute(sql.delete_in(name, column, temporary, "_forget_id"))
        finally:
            store.con.drop_table(temporary, force=True)
        return counts, present
    keys = ibis.memtable(wanted)
    for name, column in sorted(tables.items()):
        t = store.con.table(name)
        hit = t.semi_join(keys, t[column] == keys._forget_id)
        found = hit.select(_id=hit[column]).to_pyarrow().column("_id")
        if len(found):
            counts[name] = len(found)
            present.update(pc.unique(found).to_pylist())
            store.delete_keys(name, [column], keys.select(**{column: keys._forget_id}))
    return counts, present


def text_tables(store: Store) -> dict[str, tuple[tuple[str, ...], str]]:
    """The registered tables that may mention a person in text, those present in the store."""
    present = set(store.base_tables())
    return {t: spec for t, spec in _TEXT_MENTIONS.items() if t in present}


def rewrite_database(path: Path, memory_limit: str | None = None) -> dict[str, int]:
    """Copy the store at ``path`` into a fresh file and put it in place; the old bytes are zeroed and removed.

    The store must not be open in this process or another (the caller closes it). Returns the
    file's size before and after, in bytes.
    """
    import duckdb

    path = Path(path)
    before = path.stat().st_size
    fresh = path.with_name(path.name + ".rewrite")
    old = path.with_name(path.name + ".erased")
    for leftover in (fresh, old, _wal(fresh), _wal(old)):
        leftover.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(path))
    except Exception as exc:  # noqa: BLE001 - the lock or the file's state, in words
        raise WorkspaceError(f"cannot rewrite the store {path}: {str(exc).splitlines()[0]}; stop `segmint serve` "
                             "or any other segmint process on this workspace and run the command again") from None
    try:
        con.execute(sql.SET_NO_PROGRESS_BAR)  # the copy takes seconds: DuckDB would draw a bar on the terminal
        if memory_limit:
            con.execute(sql.set_memory_limit(memory_limit))
        con.execute(sql.CHECKPOINT)  # the WAL into the file, so nothing waits to be replayed
        database = con.execute(sql.CURRENT_DATABASE).fetchone()[0]
        con.execute(sql.attach(fresh, sql.REWRITE_ALIAS))
        con.execute(sql.copy_database(database, sql.REWRITE_ALIAS))
        con.execute(sql.detach(sql.REWRITE_ALIAS))
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        raise
    con.close()
    _fsync(fresh)
    os.chmod(fresh, os.stat(path).st_mode & 0o777)
    os.replace(path, old)  # the old file under another name until the new one is in place
    os.replace(fresh, path)
    _wal(path).unlink(missing_ok=True)  # checkpointed above; a stale WAL must not be replayed on the new file
    _shred(old)
    _shred(_wal(old))
    for spill in (path.with_name(path.name + ".tmp"),):  # DuckDB's spill folder next to the file
        if spill.is_dir():
            for f in spill.iterdir():
                _shred(f)
    return {"bytes_before": before, "bytes_after": path.stat().st_size}


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _shred(path: Path) -> None:
    """Overwrite a file with zeros, then remove it (what the file system does with old blocks is beyond this)."""
    if not path.is_file():
        return
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        chunk = b"\0" * (1 << 20)
        left = size
        while left > 0:
            n = min(left, len(chunk))
            fh.write(chunk[:n])
            left -= n
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


__all__ = ["CUSTOMER_COLUMN", "customer_tables", "delete_people", "register_customer_table", "register_text_mentions",
           "rewrite_database", "text_tables"]
