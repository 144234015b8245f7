"""The API refuses implausible as-of dates before anything runs (issue 15): 422 with a clear message."""

from __future__ import annotations

import pytest

from .conftest import bearer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "1899-12-31"])
def test_a_run_at_an_implausible_date_is_refused(client, tokens, as_of):
    h = bearer(tokens["analyst"])
    r = client.post("/api/v1/segmentations/value/runs", json={"as_of": as_of}, headers=h)
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert f"as_of {as_of} is outside the plausible dates 1900-01-01 to" in message
    assert "ingest.plausible_dates" in message
    assert client.get("/api/v1/jobs", headers=h).json() == []  # nothing was queued
    hist = client.get("/api/v1/segmentations/value/history", headers=h).json()
    assert not any(row["as_of"].startswith(as_of) for row in hist["series"])


@pytest.mark.parametrize("as_of", ["99999-01-01", "-0001-01-01"])
def test_a_run_at_an_unreadable_date_is_refused(client, tokens, as_of):
    r = client.post("/api/v1/segmentations/value/runs", json={"as_of": as_of},
                    headers=bearer(tokens["analyst"]))
    assert r.status_code == 422, r.text


def test_a_preview_at_an_implausible_date_is_refused(client, tokens):
    r = client.post("/api/v1/rules/preview", json={"where": "frequency > 1", "as_of": "9999-12-31"},
                    headers=bearer(tokens["analyst"]))
    assert r.status_code == 422, r.text
    assert "outside the plausible dates" in r.json()["error"]["message"]
