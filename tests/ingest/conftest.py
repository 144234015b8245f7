"""Database fixtures for the ``db`` tests: real PostgreSQL and MariaDB servers with a throwaway schema.

If a server does not answer, ``scripts/start-test-databases.sh`` is run once per session; if it
still does not answer the tests fail (never skip), so CI proves the SQL sources work.
Override the servers with ``SEGMINT_TEST_PG_URL`` / ``SEGMINT_TEST_MYSQL_URL``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_URL = os.environ.get("SEGMINT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("SEGMINT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
START_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start-test-databases.sh"

# id, amount, ratio, created_at (naive), created_tz (written at +02:00, so 2 h earlier in UTC), note, email,
# phone, born
ROWS = [
    (
        1,
        "19.99",
        0.5,
        "2024-01-02 03:04:05",
        "2024-01-02 03:04:05",
        "Zoë 東京",
        "Ann@Example.com",
        "+44 20 7946 0958",
        "1980-02-29",
    ),
    (2, "-0.01", None, None, None, None, None, "020 7946 0958", None),
    (
        3,
        "123456.78",
        1e10,
        "2024-06-30 23:59:59.123456",
        "2024-06-30 23:59:59.123456",
        "",
        "bob@x.org",
        None,
        "2001-01-01",
    ),
]


@dataclass
class DbSource:
    """A throwaway schema on a live server: ``table`` is schema-qualified, ``url`` has no password."""

    backend: str
    url: str
    schema: str

    @property
    def table(self) -> str:
        return f"{self.schema}.customers"

    def count(self) -> int:
        """Rows in the table now, read outside segmint."""
        engine = _engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql(f"SELECT count(*) FROM {self.table}").scalar()
        finally:
            engine.dispose()


def _engine(url):
    import sqlalchemy as sa

    return sa.create_engine(
        url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )


def _answers(url: str) -> str | None:
    """None when the server answers, else the reason."""
    try:
        engine = _engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "start the servers"
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def db_servers() -> dict[str, str]:
    """Make sure both servers answer, starting them once if needed; fail loudly otherwise."""
    urls = {"postgresql": PG_URL, "mysql": MYSQL_URL}
    problems = {name: _answers(url) for name, url in urls.items()}
    if any(problems.values()):
        run = subprocess.run(
            ["bash", str(START_SCRIPT)], check=False, capture_output=True, text=True, timeout=600
        )
        problems = {name: _answers(url) for name, url in urls.items()}
        if any(problems.values()):
            pytest.fail(
                "database servers for the `db` tests are not answering after running "
                f"{START_SCRIPT} (exit {run.returncode}): "
                + "; ".join(f"{k}: {v}" for k, v in problems.items() if v)
                + f"\nscript output:\n{run.stdout[-2000:]}{run.stderr[-2000:]}",
                pytrace=False,
            )
    return urls


def _create_pg(url: str, schema: str) -> None:
    with _engine(url).connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(
            f"CREATE TABLE {schema}.customers (id integer PRIMARY KEY, amount numeric(10, 2), "
            "ratio double precision, created_at timestamp(6), created_tz timestamptz, note text, "
            "email text, phone varchar(40), born date)"
        )
        for row in ROWS:
            values = list(row)
            values[4] = None if row[4] is None else row[4] + "+02:00"
            conn.exec_driver_sql(
                f"INSERT INTO {schema}.customers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", tuple(values)
            )
        conn.exec_driver_sql(f"CREATE TABLE {schema}.log (msg text)")
        conn.exec_driver_sql(
            f"CREATE FUNCTION {schema}.sneaky_write() RETURNS integer LANGUAGE sql AS "
            f"$$ INSERT INTO {schema}.log VALUES ('written'); SELECT 1 $$"
        )


def _create_mysql(url: str, schema: str) -> None:
    with _engine(url).connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {schema} CHARACTER SET utf8mb4")
        conn.exec_driver_sql(
            f"CREATE TABLE {schema}.customers (id int PRIMARY KEY, amount decimal(10, 2), ratio double, "
            "created_at datetime(6), created_tz timestamp(6) NULL DEFAULT NULL, note text, "
            "email varchar(200), phone varchar(40), born date)"
        )
        conn.exec_driver_sql(f"CREATE TABLE {schema}.log (msg text)")
        conn.exec_driver_sql("SET time_zone = '+02:00'")  # TIMESTAMP values are written in this zone
        for row in ROWS:
            conn.exec_driver_sql(
                f"INSERT INTO {schema}.customers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", tuple(row)
            )


def _drop(backend: str, url: str, schema: str) -> None:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {schema}")
    finally:
        engine.dispose()


@pytest.fixture(params=["postgresql", "mysql"])
def db_source(request, db_servers) -> DbSource:
    """A uniquely named schema with a ``customers`` table of three rows on each backend."""
    backend = request.param
    url = db_servers[backend]
    schema = f"segmint_test_{uuid.uuid4().hex[:12]}"
    try:
        (_create_pg if backend == "postgresql" else _create_mysql)(url, schema)
        yield DbSource(backend, url, schema)
    finally:
        _drop(backend, url, schema)


@pytest.fixture
def pg_source(db_servers):
    """The PostgreSQL source alone."""
    schema = f"segmint_test_{uuid.uuid4().hex[:12]}"
    try:
        _create_pg(db_servers["postgresql"], schema)
        yield DbSource("postgresql", db_servers["postgresql"], schema)
    finally:
        _drop("postgresql", db_servers["postgresql"], schema)


@pytest.fixture
def mysql_source(db_servers):
    """The MariaDB source alone."""
    schema = f"segmint_test_{uuid.uuid4().hex[:12]}"
    try:
        _create_mysql(db_servers["mysql"], schema)
        yield DbSource("mysql", db_servers["mysql"], schema)
    finally:
        _drop("mysql", db_servers["mysql"], schema)
