"""Authorisation matrix (every route x every role x no token x a revoked token), sessions, CSRF, backoff."""

from __future__ import annotations

import logging
import re

import pytest
from segmint.server.auth import api_routes, required_role
from segmint.server.tokens import ROLES, role_at_least

from .conftest import DATES, bearer

PUBLIC = {("GET", "/login"), ("POST", "/login")}
SAMPLE = {"name": "value", "segment": "VIP", "customer_id": "C0000004", "job_id": "nojob", "token_id": "no-such-token",
          "filename": "app.css"}
QUERY = {"/api/v1/segmentations/{name}/migration": {"from": DATES[0], "to": DATES[1]}}
BODY = {"/api/v1/rules/preview": {"where": "frequency >= 1"}, "/api/v1/tokens": {"name": "new-one", "role": "viewer"}}


def routes(app):
    for r in api_routes(app):
        for method in sorted(r.methods - {"HEAD"}):
            yield method, r.path, r


def call(client, method, path, headers):
    url = re.sub(r"{(\w+)(:\w+)?}", lambda m: SAMPLE[m.group(1)], path)
    return client.request(method, url, params=QUERY.get(path), json=BODY.get(path), headers=headers)


def test_every_route_declares_a_role_or_is_public(client):
    undeclared = [(m, p) for m, p, r in routes(client.app) if required_role(r) is None and (m, p) not in PUBLIC]
    assert not undeclared, f"routes without role(...): {undeclared}"
    assert {(m, p) for m, p, r in routes(client.app) if required_role(r) is None} == PUBLIC


def test_authorisation_matrix(make_client, tokens):
    from segmint.server import Settings

    client = make_client(Settings(failed_logins_allowed=10_000))  # the revoked token would trip the backoff
    checked = 0
    for method, path, route in routes(client.app):
        need = required_role(route)
        if need is None:
            continue
        for who in ("none", "revoked", *ROLES):
            headers = {} if who == "none" else bearer(tokens[who])
            r = call(client, method, path, headers)
            where = f"{method} {path} as {who}"
            if who in ("none", "revoked"):
                assert r.status_code == 401, where
                assert r.json()["error"]["code"] == "unauthorized", where
            elif not role_at_least(who, need):
                assert r.status_code == 403, where
                assert set(r.json()["error"]) == {"code", "message", "details"}, where
            else:
                assert r.status_code not in (401, 403) and r.status_code < 500, f"{where}: {r.status_code} {r.text[:300]}"
            checked += 1
    assert checked >= 25 * 5


@pytest.mark.parametrize("status,request_args", [
    (401, ("GET", "/api/v1/segmentations", {})),
    (403, ("GET", "/api/v1/tokens", "viewer")),
    (404, ("GET", "/api/v1/segmentations/nope", "viewer")),
    (422, ("GET", "/api/v1/segmentations/value/segments/VIP/members?limit=0", "analyst")),
])
def test_one_error_shape(client, tokens, status, request_args):
    method, url, who = request_args
    r = client.request(method, url, headers=bearer(tokens[who]) if who else {})
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_openapi_needs_a_token_and_documents_roles(client, tokens):
    assert client.get("/api/v1/openapi.json").status_code == 401
    doc = client.get("/api/v1/openapi.json", headers=bearer(tokens["viewer"])).json()
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    op = doc["paths"]["/api/v1/segmentations/{name}/runs"]["post"]
    assert op["x-required-role"] == "analyst" and "401" in op["responses"]
    for p in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(p).status_code in (401, 404)


def test_token_api_create_use_revoke(client, tokens):
    admin = bearer(tokens["admin"])
    made = client.post("/api/v1/tokens", json={"name": "crm-sync", "role": "analyst"}, headers=admin)
    assert made.status_code == 201
    secret = made.json()["token"]
    assert client.get("/api/v1/me", headers=bearer(secret)).json() == {"name": "crm-sync", "role": "analyst",
                                                                        "via": "token"}
    listed = client.get("/api/v1/tokens", headers=admin).json()
    assert "token" not in listed[0] and all(secret not in str(t) for t in listed)
    assert client.delete("/api/v1/tokens/crm-sync", headers=admin).json()["active"] is False
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_only_a_hash_is_stored(client, tokens, shop):
    rows = shop.store.con.con.execute("SELECT * FROM api_tokens").fetchall()
    assert rows and not any(secret in str(rows) for secret in tokens.values())


