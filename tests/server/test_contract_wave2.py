"""Wave 2's routes against the OpenAPI document: each answer schemathesis found at odds with it, pinned in process.

tests/server/test_contract.py runs schemathesis itself against a live server (every operation now);
tests/server/test_contract_answers.py pins issue 15's findings the same way.
"""

from __future__ import annotations

import json

import pytest

from .conftest import DATES, bearer

CAMPAIGN = {"name": "june", "segmentation": "value", "holdout": 0.3, "start": "2025-06-01", "end": "2025-09-01"}
DESTINATION = {"name": "drop", "kind": "files", "path": "exports", "segmentations": ["value"]}
#: The wave-2 routes that read a JSON body, with a valid body and their schema's name.
BODIES = {
    "/api/v1/campaigns": (CAMPAIGN, "CampaignCreate"),
    "/api/v1/destinations": (DESTINATION, "DestinationIn"),
    "/api/v1/suppressions": ({"customer_ids": ["C1"]}, "SuppressIn"),
    "/api/v1/refresh": ({"as_of": "2025-12-15"}, "RefreshRequest"),
}


def _doc(client, tokens) -> dict:
    return client.get("/api/v1/openapi.json", headers=bearer(tokens["admin"])).json()


def _post(client, tokens, path, body, **kw):
    return client.post(path, json=body, headers=bearer(tokens["admin"]), **kw)


def _invalid(r, where: str, type_: str | None = None) -> None:
    assert r.status_code == 422, r.text
    first = r.json()["error"]["details"][0]
    assert first["where"].startswith(where), first
    assert type_ is None or first["type"] == type_, first


