"""Tests for segmint.ingest.sql_source; the ``db`` ones run against live PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal

import pyarrow as pa
import pytest

from segmint.errors import ConfigError, DataError
from segmint.ingest.pii import Pseudonymiser, apply_pii_policy
from segmint.ingest.sql_source import iter_sql_batches, read_sql, redact_url, resolve_url

UTC = dt.UTC


# -- URLs, no server needed -------------------------------------------------------------------------------


def test_redact_url_hides_password():
    assert redact_url("mysql+pymysql://u:p%40ss@h/db") == "mysql+pymysql://u:***@h/db"
    assert "s3cret" not in redact_url("not a url://u:s3cret@h")


def test_resolve_url_from_env_and_driver_defaults(monkeypatch):
    monkeypatch.setenv("SHOP_DB", " postgresql://ann:pw@db:5432/shop ")
    assert resolve_url(url_env="SHOP_DB") == "postgresql+psycopg://ann:pw@db:5432/shop"
    assert resolve_url("mysql://u@h/d") == "mysql+pymysql://u@h/d"
    assert resolve_url("mariadb://u@h/d") == "mariadb+pymysql://u@h/d"
    assert resolve_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_resolve_url_errors(monkeypatch):
    monkeypatch.delenv("SHOP_DB", raising=False)
    with pytest.raises(ConfigError, match="either `url` or `url_env`"):
        resolve_url()
    with pytest.raises(ConfigError, match="either `url` or `url_env`"):
        resolve_url("postgresql://h/d", url_env="SHOP_DB")
    with pytest.raises(ConfigError, match="SHOP_DB is not set"):
        resolve_url(url_env="SHOP_DB")
    with pytest.raises(ConfigError, match="unsupported database 'mssql'") as err:
        resolve_url("mssql+pyodbc://sa:hunter2@h/d")
    assert "hunter2" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot parse") as err:
        resolve_url("::nonsense://u:hunter2@")
    assert "hunter2" not in str(err.value)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="decimals"):
        iter_sql_batches("postgresql://h/d", "select 1", decimals="money")
    with pytest.raises(ConfigError, match="batch_size"):
        iter_sql_batches("postgresql://h/d", "select 1", batch_size=0)


def test_missing_driver_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    with pytest.raises(ConfigError, match=r"pip install 'segmint\[db\]'") as err:
        read_sql("postgresql+psycopg://u:hunter2@127.0.0.1:1/d", "select 1")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)


def test_unreachable_server_is_a_data_error_with_redacted_password():
    with pytest.raises(DataError, match="cannot connect to postgresql") as err:
        read_sql("postgresql+psycopg://ann:hunter2@127.0.0.1:1/shop", "select 1", connect_timeout=3)
    message = str(err.value)
    assert "hunter2" not in message and "ann:***@127.0.0.1:1/shop" in message and "password" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


# -- live servers -----------------------------------------------------------------------------------------


def _query(src):
    return f"SELECT id, amount, ratio, created_at, created_tz, note, email, phone, born FROM {src.table} ORDER BY id"


@pytest.mark.db
def test_reads_types_values_and_nulls(db_source):
    t = read_sql(db_source.url, _query(db_source))
    assert t.num_rows == 3
    assert t.schema.field("amount").type == pa.decimal128(10, 2)
    assert t.schema.field("created_at").type == pa.timestamp("us")
    assert t.schema.field("created_tz").type == pa.timestamp("us", "UTC")
    assert t.schema.field("born").type == pa.date32()
    assert t.schema.field("ratio").type == pa.float64()
    assert t.schema.field("note").type == pa.string()
    assert pa.types.is_integer(t.schema.field("id").type)
    rows = t.to_pylist()
    assert [r["amount"] for r in rows] == [Decimal("19.99"), Decimal("-0.01"), Decimal("123456.78")]
    assert rows[0]["created_at"] == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert rows[0]["created_tz"] == dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)  # written at +02:00
    assert rows[2]["created_tz"] == dt.datetime(2024, 6, 30, 21, 59, 59, 123456, tzinfo=UTC)
    assert rows[0]["note"] == "Zoë 東京" and rows[2]["note"] == ""
    assert rows[0]["born"] == dt.date(1980, 2, 29)
    assert all(rows[1][c] is None for c in ("ratio", "created_at", "created_tz", "note", "email", "born"))


@pytest.mark.db
def test_decimals_as_float_and_aggregates(db_source):
    t = read_sql(
        db_source.url,
        f"SELECT amount, SUM(amount) OVER () AS total FROM {db_source.table} ORDER BY id",
        decimals="float",
    )
    assert t.schema.field("amount").type == pa.float64() and t["amount"].to_pylist()[0] == 19.99
    total = read_sql(db_source.url, f"SELECT SUM(amount) AS total FROM {db_source.table}")["total"]
    assert float(total[0].as_py()) == pytest.approx(123476.76)


@pytest.mark.db
def test_bound_parameters_are_values_not_sql(db_source):
    q = f"SELECT id FROM {db_source.table} WHERE id >= :min_id AND (email = :email OR :email IS NULL) ORDER BY id"
    assert read_sql(db_source.url, q, {"min_id": 2, "email": None})["id"].to_pylist() == [2, 3]
    assert read_sql(db_source.url, q, {"min_id": 0, "email": "x' OR '1'='1"}).num_rows == 0
    with pytest.raises(DataError, match="min_id"):
        read_sql(db_source.url, q, {"email": None})


@pytest.mark.db
def test_streams_in_batches_with_one_schema(db_source):
    batches = list(iter_sql_batches(db_source.url, _query(db_source), batch_size=1))
    assert [b.num_rows for b in batches] == [1, 1, 1]
    assert all(b.schema == batches[0].schema for b in batches)  # row 2 is all null and still typed
    assert pa.Table.from_batches(batches).equals(read_sql(db_source.url, _query(db_source)))


@pytest.mark.db
def test_stopping_early_closes_the_connection(db_source):
    it = iter_sql_batches(db_source.url, _query(db_source), batch_size=1)
    assert next(it).num_rows == 1
    it.close()
    assert db_source.count() == 3


@pytest.mark.db
def test_empty_result_keeps_schema(db_source):
    t = read_sql(db_source.url, f"SELECT id, amount, email FROM {db_source.table} WHERE id < 0")
    assert t.num_rows == 0 and t.schema.field("amount").type == pa.decimal128(10, 2)
    assert t.schema.field("email").type == pa.string()


@pytest.mark.db
def test_duplicate_column_names_are_refused(db_source):
    with pytest.raises(DataError, match="several columns named 'id'.*AS"):
        read_sql(db_source.url, f"SELECT id, id FROM {db_source.table}")


@pytest.mark.db
def test_sql_error_is_a_data_error_without_driver_traceback(db_source):
    with pytest.raises(DataError, match="query on .* failed") as err:
        read_sql(db_source.url, f"SELECT no_such_column FROM {db_source.table}")
    assert "no_such_column" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


@pytest.mark.db
def test_write_statement_is_refused_and_changes_nothing(db_source):
    with pytest.raises(DataError, match="failed"):
        read_sql(db_source.url, f"DELETE FROM {db_source.table}")
    assert db_source.count() == 3


@pytest.mark.db
def test_write_inside_a_read_query_is_refused_by_read_only_transaction(pg_source):
    with pytest.raises(DataError, match="read-only") as err:
        read_sql(pg_source.url, f"SELECT {pg_source.schema}.sneaky_write() AS x")
    assert "segmint never writes" in str(err.value)
    assert read_sql(pg_source.url, f"SELECT count(*) AS n FROM {pg_source.schema}.log")["n"].to_pylist() == [
        0
    ]


@pytest.mark.db
def test_mariadb_write_is_refused_by_read_only_transaction(mysql_source):
    q = f"INSERT INTO {mysql_source.schema}.log SELECT email FROM {mysql_source.table}"
    with pytest.raises(DataError, match="(?i)read.only") as err:
        read_sql(mysql_source.url, q)
    assert "segmint never writes" in str(err.value)
    assert read_sql(mysql_source.url, f"SELECT count(*) AS n FROM {mysql_source.schema}.log")[
        "n"
    ].to_pylist() == [0]


@pytest.mark.db
def test_bad_password_is_a_data_error_with_redacted_password(db_servers):
    url = db_servers["mysql"].replace("root@", "root:hunter2@")
    with pytest.raises(DataError, match="cannot connect") as err:
        read_sql(url, "SELECT 1")
    assert "hunter2" not in str(err.value) and "root:***@" in str(err.value)
    url = db_servers["postgresql"].replace(
        "postgres@", "no_such_role:hunter2@"
    )  # trust auth: bad role instead
    with pytest.raises(DataError, match="cannot connect") as err:
        read_sql(url, "SELECT 1")
    assert "hunter2" not in str(err.value) and "no_such_role:***@" in str(err.value)


@pytest.mark.db
def test_same_customer_gets_same_pseudonym_from_both_databases(pg_source, mysql_source):
    key = Pseudonymiser(b"k" * 32)
    tables = [
        read_sql(s.url, f"SELECT id, email, phone FROM {s.table} ORDER BY id")
        for s in (pg_source, mysql_source)
    ]
    (pg, report), (my, _) = (apply_pii_policy(t, None, key) for t in tables)
    assert report["hashed"] == {"email": "email", "phone": "phone"}
    assert pg.select(["email", "phone"]).equals(my.select(["email", "phone"]))
    assert pg["phone"][0] == pg["phone"][1]  # "+44 20 7946 0958" and "020 7946 0958"


@pytest.mark.db
def test_postgres_session_is_read_only_and_utc(db_servers):
    q = "SELECT current_setting('transaction_read_only') AS ro, current_setting('TimeZone') AS tz"
    assert read_sql(db_servers["postgresql"], q).to_pylist() == [{"ro": "on", "tz": "UTC"}]


@pytest.mark.db
def test_postgres_other_types(db_servers):
    q = (
        "SELECT '6d1d4a4e-7c4e-4e5f-9a59-1b5f1c1d2e3f'::uuid AS u, '{\"a\": 1}'::jsonb AS j, true AS b, "
        "interval '1 day 2 hours' AS iv, '\\x0102'::bytea AS by, ARRAY[1, 2] AS arr, 1.5::numeric AS un, "
        "2::smallint AS s, time '12:30' AS tm"
    )
    t = read_sql(db_servers["postgresql"], q)
    assert [f.type for f in t.schema] == [
        pa.string(),
        pa.string(),
        pa.bool_(),
        pa.duration("us"),
        pa.binary(),
        pa.string(),
        pa.float64(),
        pa.int16(),
        pa.time64("us"),
    ]
    assert t.to_pylist() == [
        {
            "u": "6d1d4a4e-7c4e-4e5f-9a59-1b5f1c1d2e3f",
            "j": '{"a": 1}',
            "b": True,
            "iv": dt.timedelta(days=1, hours=2),
            "by": b"\x01\x02",
            "arr": "[1, 2]",
            "un": 1.5,
            "s": 2,
            "tm": dt.time(12, 30),
        }
    ]


@pytest.mark.db
def test_mariadb_other_types(mysql_source):
    import sqlalchemy as sa

    engine = sa.create_engine(mysql_source.url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {mysql_source.schema}.u (du DECIMAL(4, 1) UNSIGNED, d0 DECIMAL(5, 0))"
        )
        conn.exec_driver_sql(f"INSERT INTO {mysql_source.schema}.u VALUES (7, -3)")
    engine.dispose()
    q = (
        "SELECT CAST(18446744073709551615 AS UNSIGNED) AS big, CAST('ab' AS BINARY) AS bin, "
        "JSON_OBJECT('a', 1) AS j, CAST('12:30:00' AS TIME) AS tm, CAST(1.5 AS DECIMAL(65, 10)) AS wide, "
        f"d0, du FROM {mysql_source.schema}.u"
    )
    t = read_sql(mysql_source.url, q)
    assert [f.type for f in t.schema] == [
        pa.uint64(),
        pa.binary(),
        pa.string(),
        pa.duration("us"),
        pa.decimal256(65, 10),
        pa.decimal128(5, 0),
        pa.decimal128(4, 1),
    ]
    row = t.to_pylist()[0]
    assert row["big"] == 2**64 - 1 and row["bin"] == b"ab" and row["tm"] == dt.timedelta(hours=12, minutes=30)
    assert row["wide"] == Decimal("1.5") and row["d0"] == Decimal(-3) and row["du"] == Decimal("7.0")
