"""Request bodies: authenticated before they are read, bounded per route, 413 in the error shape (issue 15)."""

from __future__ import annotations

import asyncio
import json

import pytest

from segmint.errors import ConfigError
from segmint.server.settings import BODY_LIMITS, Settings

from .conftest import bearer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")
PREVIEW = "/api/v1/rules/preview"


def _big_rule(n: int) -> dict:
    return {"where": "recency_days <= 30" + " " * n}


def test_body_over_the_route_limit_is_413_in_the_error_shape(client, tokens):
    r = client.post(PREVIEW, json=_big_rule(BODY_LIMITS[PREVIEW]), headers=bearer(tokens["analyst"]))
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "payload_too_large" and err["details"] == {"limit_bytes": BODY_LIMITS[PREVIEW]}
    assert PREVIEW in err["message"] and r.headers["connection"] == "close"
    assert r.headers["x-frame-options"] == "DENY"  # the security headers too


def test_a_body_within_the_limit_reaches_the_route(client, tokens):
    r = client.post(PREVIEW, json={"where": "recency_days <= 30"}, headers=bearer(tokens["analyst"]))
    assert r.status_code in (200, 409), r.text


def test_chunked_bodies_are_counted(client, tokens):
    def chunks(total: int):
        body = json.dumps(_big_rule(total)).encode()
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    h = {**bearer(tokens["analyst"]), "content-type": "application/json"}
    r = client.post(PREVIEW, content=chunks(BODY_LIMITS[PREVIEW]), headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    small = client.post(PREVIEW, content=chunks(10), headers=h)
    assert small.status_code != 413 and small.json().get("error", {}).get("code") != "payload_too_large"


def test_per_route_limits_are_settings(make_client, tokens):
    client = make_client(Settings(body_limits={PREVIEW: 64}, max_body_bytes=128))
    h = bearer(tokens["analyst"])
    assert client.post(PREVIEW, json=_big_rule(100), headers=h).status_code == 413
    r = client.post("/api/v1/tokens", json={"name": "n" * 5000, "role": "viewer"}, headers=h)
    assert r.status_code == 413 and r.json()["error"]["details"]["limit_bytes"] == BODY_LIMITS["/api/v1/tokens"]
    r = client.post("/api/v1/nowhere", content=b"x" * 200, headers=h)
    assert r.status_code == 413 and r.json()["error"]["details"]["limit_bytes"] == 128


def test_an_unknown_route_in_body_limits_is_an_error(shop):
    from segmint.server import create_app

    with pytest.raises(ConfigError, match=r"no route '/api/v1/rule/preview'; did you mean '/api/v1/rules/preview'"):
        create_app(shop, Settings(body_limits={"/api/v1/rule/preview": 10}))


def test_unauthenticated_bodies_are_refused_before_a_byte_is_read(shop):
    """The guard answers 401 without calling receive(): the body is never read (nor, with
    Expect: 100-continue, even sent)."""
    from segmint.server import create_app

    app = create_app(shop)
    reads, sent = [], []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    async def send(message):
        sent.append(message)

    for headers in ([(b"content-length", b"100000000")], [(b"transfer-encoding", b"chunked")],
                    [(b"content-length", b"1000"), (b"authorization", b"Bearer smt_wrong")]):
        sent.clear()
        scope = {"type": "http", "method": "POST", "path": PREVIEW, "raw_path": PREVIEW.encode(), "root_path": "",
                 "query_string": b"", "headers": [(b"host", b"t"), *headers], "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 8000), "scheme": "http", "http_version": "1.1"}
        asyncio.run(app(scope, receive, send))
        status = sent[0]["status"]
        assert status in (401, 413), status
        assert json.loads(sent[1]["body"])["error"]["code"] in ("unauthorized", "payload_too_large")
    assert reads == []


def test_a_bad_token_on_a_body_counts_once_towards_the_backoff(make_client):
    client = make_client(failed_logins_allowed=2, backoff_base_s=30)
    h = bearer("smt_wrong")
    codes = [client.post(PREVIEW, json={"where": "x > 1"}, headers=h).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_the_login_form_has_its_own_small_limit(client):
    r = client.post("/login", data={"token": "x", "next": "/" + "a" * BODY_LIMITS["/login"]})
    assert r.status_code == 413
