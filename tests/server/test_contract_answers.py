"""The answers schemathesis found at odds with the OpenAPI document (issue 15), one test each, in process.

tests/server/test_contract.py runs schemathesis itself against a live server; these pin each finding.
"""

from __future__ import annotations

import pytest

from .conftest import bearer


def _doc(client, tokens) -> dict:
    return client.get("/api/v1/openapi.json", headers=bearer(tokens["admin"])).json()


@pytest.mark.parametrize("path", [
    "/api/v1/segmentations/value/migration?from=2000-01-01&to=2025-12-01",
    "/api/v1/segmentations/value/segments/VIP/members?as_of=2000-01-01",
    "/api/v1/segmentations/value/segments/VIP/export?as_of=2000-01-01",
    "/api/v1/segmentations/value/segments/VIP/members?as_of=9999-12-31",  # implausible: no run there either
])
def test_a_date_without_a_run_is_404_with_the_dates_that_have_one(client, tokens, path):
    r = client.get(path, headers=bearer(tokens["admin"]))
    assert r.status_code == 404, r.text
    err = r.json()["error"]
    assert err["code"] == "not_found" and "has no run as of" in err["message"]
    assert err["details"]["type"] == "RunMissing" and err["details"]["runs"] == ["2025-06-01", "2025-12-01"]


def test_a_segmentation_never_run_is_404(client, tokens, shop):
    from .conftest import SEGMENTATION, define

    define(shop, "fresh", SEGMENTATION["value"])
    r = client.get("/api/v1/segmentations/fresh/segments/VIP/members", headers=bearer(tokens["admin"]))
    assert r.status_code == 404 and "has not been run yet" in r.json()["error"]["message"], r.text


def test_the_document_says_which_status_answers_what(client, tokens):
    paths = _doc(client, tokens)["paths"]
    for path in ("/api/v1/segmentations/{name}/migration", "/api/v1/segmentations/{name}/segments/{segment}/members",
                 "/api/v1/segmentations/{name}/segments/{segment}/export"):
        assert "no run of it at the date" in paths[path]["get"]["responses"]["404"]["description"], path
    for path, method in (("/api/v1/rules/preview", "post"), ("/api/v1/segmentations/{name}/runs", "post"),
                         ("/api/v1/tokens", "post")):
        assert {"400", "413"} <= set(paths[path][method]["responses"]), path
    assert "409" in paths["/api/v1/tokens"]["post"]["responses"]


@pytest.mark.parametrize("as_of", [0, 1.5, True, "0", "2025-01-01T00:00:00", ["2025-01-01"]])
def test_a_run_as_of_that_is_not_a_date_text_is_refused(client, tokens, as_of):
    r = client.post("/api/v1/segmentations/value/runs", json={"as_of": as_of}, headers=bearer(tokens["analyst"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["where"] == "body.as_of"
    assert client.get("/api/v1/jobs", headers=bearer(tokens["analyst"])).json() == []  # nothing ran


def test_a_query_as_of_that_is_not_a_date_text_is_refused(client, tokens):
    r = client.get("/api/v1/segmentations/value/segments/VIP/members?as_of=0", headers=bearer(tokens["admin"]))
    assert r.status_code == 422 and r.json()["error"]["details"][0]["where"] == "query.as_of", r.text


@pytest.mark.parametrize("path, body", [
    ("/api/v1/rules/preview", {"where": "frequency > 1", "limit": 5}),
    ("/api/v1/segmentations/value/runs", {"as_of": "2025-12-01", "refit": True}),
    ("/api/v1/tokens", {"name": "x", "role": "viewer", "admin": True}),
])
def test_unknown_body_fields_are_a_validation_error_and_documented(client, tokens, path, body):
    r = client.post(path, json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "extra_forbidden", r.text
    schemas = _doc(client, tokens)["components"]["schemas"]
    for name in ("PreviewRequest", "RunRequest", "TokenCreate"):
        assert schemas[name]["additionalProperties"] is False


def test_a_body_that_is_not_json_is_a_documented_400(client, tokens):
    r = client.post("/api/v1/segmentations/value/runs", content=b"\xff\xfe\xfd",
                    headers={**bearer(tokens["analyst"]), "Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert set(r.json()) == {"error"}
    assert str(r.status_code) in _doc(client, tokens)["paths"]["/api/v1/segmentations/{name}/runs"]["post"][
        "responses"]


@pytest.mark.parametrize("method, path, allowed", [
    ("OPTIONS", "/api/v1/tokens", "GET, POST"),
    ("PUT", "/api/v1/tokens", "GET, POST"),
    ("POST", "/api/v1/me", "GET"),
    ("GET", "/api/v1/rules/preview", "POST"),
])
def test_a_405_names_every_method_of_the_path(client, tokens, method, path, allowed):
    r = client.request(method, path, headers=bearer(tokens["admin"]))
    assert r.status_code == 405 and r.headers["allow"] == allowed, (r.status_code, r.headers.get("allow"))
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_a_duplicate_token_name_is_409(client, tokens):
    h = bearer(tokens["admin"])
    assert client.post("/api/v1/tokens", json={"name": "crm", "role": "viewer"}, headers=h).status_code == 201
    r = client.post("/api/v1/tokens", json={"name": "crm", "role": "viewer"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
    assert "revoke it first" in r.json()["error"]["message"]
