"""Fixtures for the server tests: a small generated shop, run on two dates, and an app over it.

The server calls Workspace methods (segmentations, members, history, diff, why, preview_rule,
segment, validate, profile, personas). Where the Workspace class does not have one yet, the
workspace object here gets a stand-in wired to the same services (segment.service, evaluate,
profile), so the tests exercise real data either way; once the lead adds the methods, the
real ones are used.
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


# -- stand-ins for Workspace methods the lead is adding --------------------------------------
def _features_and_labels(ws, name):
    from segmint.features.snapshot import load_features
    from segmint.segment import service

    members = service.members(ws, name).to_pyarrow().to_pandas()
    as_of = service._run(ws, name)[1]
    features = load_features(ws.store, as_of).drop("as_of").to_pyarrow().to_pandas().set_index("customer_id")
    labels = members.set_index("customer_id")["segment"].reindex(features.index)
    return features, labels


def _segmentations(self):
    from segmint.segment import service
    return service.list_segmentations(self)


def _segment(self, name, as_of=None):
    from segmint.segment import service
    return service.run_segmentation(self, name, as_of)


def _members(self, name, segment=None, as_of=None):
    from segmint.segment import service
    return service.members(self, name, segment, as_of)


def _history(self, name):
    from segmint.segment import service
    return service.history(self, name)


def _diff(self, name, d1, d2):
    from segmint.segment import service
    return service.diff(self, name, d1, d2)


def _why(self, name, customer_id):
    from segmint.segment import service
    return service.why(self, name, customer_id)


def _preview_rule(self, where, as_of=None):
    from segmint.segment import service
    return service.preview_rule(self, where, as_of)


def _validate(self, name):
    from segmint.evaluate import scorecard
    features, labels = _features_and_labels(self, name)
    return scorecard(features, labels)


def _profile(self, name):
    from segmint.profile import profile
    features, labels = _features_and_labels(self, name)
    return profile(features, labels, min_segment_size=self.config.privacy.min_segment_size)


def _personas(self, name):
    from segmint.profile import name_segments, personas
    p = _profile(self, name)
    return personas(p, name_segments(p))


STAND_INS = {"segmentations": _segmentations, "segment": _segment, "members": _members, "history": _history,
             "diff": _diff, "why": _why, "preview_rule": _preview_rule, "validate": _validate,
             "profile": _profile, "personas": _personas}


def missing_methods() -> list[str]:
    from segmint.workspace import Workspace
    return sorted(m for m in STAND_INS if not hasattr(Workspace, m))


def wire(ws):
    """Give ``ws`` the stand-ins for the Workspace methods that do not exist yet (in a subclass, so that
    the server's per-thread copies of the workspace keep them)."""
    missing = missing_methods()
    if missing:
        ws.__class__ = type("WorkspaceWithStandIns", (type(ws),), {m: STAND_INS[m] for m in missing})
    return ws


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
    ws = wire(Workspace.open(path))
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

    ws = wire(Workspace.open(shop_path))
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


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
