"""Raw personal data never reaches the store: not the tables, not the quarantine."""

from __future__ import annotations

import duckdb

from segmint.config import Config


def test_pii_is_pseudonymised_everywhere(ws, tmp_path):
    src = tmp_path / "customers.csv"
    src.write_text(
        "customer_id,email,phone,first_name,age\n"
        "C1,Ann@Example.com,+44 20 7946 0958,Ann,34\n"
        "C2, ann@example.com ,020 7946 0958,Ann,thirty\n"
    )
    r = ws.ingest("customers", src)
    assert r.pii == {"email": "hashed", "phone": "hashed", "first_name": "hashed"}
    stored = ws.store.table("customers").to_pyarrow().to_pylist()
    assert len(stored) == 1 and stored[0]["email"].startswith("em_")
    quarantined = ws.store.table("quarantine").raw.to_pyarrow().to_pylist()[0]
    # one person from two spellings gets one pseudonym
    assert stored[0]["email"] in quarantined and stored[0]["phone"] in quarantined
    ws.close()
    raw_bytes = (ws.path / ".segmint" / "store.duckdb").read_bytes()
    for secret in (b"Ann@Example.com", b"ann@example.com", b"7946", b"Ann,"):
        assert secret not in raw_bytes


def test_pii_policy_drop_and_keep(ws, tmp_path):
    ws.config = Config.parse({"privacy": {"pii": {"email": "drop", "first_name": "keep"}}})
    src = tmp_path / "customers.csv"
    src.write_text("customer_id,email,first_name\nC1,a@b.com,Ann\n")
    r = ws.ingest("customers", src)
    # a kept column is reported too: nothing found is stored without the report saying so
    assert r.pii == {"email": "dropped", "first_name": "kept"}
    assert r.pii_found["first_name"] == {"action": "kept", "kind": "name", "found_by": "name",
                                         "evidence": "its name 'first_name'", "inside_text": False,
                                         "setting": "first_name"}
    row = ws.store.table("customers").to_pyarrow().to_pylist()[0]
    assert row["email"] is None and row["first_name"] == "Ann"


def test_the_key_file_is_private(tmp_path, monkeypatch):
    import stat

    from segmint.workspace import Workspace

    monkeypatch.delenv("SEGMINT_SECRET", raising=False)
    ws = Workspace.init(tmp_path / "w")
    src = tmp_path / "c.csv"
    src.write_text("customer_id,email\nC1,a@b.com\n")
    ws.ingest("customers", src)
    key = ws.path / ".segmint" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ws.close()


def test_store_is_a_plain_duckdb_file(ws):
    ws.close()
    con = duckdb.connect(str(ws.path / ".segmint" / "store.duckdb"), read_only=True)
    assert {"customers", "orders", "quarantine"} <= {r[0] for r in con.sql("show tables").fetchall()}
    con.close()
