"""Read a user's SQL query from PostgreSQL or MySQL/MariaDB into Arrow, read-only and streamed.

The query is the user's own SQL on their own database; values are bound (``:name`` in the
query, ``params={"name": ...}``), never pasted in. Rows come through a server-side cursor
in batches of ``batch_size``, so memory stays bounded by one batch, and the transaction is
opened READ ONLY so a query cannot change the database by accident.

Column types come from the cursor's description, not from the values, so every batch has
the same schema even when a batch is all null:

=====================================  ===============================================
database type                          Arrow type
=====================================  ===============================================
NUMERIC/DECIMAL(p, s)                  ``decimal128(p, s)`` (``decimal256`` above 38),
                                       or ``float64`` with ``decimals="float"``
NUMERIC without precision (``SUM``)    ``float64``: its scale is unknown until all rows
                                       are read (PostgreSQL only; MySQL always declares)
timestamptz (PG), TIMESTAMP (MySQL)    ``timestamp("us", "UTC")``: sessions run in UTC
timestamp (PG), DATETIME (MySQL)       ``timestamp("us")`` without zone, as stored
uuid, json, time with zone, others     string
=====================================  ===============================================

Connection URLs may live in an environment variable (``url_env``) so passwords stay out
of ``segmint.yaml``; every message shows the URL with the password replaced by ``***``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from segmint.errors import ConfigError, DataError

DRIVERS = {"postgresql": "psycopg", "postgres": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
INSTALL_HINT = "pip install 'segmint[db]'"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")  # for text SQLAlchemy cannot parse


def _sqlalchemy():
    try:
        import sqlalchemy
    except ImportError:
        raise ConfigError(f"reading SQL databases needs SQLAlchemy and a driver: {INSTALL_HINT}") from None
    return sqlalchemy


def redact_url(url: Any) -> str:
    """Return ``url`` as text with its password replaced by ``***``.

    Examples
    --------
    >>> redact_url("postgresql+psycopg://ann:s3cret@db.example.com:5432/shop")
    'postgresql+psycopg://ann:***@db.example.com:5432/shop'
    """
    try:
        sa = _sqlalchemy()
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (ConfigError, ValueError, TypeError):
        pass
    except sa.exc.ArgumentError:
        pass
    return _PASSWORD.sub(r"\1***@", str(url))  # unparsable: redact by pattern, never echo it


def resolve_url(url: str | None = None, url_env: str | None = None) -> str:
    """Return the connection URL from ``url`` or the environment variable named ``url_env``.

    A URL without a driver (``postgresql://``, ``postgres://``, ``mysql://``, ``mariadb://``)
    gets the one segmint installs (psycopg, PyMySQL).

    Raises
    ------
    ConfigError
        Neither or both given, the variable unset, the URL unparsable or for another database.

    Examples
    --------
    >>> resolve_url("postgres://ann:pw@localhost/shop")
    'postgresql+psycopg://ann:pw@localhost/shop'
    >>> resolve_url(url_env="SEGMINT_NO_SUCH_VARIABLE")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segmint.errors.ConfigError: environment variable SEGMINT_NO_SUCH_VARIABLE is not set; ...
    """
    if (url is None) == (url_env is None):
        raise ConfigError(
            "give the database as either `url` or `url_env` (the name of an environment "
            "variable holding the URL, which keeps the password out of segmint.yaml)"
        )
    if url_env is not None:
        url = os.environ.get(url_env, "").strip()
        if not url:
            raise ConfigError(
                f"environment variable {url_env} is not set; set it to a URL like "
                f"postgresql+psycopg://user:password@host:5432/dbname"
            )
    sa = _sqlalchemy()
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        raise ConfigError(
            f"cannot parse the database URL {redact_url(url)}; expected "
            "dialect+driver://user:password@host:port/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in DRIVERS:
        raise ConfigError(
            f"unsupported database {backend!r} in {redact_url(parsed)}; segmint reads "
            "PostgreSQL (postgresql+psycopg://) and MySQL/MariaDB (mysql+pymysql://)"
        )
    if backend == "postgres" or "+" not in parsed.drivername:
        parsed = parsed.set(
            drivername=("postgresql" if backend == "postgres" else backend) + "+" + DRIVERS[backend]
        )
    return parsed.render_as_string(hide_password=False)


# -- type mapping -----------------------------------------------------------------------------------------

Converter = Callable[[list], list]
_PG = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    18: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", "UTC"),
    1186: pa.duration("us"),
    17: pa.binary(),
}
_MY = {
    1: pa.int64(),
    2: pa.int64(),
    3: pa.int64(),
    8: pa.int64(),
    9: pa.int64(),
    13: pa.int64(),
    4: pa.float32(),
    5: pa.float64(),
    7: pa.timestamp("us", "UTC"),
    12: pa.timestamp("us"),
    10: pa.date32(),
    14: pa.date32(),
    11: pa.duration("us"),
    16: pa.binary(),
    245: pa.string(),
    247: pa.string(),
    248: pa.string(),
}
_MY_DECIMALS, _PG_NUMERIC = (0, 246), 1700


def _as_text(values: list) -> list:
    return [
        v if v is None or isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
        for v in values
    ]


def _as_float(values: list) -> list:
    return [None if v is None else float(v) for v in values]


def _utc(values: list) -> list:
    # MySQL TIMESTAMP arrives naive but in the session zone, which we set to UTC.
    return [
        v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v for v in values
    ]


def _column_type(
    backend: str, code: Any, precision: Any, scale: Any, decimals: str, field: Any = None
) -> tuple[pa.DataType, Converter | None]:
    """Arrow type and value converter (or None) for one cursor column; ``field`` is PyMySQL's, if any."""
    unsigned = bool(getattr(field, "flags", 0) & 32)  # MySQL UNSIGNED_FLAG
    if backend == "mysql" and code in _MY_DECIMALS and precision:
        # MySQL sends DECIMAL(p, s) as a display length: p, plus a point if s > 0, plus a sign if signed.
        # Without the field flags, assume unsigned: one digit too many never loses data.
        precision = precision - (1 if scale else 0) - (1 if field is not None and not unsigned else 0)
    if (backend == "postgresql" and code == _PG_NUMERIC) or (backend == "mysql" and code in _MY_DECIMALS):
        if decimals == "float" or not precision or precision <= 0 or scale is None or scale < 0:
            return pa.float64(), _as_float
        return (pa.decimal128 if precision <= 38 else pa.decimal256)(precision, scale), None
    if backend == "postgresql":  # psycopg gives str for text types; uuid, json, arrays... need str()
        return (_PG[code], None) if code in _PG else (pa.string(), _as_text)
    if code == 7:
        return _MY[7], _utc
    if code == 8 and unsigned:
        return pa.uint64(), None
    if code in _MY:
        return _MY[code], (_as_text if _MY[code] == pa.string() else None)
    # MySQL text and blobs share type codes; the binary character set (63) tells them apart.
    binary = getattr(field, "charsetnr", None) == 63
    return (pa.binary(), None) if binary or code == 255 else (pa.string(), None)


def _schema(backend: str, cursor: Any, decimals: str) -> tuple[list, list]:
    description = cursor.description
    names = [d[0] for d in description]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(
            f"the query returns several columns named {', '.join(map(repr, dupes))}; "
            "give them distinct names with AS"
        )
    # PyMySQL keeps flags and character sets on its result's fields, not in the description.
    fields = getattr(getattr(cursor, "_result", None), "fields", None) or [None] * len(names)
    columns = [_column_type(backend, d[1], d[4], d[5], decimals, f) for d, f in zip(description, fields)]
    return names, columns


def _batch(names: list, columns: list, rows: list) -> pa.RecordBatch:
    arrays = []
    by_column = list(zip(*rows)) if rows else [[] for _ in names]
    for name, (typ, convert), values in zip(names, columns, by_column):
        values = list(values) if convert is None else convert(values)
        try:
            arrays.append(pa.array(values, type=typ))
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            example = next((v for v in values if v is not None), None)
            raise DataError(
                f"column {name!r}: cannot convert {type(example).__name__} values such as "
                f"{str(example)[:40]!r} to {typ}: {exc}"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, names=names)


# -- reading ----------------------------------------------------------------------------------------------


def _driver_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return _PASSWORD.sub(r"\1***@", text[0] if text else type(orig).__name__)


def _is_read_only_violation(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    code = orig.args[0] if orig is not None and getattr(orig, "args", None) else None
    return sqlstate == "25006" or code == 1792 or "read-only transaction" in str(orig).lower()


def iter_sql_batches(
    url: str,
    query: str,
    params: Mapping[str, Any] | None = None,
    batch_size: int = 50_000,
    *,
    decimals: str = "decimal",
    connect_timeout: int = 10,
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of ``query`` as Arrow record batches of at most ``batch_size`` rows.

    The connection stays open while the iterator is consumed and is closed (the read-only
    transaction rolled back) when it is exhausted, closed or garbage-collected.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, usually from :func:`resolve_url`.
    query : str
        SQL returning rows; write ``:name`` for a bound parameter.
    params : mapping, optional
        Values for the ``:name`` parameters.
    batch_size : int, default 50_000
    decimals : {"decimal", "float"}, default "decimal"
        Map DECIMAL/NUMERIC(p, s) to ``decimal128(p, s)`` or to ``float64``.
    connect_timeout : int, default 10
        Seconds to wait for the server before giving up.

    Raises
    ------
    DataError
        Cannot connect, the query fails or tries to write, or a value cannot be converted.
    ConfigError
        Bad URL or arguments, or the driver is not installed.
    """
    # Check arguments now, not at the first next(): a generator would defer these errors.
    if decimals not in ("decimal", "float"):
        raise ConfigError(f"decimals must be 'decimal' or 'float', got {decimals!r}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be a positive number of rows, got {batch_size!r}")
    url = resolve_url(url)
    return _batches(url, query, params, int(batch_size), decimals, int(connect_timeout))


def _batches(url, query, params, batch_size, decimals, connect_timeout) -> Iterator[pa.RecordBatch]:
    sa = _sqlalchemy()
    shown = redact_url(url)
    backend = "postgresql" if sa.engine.make_url(url).get_backend_name() == "postgresql" else "mysql"
    timeout = {"connect_timeout": connect_timeout}
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=timeout)
    except (ImportError, sa.exc.NoSuchModuleError):
        raise ConfigError(f"the database driver for {shown} is not installed: {INSTALL_HINT}") from None
    try:
        try:
            conn = engine.connect()
        except ImportError:
            raise ConfigError(f"the database driver for {shown} is not installed: {INSTALL_HINT}") from None
        except sa.exc.DBAPIError as exc:
            raise DataError(
                f"cannot connect to {shown}: {_driver_message(exc)}. Check that the server runs "
                "and the host, port, user, password and database name are right (if the URL "
                "comes from an environment variable, check its value)"
            ) from None
        with conn:
            yield from _stream(sa, conn, backend, shown, query, params, batch_size, decimals)
    finally:
        engine.dispose()


def _stream(sa, conn, backend, shown, query, params, batch_size, decimals) -> Iterator[pa.RecordBatch]:
    result = None
    try:
        if backend == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        else:
            conn.exec_driver_sql("SET time_zone = '+00:00'")
            conn.exec_driver_sql("START TRANSACTION READ ONLY")
        # yield_per turns on server-side cursors (psycopg named cursor, PyMySQL SSCursor).
        result = conn.execution_options(yield_per=batch_size).execute(sa.text(query), dict(params or {}))
        if not result.returns_rows:
            raise DataError(f"the query on {shown} returns no rows; segmint reads SELECT queries only")
        names, columns = _schema(backend, result.cursor, decimals)
        empty = True
        for rows in result.partitions(batch_size):
            empty = False
            yield _batch(names, columns, rows)
        if empty:
            yield _batch(names, columns, [])
    except sa.exc.DBAPIError as exc:
        hint = (
            " The transaction is read-only: segmint never writes to a source database; remove the "
            "statement that writes."
            if _is_read_only_violation(exc)
            else ""
        )
        raise DataError(f"the query on {shown} failed: {_driver_message(exc)}.{hint}") from None
    except sa.exc.StatementError as exc:  # e.g. a :name in the query without a value in params
        raise DataError(f"the query on {shown} failed: {_driver_message(exc)}") from None
    finally:
        # Close the server-side cursor before its connection: drivers warn (or fail) on the reverse.
        with contextlib.suppress(Exception):
            if result is not None:
                result.close()
        with contextlib.suppress(Exception):  # a broken connection cannot roll back; closing it does
            conn.rollback()


def since_query(query: str, column: str) -> str:
    """``query`` limited to rows whose ``column`` is at least the bound parameter ``:segmint_since``.

    The column name must be a plain identifier (it is written into the SQL; the mark is bound).

    Examples
    --------
    >>> since_query("SELECT * FROM crm.customers", "updated_at")
    'SELECT * FROM (SELECT * FROM crm.customers) AS segmint_q WHERE segmint_q.updated_at >= :segmint_since'
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", column or ""):
        raise ConfigError(f"--since-column {column!r}: give the plain name of a column of the query "
                          "(letters, digits and _)")
    inner = query.strip().rstrip(";")
    return f"SELECT * FROM ({inner}) AS segmint_q WHERE segmint_q.{column} >= :segmint_since"


def read_sql(
    url: str,
    query: str,
    params: Mapping[str, Any] | None = None,
    batch_size: int = 50_000,
    **options: Any,
) -> pa.Table:
    """Read all rows of ``query`` into an Arrow table; see :func:`iter_sql_batches` for options.

    Examples
    --------
    >>> read_sql("sqlite:///x.db", "select 1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segmint.errors.ConfigError: unsupported database 'sqlite' in sqlite:///x.db; ...
    """
    return pa.Table.from_batches(list(iter_sql_batches(url, query, params, batch_size, **options)))