# -- bodies ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", list(BODIES))
def test_a_body_that_is_not_json_is_a_documented_400(client, tokens, path):
    r = client.post(path, content=b"\xff", headers={**bearer(tokens["admin"]), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text
    assert {"400", "413"} <= set(_doc(client, tokens)["paths"][path]["post"]["responses"]), path


@pytest.mark.parametrize("path", list(BODIES))
def test_unknown_body_fields_are_a_validation_error_and_documented(client, tokens, path):
    body, schema = BODIES[path]
    _invalid(_post(client, tokens, path, {**body, "extra": 1}), "body.extra", "extra_forbidden")
    assert _doc(client, tokens)["components"]["schemas"][schema]["additionalProperties"] is False


@pytest.mark.parametrize("path, field, value", [
    ("/api/v1/suppressions", "remove", 0),  # was read as false: the customer went on the list
    ("/api/v1/suppressions", "remove", "yes"),
    ("/api/v1/refresh", "refit", 0),  # was read as false: a refresh ran
    ("/api/v1/destinations", "consent", "no"),
    ("/api/v1/destinations", "batch_size", "5"),
    ("/api/v1/destinations", "timeout_s", "1.5"),
    ("/api/v1/campaigns", "holdout", "0.1"),
])
def test_a_flag_or_number_that_is_not_json_of_its_type_is_refused(client, tokens, path, field, value):
    _invalid(_post(client, tokens, path, {**BODIES[path][0], field: value}), f"body.{field}")
    admin = bearer(tokens["admin"])
    assert client.get("/api/v1/suppressions", headers=admin).json() == []
    assert client.get("/api/v1/jobs", headers=admin).json() == []
    assert client.get("/api/v1/destinations", headers=admin).json() == []
    assert client.get("/api/v1/campaigns", headers=admin).json() == []


@pytest.mark.parametrize("path, field, value", [
    ("/api/v1/campaigns", "start", 0),  # lax pydantic: 1970-01-01
    ("/api/v1/campaigns", "end", "2025-09-01T00:00:00"),
    ("/api/v1/refresh", "as_of", 20251215),
])
def test_a_body_date_that_is_not_a_date_text_is_refused(client, tokens, path, field, value):
    _invalid(_post(client, tokens, path, {**BODIES[path][0], field: value}), f"body.{field}")


@pytest.mark.parametrize("field, value", [("path", "out\x00put"), ("url", "https://x.example/\n"), ("table", "a;drop")])
def test_destination_text_is_refused_at_the_boundary(client, tokens, field, value):
    body = {**DESTINATION, field: value} if field == "path" else {**DESTINATION, "kind": "database", "table": "t",
                                                                  "url_env": "DB_URL", field: value}
    _invalid(_post(client, tokens, "/api/v1/destinations", body), f"body.{field}")


def test_suppression_reason_refuses_control_characters_and_long_lists(client, tokens):
    _invalid(_post(client, tokens, "/api/v1/suppressions", {"customer_ids": ["C1"], "reason": "a\x00b"}), "body.reason")
    _invalid(_post(client, tokens, "/api/v1/suppressions", {"customer_ids": [f"C{i}" for i in range(1001)]}),
             "body.customer_ids", "too_long")


# -- body limits: every body the schema allows fits its route's limit ---------------------------------------
def _largest(schema: dict, defs: dict) -> int:
    """Bytes of the largest JSON text ``schema`` allows, every character escaped as a 12-byte surrogate pair."""
    if "$ref" in schema:
        return _largest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return max(_largest(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return 12 if schema.get("format") == "date" else 2 + 12 * schema["maxLength"]  # unbounded text: KeyError
    if kind == "array":
        return 2 + schema["maxItems"] * (2 + _largest(schema["items"], defs))
    if kind == "object":
        return 2 + sum(len(json.dumps(k)) + 4 + _largest(v, defs) for k, v in schema["properties"].items())
    return {"boolean": 5, "null": 4, "integer": 20, "number": 24}[kind]


@pytest.mark.parametrize("path", list(BODIES))
def test_every_body_the_schema_allows_fits_the_route_limit(client, tokens, path):
    from segmint.server.settings import Settings

    doc = _doc(client, tokens)
    schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    limits = Settings()
    assert _largest(schema, doc["components"]["schemas"]) <= limits.body_limits.get(path, limits.max_body_bytes), path


def test_the_largest_suppression_list_is_not_a_413(client, tokens):
    ids = [f"{i:04d}" + "\U0001F600" * 196 for i in range(1000)]  # 200 characters, mostly outside the BMP
    content = json.dumps({"customer_ids": ids, "reason": "\U0001F600" * 200, "remove": True}).encode()
    r = client.post("/api/v1/suppressions", content=content,
                    headers={**bearer(tokens["admin"]), "Content-Type": "application/json"})
    assert len(content) > 2_000_000 and r.status_code == 200 and r.json() == {"removed": 0}, r.text[:500]


# -- campaigns and destinations ---------------------------------------------------------------------------
def test_a_duplicate_campaign_name_is_409(client, tokens):
    assert _post(client, tokens, "/api/v1/campaigns", CAMPAIGN).status_code == 201
    r = _post(client, tokens, "/api/v1/campaigns", {**CAMPAIGN, "holdout": 0.5})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict" and "exists already" in r.text, r.text
    assert "409" in _doc(client, tokens)["paths"]["/api/v1/campaigns"]["post"]["responses"]


def test_a_duplicate_destination_name_is_409(client, tokens):
    assert _post(client, tokens, "/api/v1/destinations", DESTINATION).status_code == 201
    r = _post(client, tokens, "/api/v1/destinations", {**DESTINATION, "path": "elsewhere"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
    assert "409" in _doc(client, tokens)["paths"]["/api/v1/destinations"]["post"]["responses"]


def test_what_the_schema_cannot_say_is_a_422_the_operation_describes(client, tokens):
    r = _post(client, tokens, "/api/v1/campaigns", {**CAMPAIGN, "end": CAMPAIGN["start"]})
    assert r.status_code == 422 and "is not after" in r.text, r.text
    r = _post(client, tokens, "/api/v1/destinations", {**DESTINATION, "segmentations": ["nope"]})
    assert r.status_code == 422 and "no segmentation 'nope'" in r.text, r.text
    paths = _doc(client, tokens)["paths"]
    assert "`end` not after `start`" in paths["/api/v1/campaigns"]["post"]["description"]
    assert "not defined" in paths["/api/v1/destinations"]["post"]["description"]


# -- deliveries and sync ----------------------------------------------------------------------------------
@pytest.mark.parametrize("since", ["0.5", "0", "yesterday", "2025-13-01"])
def test_a_replay_since_that_is_not_an_iso_time_is_refused(client, tokens, since):
    r = client.post(f"/api/v1/deliveries/replay?since={since}", headers=bearer(tokens["admin"]))
    _invalid(r, "query.since")


@pytest.mark.parametrize("since", ["2025-01-01", "2025-01-01T10:00:00Z", "2025-01-01T10:00:00%2B02:00"])
def test_a_replay_since_in_iso_text_is_accepted(client, tokens, since):
    r = client.post(f"/api/v1/deliveries/replay?since={since}", headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and r.json() == {"replayed": {}}, r.text


def test_sync_of_an_unknown_destination_is_404_before_a_job(client, tokens):
    r = client.post("/api/v1/sync?destination=nope", headers=bearer(tokens["admin"]))
    assert r.status_code == 404 and "no destination 'nope'" in r.text, r.text
    assert client.get("/api/v1/jobs", headers=bearer(tokens["admin"])).json() == []


# -- monitoring and fairness: dates are text, a date without a run is a 404 ------------------------------
@pytest.mark.parametrize("path, where", [
    ("/api/v1/segmentations/value/monitor?reference=0000", "query.reference"),
    (f"/api/v1/segmentations/value/transitions?from=0&to={DATES[1]}", "query.from"),
    ("/api/v1/segmentations/value/fairness?as_of=0", "query.as_of"),
])
def test_a_query_date_that_is_not_a_date_text_is_refused(client, tokens, path, where):
    _invalid(client.get(path, headers=bearer(tokens["viewer"])), where)


@pytest.mark.parametrize("path", [
    "/api/v1/segmentations/value/monitor?reference=2000-01-01",  # was a 422 (DataError)
    f"/api/v1/segmentations/value/transitions?from=2000-01-01&to={DATES[1]}",
    "/api/v1/segmentations/value/fairness?as_of=2000-01-01",  # was a 422 (no feature snapshot)
])
def test_a_date_without_a_run_is_404_with_the_dates_that_have_one(client, tokens, path):
    r = client.get(path, headers=bearer(tokens["viewer"]))
    assert r.status_code == 404, r.text
    assert r.json()["error"]["details"] == {"type": "RunMissing", "as_of": "2000-01-01", "runs": list(DATES)}


def test_a_drift_reference_at_a_run_date_is_served(client, tokens):
    r = client.get(f"/api/v1/segmentations/value/monitor?reference={DATES[0]}", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200 and r.json()["drift"]["reference_as_of"] == DATES[0], r.text


def test_the_document_lists_the_404_of_routes_reading_a_run(client, tokens):
    paths = _doc(client, tokens)["paths"]
    for path in ("monitor", "transitions", "fairness"):
        assert "no run of it at the date" in paths[f"/api/v1/segmentations/{{name}}/{path}"]["get"]["responses"][
            "404"]["description"], path
