"""Fixtures for the server tests: a small generated shop, run on two dates, and an app over it.

The server calls the real Workspace methods (segmentations, members, history, diff, why,
preview_rule, segment, validate, profile, personas).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

SEGMENTATION = {
    "value": {
        "kind": "rules",
        "description": "Spend and recency",
        "segments": [
            {"name": "VIP", "where": "monetary_total >= 1500 and frequency >= 10"},
            {"name": "Active", "where": "recency_days <= 60"},
        ],
        "else": "Lapsed",
    }
}
DATES = ("2025-06-01", "2025-12-01")


# -- the shop --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def shop_template(tmp_path_factory) -> Path:
    """A workspace with 300 generated customers, the 'value' segmentation run on two dates (built once)."""
    from segmint.datasets import make_shop
    from segmint.workspace import Workspace

    mp = pytest.MonkeyPatch()
    mp.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    path = tmp_path_factory.mktemp("server") / "shop"
    ws = Workspace.init(path)
    cfg = path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["segmentations"] = SEGMENTATION
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws.close()
    ws = Workspace.open(path)
    shop = make_shop(300, seed=5)
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, getattr(shop, table))
    for d in DATES:
        ws.segment("value", d)
    ws.close()
    mp.undo()
    return path


@pytest.fixture
def shop_path(shop_template, tmp_path, monkeypatch) -> Path:
    """A private copy of the shop workspace for one test."""
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    dest = tmp_path / "shop"
    shutil.copytree(shop_template, dest)
    return dest


@pytest.fixture
def shop(shop_path):
    from segmint.workspace import Workspace

    ws = Workspace.open(shop_path)
    yield ws
    ws.close()


@pytest.fixture
def make_client(shop):
    """``make_client(settings=None)``: a TestClient over the shop, closed after the test."""
    from fastapi.testclient import TestClient

    from segmint.server import Settings, create_app

    clients = []

    def make(settings: Settings | None = None, **kw):
        client = TestClient(create_app(shop, settings or Settings(**kw)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def tokens(shop):
    """One active token per role, plus a revoked one: name -> secret."""
    from segmint.server.tokens import TokenStore

    store = TokenStore(shop.store)
    out = {role: store.create(f"t-{role}", role)[1] for role in ("viewer", "analyst", "admin")}
    out["revoked"] = store.create("t-revoked", "admin")[1]
    store.revoke("t-revoked")
    return out


@pytest.fixture
def client(make_client, tokens):
    return make_client()


def define(ws, name: str, definition: dict) -> None:
    """Add the segmentation ``name`` to the workspace's segmint.yaml and reload its config."""
    cfg = ws.path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["segmentations"][name] = definition
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws.config = type(ws.config).load(cfg)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
