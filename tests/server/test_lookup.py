"""The fast paths: the one-customer look-up from stored reasons, cached tokens, previews without snapshots."""

from __future__ import annotations

import json

import pytest

from .conftest import DATES, bearer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")


def _some_customer(shop) -> str:
    return shop.store.con.con.execute(
        "SELECT customer_id FROM memberships WHERE segmentation = 'value' AND segment = 'VIP' "
        "ORDER BY customer_id LIMIT 1").fetchone()[0]


def test_lookup_reads_stored_reasons_without_the_snapshot(client, tokens, shop, monkeypatch):
    from segmint.segment import explain_run, runs

    cid = _some_customer(shop)
    version, when = runs.run_of(shop.segment_context(), "value")
    doc, _ = shop.stored_model("value", version)
    computed = explain_run.why_computed(shop.segment_context(), "value", doc, version, when, cid)
    expected = json.loads(json.dumps(computed.to_dict(), default=str))

    def no_snapshot(*args, **kwargs):  # the stored path must not load the feature snapshot
        raise AssertionError("the look-up loaded the feature snapshot")

    import sys  # segmint.features.snapshot is also the name of a function in segmint.features

    monkeypatch.setattr(sys.modules["segmint.features.snapshot"], "load_features", no_snapshot)
    r = client.get(f"/api/v1/customers/{cid}", params={"segmentation": "value"}, headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    got = r.json()["memberships"][0]
    assert got == {"segmentation": "value", **expected}
    assert got["segments"] == ["VIP"] and got["rules"][0]["held"] is True
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"


def test_lookup_of_an_unknown_customer_or_segmentation(client, tokens):
    h = bearer(tokens["analyst"])
    r = client.get("/api/v1/customers/NOPE", params={"segmentation": "value"}, headers=h)
    assert r.status_code == 404 and "not in the feature snapshot" in r.json()["error"]["message"]
    r = client.get("/api/v1/customers/C0000004", params={"segmentation": "valu"}, headers=h)
    assert r.status_code == 404 and "did you mean 'value'" in r.json()["error"]["message"]


def test_a_token_revoked_outside_the_api_is_refused_at_once(client, tokens, shop):
    """The verified-token cache empties on any revocation in the process, however it is made."""
    from segmint.server.tokens import TokenStore

    h = bearer(tokens["analyst"])
    assert client.get("/api/v1/me", headers=h).status_code == 200
    assert client.get("/api/v1/me", headers=h).status_code == 200  # now from the cache
    cache = client.app.state.auth.cache
    assert cache._items and not any(tokens["analyst"] in k for k in cache._items)  # digests, never secrets
    TokenStore(shop.store).revoke("t-analyst")
    assert client.get("/api/v1/me", headers=h).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(tokens["viewer"])).status_code == 200


def test_a_cached_session_ends_with_its_token(client, tokens, shop):
    import re

    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    client.post("/login", data={"token": tokens["viewer"], "csrf_token": csrf}, follow_redirects=False)
    assert client.get("/api/v1/me").json()["via"] == "session"
    assert client.get("/api/v1/me").json()["via"] == "session"  # cached
    from segmint.server.tokens import TokenStore

    TokenStore(shop.store).revoke("t-viewer")
    assert client.get("/api/v1/me").status_code == 401


def test_preview_uses_the_latest_snapshot_and_never_computes_one(client, tokens, shop):
    h = bearer(tokens["analyst"])
    before = shop.store.con.con.execute("SELECT count(*) FROM features").fetchone()[0]
    r = client.post("/api/v1/rules/preview", json={"where": "frequency >= 2"}, headers=h)
    assert r.status_code == 200 and r.json()["as_of"] == DATES[1]
    r = client.post("/api/v1/rules/preview", json={"where": "frequency >= 2", "as_of": "2025-03-01"}, headers=h)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "conflict" and "no feature snapshot as of 2025-03-01" in err["message"]
    assert err["details"]["snapshots"] == [DATES[1], DATES[0]]
    assert shop.store.con.con.execute("SELECT count(*) FROM features").fetchone()[0] == before


def test_preview_on_a_workspace_without_any_snapshot(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from segmint.datasets import make_shop
    from segmint.server import create_app
    from segmint.server.tokens import TokenStore
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    ws = Workspace.init(tmp_path / "fresh")
    try:
        shop = make_shop(50, seed=3)
        for table in ("customers", "orders"):
            ws.ingest(table, getattr(shop, table))
        _, secret = TokenStore(ws.store).create("a", "analyst")
        with TestClient(create_app(ws)) as client:
            r = client.post("/api/v1/rules/preview", json={"where": "frequency >= 2"}, headers=bearer(secret))
        assert r.status_code == 409 and "none yet" in r.json()["error"]["message"]
        assert "features" not in ws.store.tables() or ws.store.con.con.execute(
            "SELECT count(*) FROM features").fetchone()[0] == 0
    finally:
        ws.close()
