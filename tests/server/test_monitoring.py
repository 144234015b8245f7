"""Monitoring over HTTP: the API routes (roles, validation) and the dashboard pages render real figures."""

from __future__ import annotations

import pytest

from tests.server.conftest import DATES, bearer


def test_monitor_route_serves_the_figures(client, tokens):
    r = client.get("/api/v1/segmentations/value/monitor", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["as_of"] for x in body["runs"]] == list(DATES)
    assert body["drift"]["reference_as_of"] == DATES[0] and body["transitions"][0]["to_as_of"] == DATES[1]
    assert {k["segment"] for k in body["kpis"]} <= {"VIP", "Active", "Lapsed"}
    first = client.get("/api/v1/segmentations/value/monitor?reference=first", headers=bearer(tokens["viewer"]))
    assert first.json()["drift"]["reference_as_of"] == DATES[0]
    bad = client.get("/api/v1/segmentations/value/monitor?reference=yesterday", headers=bearer(tokens["viewer"]))
    assert bad.status_code in (400, 422) and "first, previous" in bad.text
    assert client.get("/api/v1/segmentations/value/monitor").status_code == 401


def test_transitions_between_any_two_runs(client, tokens):
    r = client.get(f"/api/v1/segmentations/value/transitions?from={DATES[0]}&to={DATES[1]}",
                   headers=bearer(tokens["viewer"]))
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["from_as_of"] == DATES[0] and sum(sum(row.values()) for row in t["matrix"].values()) == t["customers"]


def test_refresh_needs_an_analyst_and_runs_as_a_job(client, tokens):
    assert client.post("/api/v1/refresh", headers=bearer(tokens["viewer"])).status_code == 403
    r = client.post("/api/v1/refresh", json={"as_of": "2025-12-15"}, headers=bearer(tokens["analyst"]))
    assert r.status_code == 202, r.text
    job = client.app.state.jobs.wait(r.json()["job_id"], timeout=300)
    assert job.status == "succeeded", job.error
    assert job.result["as_of"] == "2025-12-15"
    refreshes = client.get("/api/v1/refreshes", headers=bearer(tokens["viewer"])).json()["refreshes"]
    assert refreshes[0]["refresh_id"] == job.result["refresh_id"]
    alerts = client.get("/api/v1/alerts", headers=bearer(tokens["viewer"])).json()["alerts"]
    assert {a["refresh_id"] for a in alerts} <= {job.result["refresh_id"]}
    fresh = client.get("/api/v1/freshness", headers=bearer(tokens["viewer"])).json()["tables"]
    assert {t["table"] for t in fresh} >= {"orders", "customers"}


@pytest.mark.parametrize("path", ["/monitoring", "/segmentations/value/monitor"])
def test_dashboard_pages(client, tokens, path):
    r = client.get(path, headers=bearer(tokens["viewer"]))
    assert r.status_code == 200, r.text
    assert 'data-plot="lines"' in r.text or "Data freshness" in r.text
