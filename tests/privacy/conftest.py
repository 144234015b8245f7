"""A small generated shop with a segmentation run on two dates, a report, an export and a quarantined row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

SECRET = "test-secret-key-for-pseudonyms"
SEGMENTATION = {"value": {"kind": "rules", "segments": [
    {"name": "VIP", "where": "monetary_total >= 1500 and frequency >= 10"},
    {"name": "Active", "where": "recency_days <= 60"}], "else": "Lapsed"}}
#: The person the tests erase, and a neighbour who must stay.
ERASED, KEPT = "C0000007", "C0000008"


@pytest.fixture(scope="session")
def privacy_shop_template(tmp_path_factory) -> Path:
    from segmint.datasets import make_shop
    from segmint.workspace import Workspace

    mp = pytest.MonkeyPatch()
    mp.setenv("SEGMINT_SECRET", SECRET)
    path = tmp_path_factory.mktemp("privacy") / "shop"
    ws = Workspace.init(path)
    cfg = path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["segmentations"] = SEGMENTATION
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws.close()
    ws = Workspace.open(path)
    shop = make_shop(200, seed=3)
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, getattr(shop, table))
    # a quarantined order of the person (its raw record names them)
    bad = shop.orders[shop.orders.customer_id == ERASED].head(1).copy()
    bad["order_id"], bad["amount"] = "BAD-1", "not a number"
    ws.ingest("orders", bad, source_name="late.csv")
    for d in ("2025-06-01", "2025-12-01"):
        ws.segment("value", d)
    ws.report("value")
    (path / "exports").mkdir()
    members = ws.members("value").to_pyarrow().to_pandas()
    members.to_csv(path / "exports" / "value.csv", index=False)
    ws.audit_log.record("crm", "analyst", "lookup", f"value/{ERASED}", 1, {"customer": ERASED})
    ws.close()
    mp.undo()
    return path


@pytest.fixture
def shop_path(privacy_shop_template, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEGMINT_SECRET", SECRET)
    dest = tmp_path / "shop"
    shutil.copytree(privacy_shop_template, dest)
    return dest


@pytest.fixture
def shop(shop_path):
    from segmint.workspace import Workspace

    ws = Workspace.open(shop_path)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def raw_shop():
    """The generated shop's frames (the raw email and phone of the erased person)."""
    from segmint.datasets import make_shop

    return make_shop(200, seed=3)
