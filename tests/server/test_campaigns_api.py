"""The campaign routes: admin creates, analyst measures, viewer is refused; the same answers as the Workspace."""

from __future__ import annotations

from .conftest import bearer


def test_create_list_and_measure_a_campaign(client, tokens):
    body = {"name": "june", "segmentation": "value", "holdout": 0.3, "start": "2025-06-01", "end": "2025-09-01",
            "outcome": "revenue"}
    assert client.post("/api/v1/campaigns", json=body, headers=bearer(tokens["analyst"])).status_code == 403
    r = client.post("/api/v1/campaigns", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["name"] == "june" and made["members"]["holdout"] > 0 and made["members"]["treatment"] > 0
    assert client.post("/api/v1/campaigns", json=body, headers=bearer(tokens["admin"])).status_code == 409  # exists
    listed = client.get("/api/v1/campaigns", headers=bearer(tokens["analyst"])).json()
    assert [c["name"] for c in listed] == ["june"]
    assert client.get("/api/v1/campaigns", headers=bearer(tokens["viewer"])).status_code == 403
    r = client.get("/api/v1/campaigns/june/measure?bootstrap=0", headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    out = r.json()
    for block in [out["overall"], *out["segments"]]:
        assert {"treatment", "holdout", "lift", "lift_ci", "relative_lift", "relative_lift_ci", "p_value"} <= set(block)
    assert client.get("/api/v1/campaigns/nope/measure", headers=bearer(tokens["analyst"])).status_code == 404
    bad = {**body, "name": "x", "holdout": 1.5}
    assert client.post("/api/v1/campaigns", json=bad, headers=bearer(tokens["admin"])).status_code == 422
    audit = client.get("/api/v1/audit?action=campaign-create", headers=bearer(tokens["admin"])).json()
    assert audit and audit[0]["target"] == "june"


def test_an_event_outcome_through_the_api(client, tokens):
    body = {"name": "clicks", "segmentation": "value", "holdout": 0.3, "start": "2025-06-01", "end": "2025-09-01",
            "outcome": "event:email_click"}
    r = client.post("/api/v1/campaigns", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 201, r.text
    r = client.get("/api/v1/campaigns/clicks/measure?bootstrap=0", headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "event:email_click" and r.json()["covariate"] == "pre_period"
    page = client.get("/campaigns/clicks", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200 and "event:email_click" in page.text
    assert "CUPED on the same outcome from 2025-03-01 to the start" in page.text
    for outcome in ("email_click", "event:DROP TABLE x", "event_count:"):  # not an outcome: refused at the door
        bad = {**body, "name": "bad", "outcome": outcome}
        assert client.post("/api/v1/campaigns", json=bad, headers=bearer(tokens["admin"])).status_code == 422
    bad = {**body, "name": "bad", "outcome": "event:email_clik"}  # no such event: the engine's error, named
    r = client.post("/api/v1/campaigns", json=bad, headers=bearer(tokens["admin"]))
    assert r.status_code in (400, 422) and "email_click" in r.text


def test_campaign_pages_show_the_lift_per_segment(client, tokens, shop):
    shop.create_campaign("june", "value", holdout=0.3, start="2025-06-01", end="2025-09-01")
    listing = client.get("/campaigns", headers=bearer(tokens["viewer"]))
    assert listing.status_code == 200 and 'href="/campaigns/june"' in listing.text
    page = client.get("/campaigns/june", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200
    assert 'data-plot="lift"' in page.text and "95% interval" in page.text
    for segment in ("overall", "VIP", "Active", "Lapsed"):
        assert f"<td>{segment}</td>" in page.text
    assert client.get("/campaigns/nope", headers=bearer(tokens["viewer"])).status_code == 404
