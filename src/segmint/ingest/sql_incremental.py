"""Incremental reads of a SQL source by a cursor column (``--since-column updated_at``), streamed.

The first load reads every row of the query and remembers the largest value of the cursor
column among the rows read: the *high-water mark* of that source (the redacted URL, the
query and the column), kept in the store's ``ingest_cursors`` table. The next load reads only
rows whose column is at least that mark, so the time grows with what changed, not with the
source table. The mark is written in the ingest's own transaction: an ingest that fails or is
killed leaves the old mark, and the next one reads those rows again (upsert counts rows read
twice as unchanged).

The rows at the mark itself are read again (``>=``, not ``>``), so rows written in the same
instant as the last row of the previous load are not missed; rows committed late with a
cursor value *below* the mark are not seen by an incremental load (a full load, without
``--since-column``, compares everything).

Rows come from the database in Arrow batches (:func:`segmint.ingest.sql_source.iter_sql_batches`),
and are staged in the engine batch by batch, so memory holds one batch, not the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import ConfigError, DataError
from segmint.ingest import sql_source
from segmint.store import Store

CURSORS = "ingest_cursors"


@dataclass
class Cursor:
    """One source's cursor column, the mark it starts from, and the largest value seen since."""

    source: str
    column: str
    since: str | None = None
    seen: object = None
    rows: int = 0
    batches: int = field(default=0)

    def track(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Pass ``batches`` on, keeping the largest value of the cursor column (vectorised per batch)."""
        for batch in batches:
            if self.column not in batch.schema.names:
                raise DataError(f"--since-column {self.column}: the query returns no column {self.column!r} "
                                f"(it returns {', '.join(batch.schema.names)})")
            self.batches += 1
            self.rows += batch.num_rows
            top = pc.max(batch.column(self.column)).as_py() if batch.num_rows else None
            if top is not None and (self.seen is None or top > self.seen):
                self.seen = top
            yield batch

    @property
    def high_water(self) -> str | None:
        """The mark to remember: the largest value read, or the old mark when no row came."""
        return self.since if self.seen is None else mark_text(self.seen)


def mark_text(value: object) -> str:
    """A cursor value as the text bound next time (times as naive UTC, the sessions' zone).

    Examples
    --------
    >>> mark_text(dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    '2025-01-02 01:04:05'
    >>> mark_text(41)
    '41'
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def source_key(shown_url: str, query: str) -> str:
    """The name a source's mark is kept under: the redacted URL and a digest of the query."""
    return f"{shown_url} query:{hashlib.sha256(query.encode()).hexdigest()[:16]}"


def load_mark(store: Store, source: str, column: str) -> str | None:
    """The high-water mark remembered for ``source`` and ``column`` (None: never loaded)."""
    if CURSORS not in store.con.list_tables():
        return None
    t = store.table(CURSORS)
    rows = t.filter((t.source == source) & (t.since_column == column)).high_water.to_pyarrow().to_pylist()
    return rows[0] if rows else None


def save_mark(store: Store, cursor: Cursor) -> None:
    """Remember ``cursor``'s high-water mark (inside the caller's transaction)."""
    if cursor.high_water is None:
        return
    store.delete_rows(CURSORS, source=cursor.source, since_column=cursor.column)
    row = pa.table({"source": [cursor.source], "since_column": [cursor.column], "high_water": [cursor.high_water],
                    "rows_read": pa.array([cursor.rows], pa.int64()),
                    "updated_at": pa.array([dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)],
                                           pa.timestamp("us"))})
    t = store.table(CURSORS)
    store.con.insert(CURSORS, ibis.memtable(row).cast(t.schema()).select(t.columns))


def batches(url: str, query: str, params: dict | None, cursor: Cursor | None) -> Iterator[pa.RecordBatch]:
    """The query's rows in batches; with a cursor that has a mark, only rows at or after it."""
    if cursor is None:
        return sql_source.iter_sql_batches(url, query, params=params)
    params = dict(params or {})
    if "segmint_since" in params:
        raise ConfigError("the query parameter name segmint_since is segmint's own (the --since-column mark)")
    limited = sql_source.since_query(query, cursor.column)  # checks the column name, on the first load too
    if cursor.since is not None:
        query = limited
        params["segmint_since"] = cursor.since
    return cursor.track(sql_source.iter_sql_batches(url, query, params=params))
