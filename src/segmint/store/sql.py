"""Every SQL statement segmint sends to the engine as text, in one place.

The rest of segmint builds Ibis expressions, which run unchanged on DuckDB and on Spark.
What Ibis cannot say (deletes, session settings, small point queries on the server's
hot path, constraints) is written here as SQL text, and only the store package sends it
(``tests/test_architecture.py`` fails on SQL text anywhere else).

Rules for the statements below:

* values are always bound parameters (``?``), never formatted into the text;
* identifiers come from segmint's own constants or are checked first
  (:func:`identifier`), never free user text;
* a statement that only DuckDB understands is listed in :data:`ENGINE_SPECIFIC`, with
  why and where its portable equivalent is (an Ibis expression beside the code that
  sends it, tested to give the same answer on DuckDB in ``tests/store/``).

Examples
--------
>>> delete_where("features", ["as_of"])
'DELETE FROM "features" WHERE "as_of" = ?'
>>> "LATEST_RUNS" in ENGINE_SPECIFIC  # QUALIFY: DuckDB only
True
"""

from __future__ import annotations

import re

from segmint.errors import WorkspaceError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def identifier(name: str) -> str:
    """``name`` double-quoted, after checking that it is a plain identifier (letters, digits, ``_``).

    Examples
    --------
    >>> identifier("orders")
    '"orders"'
    >>> identifier('x"; DROP TABLE orders; --')
    Traceback (most recent call last):
    ...
    segmint.errors.WorkspaceError: 'x"; DROP TABLE orders; --' is not a plain name: use letters, digits and _
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise WorkspaceError(f"{name!r} is not a plain name: use letters, digits and _")
    return f'"{name}"'


# -- session settings (DuckDB) -----------------------------------------------------------------------
SET_UTC = "SET TimeZone = 'UTC'"
SET_NO_PROGRESS_BAR = "SET enable_progress_bar = false"
CURRENT_SETTING = "SELECT current_setting(?)"


def set_memory_limit(size: str) -> str:
    """``SET memory_limit`` for a size the caller checked against :data:`segmint.config.MEMORY_SIZE`.

    DuckDB takes no parameter in ``SET``; the size is validated text of digits and a unit.
    """
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*[A-Za-z]{1,3}", size):
        raise WorkspaceError(f"memory limit {size!r} is not a size")
    return f"SET memory_limit = '{size}'"


def set_threads(threads: int) -> str:
    """``SET threads`` for a whole number (DuckDB takes no parameter in ``SET``)."""
    return f"SET threads = {int(threads)}"


# -- generic statements ------------------------------------------------------------------------------
def add_column(table: str, column: str, sql_type: str) -> str:
    """``ALTER TABLE ... ADD COLUMN``; ``sql_type`` comes from the engine's own type mapper."""
    return f"ALTER TABLE {identifier(table)} ADD COLUMN {identifier(column)} {sql_type}"


def delete_where(table: str, columns: list[str]) -> str:
    """Delete the rows whose ``columns`` equal the bound values, in order."""
    if not columns:
        raise WorkspaceError("a delete needs at least one column to match (refusing to empty a table)")
    return f"DELETE FROM {identifier(table)} WHERE " + " AND ".join(f"{identifier(c)} = ?" for c in columns)


def update_where(table: str, columns: list[str], where: list[str]) -> str:
    """Set ``columns`` to bound values in the rows whose ``where`` columns equal the next bound values.

    Examples
    --------
    >>> update_where("outbox_audience", ["version", "as_of"], ["segmentation"])
    'UPDATE "outbox_audience" SET "version" = ?, "as_of" = ? WHERE "segmentation" = ?'
    """
    if not columns or not where:
        raise WorkspaceError("an update needs columns to set and columns to match (refusing to update every row)")
    return (f"UPDATE {identifier(table)} SET " + ", ".join(f"{identifier(c)} = ?" for c in columns)
            + " WHERE " + " AND ".join(f"{identifier(c)} = ?" for c in where))


def update_from(table: str, rows: str, key: list[str], columns: list[str]) -> str:
    """Set ``columns`` of ``table`` from the row of ``rows`` (a registered table) with the same ``key``.

    Examples
    --------
    >>> update_from("deliveries", "_segmint_update_1", ["message_id"], ["status"])
    'UPDATE "deliveries" AS t SET "status" = u."status" FROM "_segmint_update_1" AS u WHERE t."message_id" = u."message_id"'
    """
    if not columns or not key:
        raise WorkspaceError("an update needs columns to set and key columns to match")
    return (f"UPDATE {identifier(table)} AS t SET " + ", ".join(f"{identifier(c)} = u.{identifier(c)}" for c in columns)
            + f" FROM {identifier(rows)} AS u WHERE " + " AND ".join(f"t.{identifier(k)} = u.{identifier(k)}" for k in key))


