"""The serving index and the look-up's lean path: the same answers as the store, always current, as strict.

Every customer of a workspace with one segmentation of each kind (rules, audiences, tiers,
cluster, hybrid) is looked up through an app with the index (answered by
server/fastlookup.py) and through an app without it (the route's DuckDB point query):
the responses must be the same bytes.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from ..segment.test_reasons import every_kind
from .conftest import DATES, SEGMENTATION, bearer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")

KINDS = every_kind("value", SEGMENTATION["value"])  # value: the server shop's rules segmentation


@pytest.fixture(scope="module")
def kinds_template(shop_template, tmp_path_factory):
    """The server shop with one segmentation of every kind, each run at the later date."""
    from segmint.workspace import Workspace

    mp = pytest.MonkeyPatch()
    mp.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    path = tmp_path_factory.mktemp("kinds") / "shop"
    shutil.copytree(shop_template, path)
    cfg = path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["segmentations"] = KINDS
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws = Workspace.open(path)
    for name in KINDS:
        if name != "value":
            ws.segment(name, DATES[1])
    ws.close()
    mp.undo()
    return path


@pytest.fixture
def kinds(kinds_template, tmp_path, monkeypatch):
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    dest = tmp_path / "shop"
    shutil.copytree(kinds_template, dest)
    ws = Workspace.open(dest)
    yield ws
    ws.close()


@pytest.fixture
def analyst(kinds):
    from segmint.server.tokens import TokenStore

    store = TokenStore(kinds.store)
    return {role: store.create(f"k-{role}", role)[1] for role in ("viewer", "analyst")}


def _app(ws, **settings):
    from fastapi.testclient import TestClient

    from segmint.server import Settings, create_app

    return TestClient(create_app(ws, Settings(**settings)))


def _customers(ws) -> list[str]:
    return [r[0] for r in ws.store.con.con.execute(
        "SELECT DISTINCT customer_id FROM membership_reasons ORDER BY customer_id").fetchall()]


def _get(client, cid, name, secret, **params):
    return client.get(f"/api/v1/customers/{cid}", params={"segmentation": name, **params}, headers=bearer(secret))


def _headers(r) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k != "date"}


def test_the_index_answers_every_customer_as_the_store_does(kinds, analyst, monkeypatch):
    from segmint.segment import membership as ms

    secret = analyst["analyst"]
    customers = _customers(kinds)
    assert len(customers) >= 250
    expected = {}
    with _app(kinds, serving_index_mb=0) as client:  # no index: every look-up is the DuckDB point query
        assert client.app.state.index.status()["segmentations"] == {}
        for name in KINDS:
            for cid in customers:
                r = _get(client, cid, name, secret)
                assert r.status_code == 200, r.text
                expected[name, cid] = (r.content, _headers(r))
    kinds_seen, most_audiences = {}, 0
    with _app(kinds) as client:
        index = client.app.state.index
        index.refresh()
        assert sorted(index.status()["segmentations"]) == sorted(KINDS)
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200  # the token is now cached

        def no_store(*args, **kwargs):
            raise AssertionError("an indexed look-up read the store")

        monkeypatch.setattr(ms, "lookup", no_store)
        # First rendered per request (the bodies hidden), then from the bodies the index renders once
        # (rendering per request forbidden): the same bytes either way.
        for rendered in (False, True):
            if rendered:
                monkeypatch.undo()
                monkeypatch.setattr(ms, "lookup", no_store)
                index.render()
                assert all(v["rendered"] for v in index.status()["segmentations"].values())
                monkeypatch.setattr("segmint.server.serving.IndexEntry.why", no_store)
            else:
                monkeypatch.setattr("segmint.server.serving.IndexEntry.body", lambda self, cid: None)
            for name in KINDS:
                for cid in customers:
                    r = _get(client, cid, name, secret)
                    assert (r.content, _headers(r)) == expected[name, cid], (name, cid, rendered)
                    got = r.json()["memberships"][0]
                    kinds_seen[name] = got["kind"]
                    if name == "aud":
                        most_audiences = max(most_audiences, len(got["segments"]))
    # The model documents of rules and audiences are both "rules"; audiences give several segments.
    assert kinds_seen == {"value": "rules", "aud": "rules", "bands": "tiers", "groups": "cluster", "mixed": "hybrid"}
    assert most_audiences >= 2


def test_the_route_itself_reads_the_index_for_requests_the_lean_path_leaves_to_it(kinds, analyst, monkeypatch):
    """A session cookie, an extra query parameter or every segmentation at once still use the index."""
    from segmint.segment import membership as ms

    secret = analyst["analyst"]
    cid = _customers(kinds)[0]
    with _app(kinds) as client:
        client.app.state.index.refresh()
        fast = _get(client, cid, "value", secret)
        monkeypatch.setattr(ms, "lookup", lambda *a, **k: pytest.fail("read the store"))
        slow = _get(client, cid, "value", secret, extra="1")  # the lean path takes only `segmentation`
        assert fast.status_code == slow.status_code == 200 and fast.content == slow.content
        every = client.get(f"/api/v1/customers/{cid}", params={"segmentation": ""}, headers=bearer(secret))
        assert every.status_code == 200
        assert sorted(m["segmentation"] for m in every.json()["memberships"]) == sorted(KINDS)


def test_the_index_refreshes_after_a_run_and_never_serves_a_stale_one(kinds, analyst):
    secret = analyst["analyst"]
    cid = _customers(kinds)[0]
    with _app(kinds) as client:
        index = client.app.state.index
        index.refresh()
        before = index.get("value")
        assert before is not None and before.as_of.date().isoformat() == DATES[1]
        assert _get(client, cid, "value", secret).json()["memberships"][0]["as_of"] == DATES[1]
        job = client.post("/api/v1/segmentations/value/runs", json={"as_of": "2026-01-15"},
                          headers=bearer(secret)).json()
        assert client.app.state.jobs.wait(job["job_id"], timeout=300).status == "succeeded"
        # At once, whether or not the index has caught up: the new run (from the store until it has).
        r = _get(client, cid, "value", secret)
        assert r.status_code == 200 and r.json()["memberships"][0]["as_of"] == "2026-01-15"
        index.refresh()
        after = index.get("value")
        assert after is not None and after.as_of.date().isoformat() == "2026-01-15"
        assert index.get("bands") is not None  # unchanged runs stay indexed
        assert _get(client, cid, "value", secret).content == r.content


def test_a_rerun_at_the_same_date_is_reloaded(kinds):
    with _app(kinds) as client:
        index = client.app.state.index
        index.refresh()
        before = index.get("bands")
        kinds.segment("bands", DATES[1])  # replaces the run: same version and date, new rows
        assert index.get("bands") is None  # stale at once: the store answers until the refresh
        index.refresh()
        after = index.get("bands")
        assert after is not None and after is not before and after.stored_at > before.stored_at


def test_a_revoked_token_gets_401_and_a_viewer_403_from_the_lean_path_s_route(kinds, analyst):
    from segmint.server.tokens import TokenStore

    cid = _customers(kinds)[0]
    with _app(kinds) as client:
        client.app.state.index.refresh()
        assert _get(client, cid, "value", analyst["analyst"]).status_code == 200
        assert _get(client, cid, "value", analyst["analyst"]).status_code == 200  # cached token, indexed run
        TokenStore(kinds.store).revoke("k-analyst")
        r = _get(client, cid, "value", analyst["analyst"])
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        r = _get(client, cid, "value", analyst["viewer"])
        assert r.status_code == 403 and r.json()["error"]["details"] == {"required_role": "analyst",
                                                                          "role": "viewer"}
        r = client.get(f"/api/v1/customers/{cid}", params={"segmentation": "value"})
        assert r.status_code == 401 and set(r.json()) == {"error"}


def test_unknown_customers_and_segmentations_get_the_route_s_404(kinds, analyst):
    with _app(kinds) as client:
        client.app.state.index.refresh()
        r = _get(client, "NOPE", "value", analyst["analyst"])
        assert r.status_code == 404 and "not in the feature snapshot" in r.json()["error"]["message"]
        r = _get(client, "NOPE", "valu", analyst["analyst"])
        assert r.status_code == 404 and "did you mean 'value'" in r.json()["error"]["message"]


def test_segmentations_over_the_memory_budget_are_read_from_the_store(kinds, analyst):
    cid = _customers(kinds)[0]
    with _app(kinds, serving_index_mb=0) as client:
        off = _get(client, cid, "groups", analyst["analyst"])
    with _app(kinds, serving_index_mb=0.0001) as client:  # ~100 bytes: nothing fits
        index = client.app.state.index
        index.refresh()
        status = index.status()
        assert status["segmentations"] == {}
        assert set(status["not_indexed"]) == set(KINDS)
        assert "serving_index_mb" in status["not_indexed"]["groups"]
        small = _get(client, cid, "groups", analyst["analyst"])
    assert small.status_code == off.status_code == 200 and small.content == off.content


def test_answers_that_would_not_fit_the_budget_are_rendered_per_request(kinds):
    from segmint.server.context import WorkspaceHandle
    from segmint.server.serving import NotRendered, ServingIndex, render_bodies

    handle = WorkspaceHandle(kinds)
    index = ServingIndex(handle, budget_mb=512)
    try:
        index.refresh()  # loads the entries; the bodies are rendered only by render()
        status = index.status()
        assert sorted(status["segmentations"]) == sorted(KINDS)
        assert not any(v["rendered"] for v in status["segmentations"].values())
        entry = index.get("value")
        cid = entry.ids[0].decode("utf-8")
        full = render_bodies(entry, 2**40)
        with pytest.raises(NotRendered, match="would not fit the serving_index_mb budget"):
            render_bodies(entry, len(full[0]) // 2)
        with pytest.raises(NotRendered, match="rendering its answers would take"):
            render_bodies(entry, 2**40, max_seconds=0)
        # Room for the loaded entries, not for their rendered answers.
        index.budget = sum(v["mb"] for v in status["segmentations"].values()) * 2**20 + 1024
        index.render()
        status = index.status()
        assert not any(v["rendered"] for v in status["segmentations"].values())
        assert "would not fit the serving_index_mb budget" in status["not_indexed"]["value"]
        assert index.get("value") is entry and entry.body(cid) is None and entry.why(cid) is not None
        index.budget = 2**30
        index.render()
        rendered = index.get("value")
        assert index.status()["segmentations"]["value"]["rendered"]
        body = rendered.body(cid)
        assert body == full[0][full[1][0]:full[1][1]] and json.loads(body)["customer_id"] == cid
        assert rendered.body("NOPE") is None
    finally:
        index.close()
        handle.close()


def test_the_lean_path_requires_the_role_the_route_declares(client):
    from segmint.server.auth import api_routes, required_role
    from segmint.server.fastlookup import PATH, ROLE

    route = next(r for r in api_routes(client.app) if r.path == PATH + "{customer_id:path}")  # ids may hold "/"
    assert required_role(route) == ROLE == "analyst"
    doc = client.app.openapi()["paths"][PATH + "{customer_id}"]["get"]
    assert doc["x-required-role"] == "analyst"
    assert [p["name"] for p in doc["parameters"]] == ["customer_id", "segmentation"]


def test_segmint_serve_passes_the_index_budget_and_runs_without_an_access_log(shop_path, monkeypatch, capsys):
    import gc

    import uvicorn

    from segmint.cli import main

    seen = {}

    class FakeServer:  # uvicorn.Server without the serving: what segmint serve configured
        def __init__(self, config):
            seen["config"] = config

        def run(self):
            seen["settings"] = seen["config"].app.state.settings

    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    monkeypatch.delenv("SEGMINT_WORKSPACE", raising=False)
    try:
        main(["serve", "-w", str(shop_path), "--port", "8123", "--serving-index-mb", "64"])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr()
    finally:
        gc.unfreeze()  # the runner froze this test process's objects
    config = seen["config"]
    from segmint.server.protocol import GuardedHttpTools

    # httptools ("auto"'s pick), with the head and body timeouts and the connection cap (issue 15)
    assert config.access_log is False and config.loop == "asyncio" and issubclass(config.http, GuardedHttpTools)
    assert config.http.header_timeout_s == 10 and config.timeout_keep_alive == 5
    assert (config.host, config.port) == ("127.0.0.1", 8123)
    assert seen["settings"].serving_index_mb == 64
