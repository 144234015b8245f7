"""Ingest from a real PostgreSQL / MariaDB server through the Workspace and the CLI."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.db


def test_workspace_ingest_sql(ws, db_source, monkeypatch):
    monkeypatch.setenv("SHOP_DB_URL", db_source.url)
    query = f"SELECT id AS customer_id, email, phone, created_tz AS signup_at, note AS city FROM {db_source.table}"
    r = ws.ingest_sql("customers", query, url_env="SHOP_DB_URL")
    assert r.rows_read == 3 and r.rows_accepted == 3
    assert r.pii == {"email": "hashed", "phone": "hashed"}
    rows = {row["customer_id"]: row for row in ws.store.table("customers").to_pyarrow().to_pylist()}
    assert rows["1"]["email"].startswith("em_")
    # written at 03:04:05+02:00: stored in UTC
    assert str(rows["1"]["signup_at"]) == "2024-01-02 01:04:05"
    assert rows["1"]["phone"] == rows["2"]["phone"]  # one number, two spellings
    again = ws.ingest_sql("customers", query, url_env="SHOP_DB_URL")
    assert again.rows_already_present == 3 and again.rows_new == 0


def test_cli_ingest_sql_json(tmp_path, pg_source, monkeypatch, capsys):
    from segmint.cli import main
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    monkeypatch.setenv("PG_URL", pg_source.url)
    Workspace.init(tmp_path / "w").close()
    query = f"SELECT id AS customer_id, amount AS loyalty FROM {pg_source.table}"
    with pytest.raises(SystemExit) as ex:
        main(["ingest", "customers", "--sql", query, "--url-env", "PG_URL", "-w", str(tmp_path / "w"), "--json"])
    assert ex.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["rows_read"] == 3 and out["rows_accepted"] == 3
    assert "password" not in out["source"]


def test_since_column_reads_only_what_changed_and_remembers_the_mark(ws, db_source, monkeypatch):
    """--since-column (issue 16): the first load reads all, the next only rows at or after the high-water mark."""
    from tests.ingest.conftest import _engine

    monkeypatch.setenv("SHOP_DB_URL", db_source.url)
    query = f"SELECT id AS customer_id, note AS city, created_at FROM {db_source.table}"
    first = ws.ingest_sql("customers", query, url_env="SHOP_DB_URL", since_column="created_at")
    assert (first.rows_read, first.rows_new, first.since) == (3, 3, None)
    assert first.high_water == "2024-06-30 23:59:59.123456"
    engine = _engine(db_source.url)
    try:
        with engine.connect() as conn:  # a correction and a new row, both later than the mark
            conn.exec_driver_sql(f"UPDATE {db_source.table} SET note = 'Leeds', created_at = '2024-07-01 08:00:00' "
                                 "WHERE id = 1")
            conn.exec_driver_sql(f"INSERT INTO {db_source.table} (id, note, created_at) "
                                 "VALUES (4, 'York', '2024-07-02 09:00:00')")
    finally:
        engine.dispose()
    second = ws.ingest_sql("customers", query, url_env="SHOP_DB_URL", since_column="created_at")
    # row 3 sits at the old mark (read again, unchanged), row 1 corrected, row 4 new; row 2 (no date) not read
    assert second.since == "2024-06-30 23:59:59.123456"
    assert (second.rows_read, second.rows_new, second.rows_updated, second.rows_unchanged) == (3, 1, 1, 1)
    assert second.high_water == "2024-07-02 09:00:00"
    third = ws.ingest_sql("customers", query, url_env="SHOP_DB_URL", since_column="created_at")
    assert (third.rows_read, third.rows_unchanged) == (1, 1)
    cities = {r["customer_id"]: r["city"] for r in ws.store.table("customers").to_pyarrow().to_pylist()}
    assert cities["1"] == "Leeds" and cities["4"] == "York" and len(cities) == 4


def test_since_column_must_be_a_column_of_the_query(ws, pg_source, monkeypatch):
    from segmint.errors import ConfigError, DataError

    monkeypatch.setenv("SHOP_DB_URL", pg_source.url)
    query = f"SELECT id AS customer_id FROM {pg_source.table}"
    with pytest.raises(DataError, match="the query returns no column 'updated_at'"):
        ws.ingest_sql("customers", query, url_env="SHOP_DB_URL", since_column="updated_at")
    with pytest.raises(ConfigError, match="plain name"):
        ws.ingest_sql("customers", query, url_env="SHOP_DB_URL", since_column="x; DROP TABLE y")
    assert ws.store.count("customers") == 0