def delete_before(table: str, column: str) -> str:
    """Delete the rows whose ``column`` is before the bound time (retention)."""
    return f"DELETE FROM {identifier(table)} WHERE {identifier(column)} < ?"


def delete_keys(table: str, keys_table: str, key: list[str], null_safe: bool = False) -> str:
    """Delete the rows of ``table`` whose ``key`` is a row of ``keys_table`` (a correlated EXISTS).

    ``null_safe``: a null matches a null (``IS NOT DISTINCT FROM``), for tables without a key of their own.
    """
    if not key:
        raise WorkspaceError("a delete by keys needs at least one key column")
    op = "IS NOT DISTINCT FROM" if null_safe else "="
    cond = " AND ".join(f"t.{identifier(k)} {op} d.{identifier(k)}" for k in key)
    return (f"DELETE FROM {identifier(table)} AS t WHERE EXISTS "
            f"(SELECT 1 FROM {identifier(keys_table)} AS d WHERE {cond})")


def delete_all(table: str) -> str:
    """Delete every row of ``table`` (a checked name)."""
    return f"DELETE FROM {identifier(table)}"


def count_in(table: str, column: str, ids_table: str, ids_column: str) -> str:
    """Rows per id of ``table`` whose ``column`` is one of ``ids_table.ids_column``: ``(id, rows)``."""
    return (f"SELECT {identifier(column)}, count(*) FROM {identifier(table)} WHERE {identifier(column)} IN "
            f"(SELECT {identifier(ids_column)} FROM {identifier(ids_table)}) GROUP BY {identifier(column)}")


def delete_in(table: str, column: str, ids_table: str, ids_column: str) -> str:
    """Delete the rows whose ``column`` is one of ``ids_table.ids_column`` (a semi-join).

    Not ``DELETE ... RETURNING``: measured on DuckDB 1.5.6, returning the deleted ids made the
    deletes of an erasure ten times slower than a count first and a plain delete.
    """
    return (f"DELETE FROM {identifier(table)} AS t WHERE EXISTS (SELECT 1 FROM {identifier(ids_table)} AS d "
            f"WHERE t.{identifier(column)} = d.{identifier(ids_column)})")


def position_view(table: str, view: str) -> str:
    """A temporary view of ``table`` with each row's position (``rowid``) as ``_rec``, first."""
    return f"CREATE TEMP VIEW {identifier(view)} AS SELECT rowid AS _rec, * FROM {identifier(table)}"


# -- segmentation runs (see segmint.store.runs) ------------------------------------------------------
SEGMENTATIONS = "segmentations"
MEMBERSHIPS = "memberships"
REASONS = "membership_reasons"
RUNS = "segmentation_runs"

_RUN_SUMMARY = ('INSERT INTO "' + RUNS + '" SELECT segmentation, version, as_of, count(DISTINCT customer_id), '
                'count(*), {reasons}, {stored_at} FROM "' + MEMBERSHIPS + '" {where} '
                "GROUP BY segmentation, version, as_of")
#: Fill ``segmentation_runs`` from the memberships of a store written before it existed.
RUNS_FROM_MEMBERSHIPS = _RUN_SUMMARY.format(reasons="false", stored_at="NULL", where="")
#: One run's summary row: reasons stored, stored_at, then the run's (segmentation, version, as_of).
RUN_ROW = _RUN_SUMMARY.format(reasons="?", stored_at="?", where="WHERE segmentation = ? AND version = ? AND as_of = ?")
#: Count every run's customers and rows again from its memberships (after an erasure took some away).
RECOUNT_RUNS = (f'UPDATE "{RUNS}" AS r SET customers = coalesce(m.customers, 0), "rows" = coalesce(m.n, 0) '
                f'FROM "{RUNS}" AS k LEFT JOIN (SELECT segmentation, version, as_of, count(DISTINCT customer_id) '
                f'AS customers, count(*) AS n FROM "{MEMBERSHIPS}" GROUP BY segmentation, version, as_of) AS m '
                "ON k.segmentation = m.segmentation AND k.version = m.version AND k.as_of = m.as_of "
                "WHERE r.segmentation = k.segmentation AND r.version = k.version AND r.as_of = k.as_of "
                "AND (r.customers IS DISTINCT FROM coalesce(m.customers, 0) OR r.\"rows\" IS DISTINCT FROM "
                "coalesce(m.n, 0))")