def _login(client, secret, next_="/"):
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post("/login", data={"token": secret, "csrf_token": csrf, "next": next_}, follow_redirects=False)


def test_login_sets_a_strict_httponly_session_and_csrf_protects_forms(client, tokens):
    r = _login(client, tokens["analyst"])
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for k, h in r.headers.multi_items() if k == "set-cookie" and h.startswith("segmint_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert tokens["analyst"] not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "value" in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    # A state change with the cookie but no CSRF token is refused; with it, it goes through.
    assert client.post("/api/v1/rules/preview", json={"where": "frequency >= 1"}).status_code == 403
    ok = client.post("/api/v1/rules/preview", json={"where": "frequency >= 1"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_login_form_needs_its_csrf_cookie(client, tokens):
    r = client.post("/login", data={"token": tokens["admin"], "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and "segmint_session" not in r.headers.get("set-cookie", "")


def test_revoking_a_token_ends_its_sessions(client, tokens):
    _login(client, tokens["viewer"])
    assert client.get("/api/v1/me").json()["via"] == "session"
    client.delete("/api/v1/tokens/t-viewer", headers=bearer(tokens["admin"]))
    assert client.get("/api/v1/me").status_code == 401


def test_pages_redirect_browsers_to_login(client):
    r = client.get("/segmentations/value", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/segmentations/value"
    assert _safe("//evil.example") == "/" and _safe("https://evil.example/") == "/" and _safe("/rules") == "/rules"


def _safe(target):
    from segmint.server.dashboard import _safe_next
    return _safe_next(target)


def test_failed_logins_back_off_per_client(make_client, tokens):
    client = make_client(failed_logins_allowed=3, backoff_base_s=30)
    for _ in range(3):
        assert _login(client, "smt_wrong").status_code == 401
    blocked = _login(client, "smt_wrong-again")  # a further wrong token must wait
    assert blocked.status_code == 429
    api = client.get("/api/v1/me", headers=bearer("smt_wrong-again"))
    assert api.status_code == 429 and int(api.headers["retry-after"]) > 0
    assert api.json()["error"]["code"] == "too_many_attempts"
    # ...but the right token still works from the same address: one guesser behind a NAT must not lock out
    # everyone behind it (issue 15, Low)
    assert client.get("/api/v1/me", headers=bearer(tokens["admin"])).status_code == 200
    assert _login(client, tokens["analyst"]).status_code in (200, 303)
    assert client.get("/api/v1/me", headers=bearer("smt_wrong")).status_code == 429  # the backoff holds


def test_secrets_never_logged(client, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    _login(client, tokens["admin"])
    client.get("/api/v1/me", headers=bearer(tokens["analyst"]))
    client.get("/api/v1/me", headers=bearer(tokens["revoked"]))
    client.post("/api/v1/tokens", json={"name": "x1", "role": "viewer"}, headers=bearer(tokens["admin"]))
    text = caplog.text
    assert not any(s in text for s in tokens.values()) and "smt_" not in text


def test_backoff_forgets_failures_after_a_quiet_spell(monkeypatch):
    from segmint.server import auth

    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    b = auth.Backoff(allowed=2, base_s=10, max_s=60)
    b.fail("1.2.3.4"), b.fail("1.2.3.4")
    assert b.wait_s("1.2.3.4") == 10 and b.wait_s("5.6.7.8") == 0  # per address
    clock[0] += 61  # longer than the longest wait: the old failures no longer count
    b.fail("1.2.3.4")
    assert b.wait_s("1.2.3.4") == 0
