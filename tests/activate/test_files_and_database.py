"""Files and database destinations: manifests, min-k, atomic files; diff syncs into PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
import json
import uuid

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from segmint.activate.sync import Sync
from tests.activate.conftest import write


def _sync(ws, clock, name, full=False):
    return ws.sync(name, full=full, clock=clock)[name]


def _manifests(folder):
    return sorted((json.loads(p.read_text()) for p in folder.glob("*.manifest.json")), key=lambda m: m["written_at"])


def test_change_files_each_with_a_manifest_and_checksum(shop, clock):
    write(shop, "value", 1, {f"C{i:02d}": "VIP" for i in range(6)})
    shop.activation.add({"name": "drop", "kind": "files", "path": "out", "format": "parquet", "segmentations": ["value"],
                         "batch_size": 2})
    _sync(shop, clock, "drop")
    folder = shop.path / "out"
    manifests = _manifests(folder)
    # C03 has no consent: 5 customers in batches of 2 messages
    assert sum(m["rows"] for m in manifests) == 5 and len(manifests) == 3
    for m in manifests:
        data = folder / m["file"]
        assert hashlib.sha256(data.read_bytes()).hexdigest() == m["sha256"]
        assert pq.read_table(data).num_rows == m["rows"]
        assert m["runs"] == [{"segmentation": "value", "version": 1, "as_of": "2025-01-01T00:00:00"}]
    assert not list(folder.glob(".*tmp"))  # nothing half-written left behind


def test_audience_files_leave_out_segments_below_min_k(shop, clock):
    shop.config.privacy.min_segment_size = 3
    write(shop, "value", 1, {"C00": "VIP", "C01": "VIP", "C02": "VIP", "C04": "Tiny", "C05": "Tiny"})
    shop.activation.add({"name": "drop", "kind": "files", "path": "out", "content": "audience",
                         "segmentations": ["value"]})
    _sync(shop, clock, "drop")
    [m] = _manifests(shop.path / "out")
    assert m["rows"] == 3 and m["suppressed"] == [{"segmentation": "value", "segment": "Tiny", "members": 2}]
    lines = (shop.path / "out" / m["file"]).read_text().splitlines()
    assert len(lines) == 4 and all("VIP" in line for line in lines[1:])


def test_csv_cells_are_neutralised(shop, clock):
    write(shop, "value", 1, {"C00": "=HYPERLINK(\"http://x\")"})
    shop.activation.add({"name": "drop", "kind": "files", "path": "out", "segmentations": ["value"]})
    _sync(shop, clock, "drop")
    [m] = _manifests(shop.path / "out")
    assert "'=HYPERLINK" in (shop.path / "out" / m["file"]).read_text()


# -- database destinations (real servers) -------------------------------------------------------------

@pytest.fixture(params=["postgresql", "mysql"])
def target(request, db_servers):
    """A database URL and a fresh table name on each server."""
    from tests.ingest.conftest import _create_mysql, _create_pg, _drop

    schema = f"segmint_test_{uuid.uuid4().hex[:12]}"
    url = db_servers[request.param]
    (_create_pg if request.param == "postgresql" else _create_mysql)(url, schema)
    try:
        yield request.param, url, schema
    finally:
        _drop(request.param, url, schema)


def _rows(url, table):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT segmentation, segment, customer_id FROM {table}")))
    finally:
        engine.dispose()


@pytest.mark.db
def test_mirror_keeps_the_table_equal_to_the_audience(shop, clock, target, monkeypatch):
    backend, url, schema = target
    monkeypatch.setenv("CRM_DB", url)
    table = f"{schema}.audience"
    first = {f"C{i:02d}": "VIP" if i < 5 else "New" for i in range(12)}
    write(shop, "value", 1, first)
    shop.activation.add({"name": "db", "kind": "database", "url_env": "CRM_DB", "table": table,
                         "segmentations": ["value"], "fields": ["marketing_consent"]})
    _sync(shop, clock, "db")
    consented = {c for c in first if int(c[1:]) % 4 != 3}
    assert _rows(url, table) == sorted(("value", first[c], c) for c in consented)
    second = {**first, "C00": "New", "C05": "VIP"}
    del second["C11"]
    write(shop, "value", 2, second)
    _sync(shop, clock, "db")
    assert _rows(url, table) == sorted(("value", second[c], c) for c in consented if c in second)
    # applying the same changes again (a sync killed after the target committed) changes nothing
    Sync(shop.store, shop.config, shop.path, clock=clock).replay(__import__("datetime").datetime(2000, 1, 1), "db")
    _sync(shop, clock, "db")
    assert _rows(url, table) == sorted(("value", second[c], c) for c in consented if c in second)
    # a full resync rewrites the table from the audience
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()
    assert _sync(shop, clock, "db", full=True)["resynced_rows"] == len([c for c in consented if c in second])
    assert _rows(url, table) == sorted(("value", second[c], c) for c in consented if c in second)


@pytest.mark.db
def test_insert_mode_appends_each_change_once(shop, clock, target, monkeypatch):
    backend, url, schema = target
    monkeypatch.setenv("CRM_DB", url)
    table = f"{schema}.changes"
    write(shop, "value", 1, {"C00": "VIP", "C01": "VIP"})
    shop.activation.add({"name": "db", "kind": "database", "url_env": "CRM_DB", "table": table, "mode": "insert",
                         "segmentations": ["value"]})
    _sync(shop, clock, "db")
    write(shop, "value", 2, {"C00": "New", "C01": "VIP"})
    _sync(shop, clock, "db")
    Sync(shop.store, shop.config, shop.path, clock=clock).replay(__import__("datetime").datetime(2000, 1, 1), "db")
    _sync(shop, clock, "db")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        got = sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT customer_id, segment, change_type FROM {table}")))
    engine.dispose()
    assert got == [("C00", "New", "entered"), ("C00", "VIP", "entered"), ("C00", "VIP", "exited"),
                   ("C01", "VIP", "entered")]