#: ``(version, as_of, reasons)`` of every run of one segmentation, oldest first.
FIND_RUNS = f'SELECT version, as_of, reasons FROM "{RUNS}" WHERE segmentation = ? ORDER BY as_of, version'
#: One customer's stored segments and reasons in one run.
LOOKUP = (f'SELECT segments, reasons FROM "{REASONS}" WHERE segmentation = ? AND version = ? AND as_of = ? '
          "AND customer_id = ? LIMIT 1")
#: The model document (JSON text) of one version.
MODEL_TEXT = f'SELECT model FROM "{SEGMENTATIONS}" WHERE name = ? AND version = ?'
#: The latest run of every segmentation: the latest as_of, then the latest version run there.
LATEST_RUNS = (f'SELECT segmentation, version, as_of, reasons, stored_at FROM "{RUNS}" '
               "QUALIFY row_number() OVER (PARTITION BY segmentation ORDER BY as_of DESC, version DESC) = 1")
#: What one run's rows weigh in memory: rows, longest id, reasons bytes, segments, segment bytes.
RUN_SIZE = ('SELECT count(*), coalesce(max(strlen(customer_id)), 0), coalesce(sum(strlen(reasons)), 0), '
            "coalesce(sum(len(segments)), 0), coalesce(sum(strlen(array_to_string(segments, ''))), 0) "
            f'FROM "{REASONS}" WHERE segmentation = ? AND version = ? AND as_of = ?')
#: One run's stored segments and reasons, in customer order.
RUN_ROWS = (f'SELECT customer_id, segments, reasons FROM "{REASONS}" '
            "WHERE segmentation = ? AND version = ? AND as_of = ? ORDER BY customer_id")

# -- API tokens (see segmint.store.tokens) -----------------------------------------------------------
TOKENS_DDL = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    token_hash VARCHAR NOT NULL UNIQUE,
    hint VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
)
"""
_TOKEN_COLUMNS = "token_id, name, role, hint, created_at, revoked_at"
TOKEN_INSERT = "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, NULL)"
TOKEN_BY_HASH = f"SELECT {_TOKEN_COLUMNS}, token_hash FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL"
TOKEN_BY_ID = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_id = ?"
TOKENS_ALL = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, name"
TOKENS_ACTIVE = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, name"
TOKEN_REVOKE = "UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?"

# -- audit log (see segmint.store.audit) -------------------------------------------------------------
AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    event_id VARCHAR,
    logged_at TIMESTAMP NOT NULL,
    who VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    rows BIGINT,
    details VARCHAR
)
"""
AUDIT_INSERT = "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_AUDIT_COLUMNS = "event_id, logged_at, who, role, action, target, rows, details"
AUDIT_LATEST = f"SELECT {_AUDIT_COLUMNS} FROM audit_log ORDER BY logged_at DESC LIMIT ?"
AUDIT_LATEST_OF = f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE action = ? ORDER BY logged_at DESC LIMIT ?"


