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
