"""The viewer's list routes are cached, and fresh after every change (issue 15: list load starved the look-up).

GET /segmentations and GET /segmentations/{name}/history are built once and kept until a run is
stored or a definition file changes; the history pages its runs with limit/offset.
"""

from __future__ import annotations

import time

import yaml

from .conftest import SEGMENTATION, bearer


def _run(client, token, as_of: str) -> None:
    h = bearer(token)
    job = client.post("/api/v1/segmentations/value/runs", json={"as_of": as_of}, headers=h).json()
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/v1/jobs/{job['job_id']}", headers=h).json()
    assert job["status"] == "succeeded", job


def test_the_lists_are_served_from_the_cache_until_a_run_is_stored(client, tokens, shop, monkeypatch):
    h = bearer(tokens["viewer"])
    first = client.get("/api/v1/segmentations", headers=h).json()
    hist = client.get("/api/v1/segmentations/value/history", headers=h).json()
    assert first[0]["runs"] == 2 and hist["runs"] == 2

    # Served from the cache: the workspace is not asked again while nothing changed.
    calls = []
    original = type(shop).segmentations
    monkeypatch.setattr(type(shop), "segmentations", lambda self: calls.append(1) or original(self))
    assert client.get("/api/v1/segmentations", headers=h).json() == first
    assert client.get("/api/v1/segmentations/value", headers=h).json() == first[0]
    assert calls == []

    _run(client, tokens["analyst"], "2025-09-01")  # a stored run changes both lists at once
    after = client.get("/api/v1/segmentations", headers=h).json()
    assert after[0]["runs"] == 3 and calls, after
    hist = client.get("/api/v1/segmentations/value/history", headers=h).json()
    assert hist["runs"] == 3 and "2025-09-01" in {r["as_of"][:10] for r in hist["series"]}


def test_a_new_definition_file_is_listed_at_once(client, tokens, shop):
    h = bearer(tokens["viewer"])
    assert [s["name"] for s in client.get("/api/v1/segmentations", headers=h).json()] == ["value"]
    folder = shop.path / "segments"
    folder.mkdir(exist_ok=True)
    (folder / "more.yaml").write_text(yaml.safe_dump({"spend": SEGMENTATION["value"]}))
    assert [s["name"] for s in client.get("/api/v1/segmentations", headers=h).json()] == ["value", "spend"]
    (folder / "more.yaml").unlink()
    assert [s["name"] for s in client.get("/api/v1/segmentations", headers=h).json()] == ["value"]


def test_the_history_pages_its_runs_newest_first(client, tokens):
    h = bearer(tokens["viewer"])
    full = client.get("/api/v1/segmentations/value/history", headers=h).json()
    latest = client.get("/api/v1/segmentations/value/history?limit=1", headers=h).json()
    older = client.get("/api/v1/segmentations/value/history?limit=1&offset=1", headers=h).json()
    assert latest["runs"] == older["runs"] == full["runs"] == 2
    assert latest["as_ofs"] == ["2025-12-01T00:00:00"] and older["as_ofs"] == ["2025-06-01T00:00:00"]
    assert {r["as_of"] for r in latest["series"]} == {"2025-12-01T00:00:00"}
    assert sorted(latest["series"] + older["series"], key=str) == sorted(full["series"], key=str)
    assert client.get("/api/v1/segmentations/value/history?offset=5", headers=h).json()["series"] == []
    assert client.get("/api/v1/segmentations/value/history?limit=0", headers=h).status_code == 422