def insert_values(table: str, columns: list[str]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``: one row, every value bound.

    Examples
    --------
    >>> insert_values("deliveries", ["message_id", "status"])
    'INSERT INTO "deliveries" ("message_id", "status") VALUES (?, ?)'
    """
    names = ", ".join(identifier(c) for c in columns)
    return f"INSERT INTO {identifier(table)} ({names}) VALUES ({', '.join('?' for _ in columns)})"
# -- erasure: rewriting the store's file (see segmint.store.erase) ------------------------------------
CHECKPOINT = "CHECKPOINT"
#: The store's own tables: not temporary ones, not views, not those of another attached file.
BASE_TABLES = ("SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database() "
               "AND schema_name = 'main' ORDER BY table_name")
#: ``(table, column)`` of every column of the store's own tables (one catalogue read for an erasure's tables).
BASE_COLUMNS = ("SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name IN (" + BASE_TABLES.replace(" ORDER BY table_name", "") + ")")
CURRENT_DATABASE = "SELECT current_database()"
#: The name the fresh file is attached under while the store is copied into it.
REWRITE_ALIAS = "segmint_rewrite"


def _path_literal(path) -> str:
    """A file path as a SQL string literal (DuckDB takes no parameter in ATTACH); quotes doubled, no NUL."""
    text = str(path)
    if "\0" in text or "\n" in text:
        raise WorkspaceError(f"{text!r} cannot be used as a store path")
    return "'" + text.replace("'", "''") + "'"


def attach(path, alias: str) -> str:
    """``ATTACH`` a (new) DuckDB file under ``alias``; the path is the store's own, next to it."""
    return f"ATTACH {_path_literal(path)} AS {identifier(alias)}"


def copy_database(source: str, target: str) -> str:
    """Copy every table, view and sequence of ``source`` into ``target`` (live rows only)."""
    return f"COPY FROM DATABASE {identifier(source)} TO {identifier(target)}"


def detach(alias: str) -> str:
    return f"DETACH {identifier(alias)}"


#: Statements only DuckDB (or a few engines) understand: why, and the portable equivalent the Spark
#: backend uses. "Ibis:" names the method whose ``native_sql=False`` branch is that equivalent
#: (tests/store/test_portable.py runs both branches on DuckDB and compares).
ENGINE_SPECIFIC: dict[str, str] = {
    "SET_UTC": "DuckDB session setting; Spark: spark.sql.session.timeZone=UTC in the session's conf",
    "SET_NO_PROGRESS_BAR": "DuckDB session setting; no Spark equivalent needed",
    "CURRENT_SETTING": "DuckDB function; Spark: SparkSession.conf.get",
    "set_memory_limit": "DuckDB setting; Spark: spark.driver.memory / spark.executor.memory in the conf",
    "set_threads": "DuckDB setting; Spark: the master's cores (local[N])",
    "add_column": "Spark writes ADD COLUMNS (...); Ibis: Store.add_columns rewrites the table with null columns",
    "delete_keys": "DELETE ... AS t WHERE EXISTS: Spark has no DELETE on Parquet tables; "
                   "Ibis: Store.delete_keys rewrites the table with an anti-join",
    "delete_all": "Spark has no DELETE on Parquet tables; Ibis: Store.delete_all rewrites the table empty",
    "position_view": "rowid is DuckDB's; Ibis: Store.create_positioned numbers the rows with row_number()",
    "delete_before": "Spark has no DELETE on Parquet tables; Ibis: Store.delete_before rewrites the table with a "
                     "filter",
    "delete_where": "Spark has no DELETE on Parquet tables; Ibis: Store.delete_rows rewrites the table with a filter",
    "update_from": "UPDATE ... FROM: Spark has no UPDATE on Parquet tables; Ibis: Store.update_many rewrites the "
                   "table with a left join",
    "update_where": "Spark has no UPDATE on Parquet tables; Ibis: Store.update_rows rewrites the table with ifelse",
    "RUNS_FROM_MEMBERSHIPS": "count(DISTINCT) INSERT ... SELECT; Ibis: RunTables.ensure_tables (aggregate + insert)",
    "RUN_ROW": "as RUNS_FROM_MEMBERSHIPS; Ibis: RunTables.insert_summary",
    "RECOUNT_RUNS": "UPDATE ... FROM: Spark has no UPDATE on Parquet tables; Ibis: RunTables.recount rewrites the "
                    "summary table from a join with the counts",
    "LATEST_RUNS": "QUALIFY is DuckDB/Snowflake only; Ibis: RunTables.latest (row_number window and a filter)",
    "RUN_SIZE": "strlen (bytes) and array_to_string are DuckDB functions; Ibis: RunTables.size (characters: "
                "the same for ASCII ids and reasons, a lower bound otherwise)",
    "TOKENS_DDL": "PRIMARY KEY / UNIQUE constraints; the server's own tables stay in a local DuckDB file",
    "AUDIT_DDL": "as TOKENS_DDL",
    "CHECKPOINT": "DuckDB's WAL; Spark tables have none (their files are rewritten by a filter)",
    "BASE_TABLES": "duckdb_tables(); Ibis: Store.base_tables lists the tables and leaves out segmint's and "
                   "Ibis' transient ones by name",
    "CURRENT_DATABASE": "DuckDB's attached database name; no Spark equivalent needed",
    "BASE_COLUMNS": "duckdb_columns(); Ibis: segmint.store.erase.customer_tables reads each table's schema",
    "attach": "DuckDB files; on Spark an erasure rewrites each table's files with a filter (Store._rewrite)",
    "copy_database": "as attach",
    "detach": "as attach",
    "count_in": "IN (subquery) GROUP BY is portable SQL, sent as text to join one temporary id table; Ibis: "
                "segmint.store.erase.delete_people counts with a semi-join",
    "delete_in": "as delete_keys; Ibis: segmint.store.erase.delete_people deletes with Store.delete_keys",
}

__all__ = ["ENGINE_SPECIFIC", "identifier", "add_column", "delete_where", "delete_keys"]
