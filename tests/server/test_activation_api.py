"""Activation through the admin API, and the delivery worker of `segmint serve` (issue 18)."""

from __future__ import annotations

import time

from standardwebhooks.webhooks import Webhook

from tests.activate.conftest import receiver  # noqa: F401 - the webhook receiver fixture, shared
from tests.server.conftest import bearer


def test_admin_api_adds_a_destination_and_syncs(client, tokens, receiver):
    admin = bearer(tokens["admin"])
    body = {"name": "crm", "kind": "webhook", "url": receiver.url, "segmentations": ["value"]}
    assert client.post("/api/v1/destinations", json=body, headers=bearer(tokens["analyst"])).status_code == 403
    r = client.post("/api/v1/destinations", json=body, headers=admin)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    listed = client.get("/api/v1/destinations", headers=admin).json()
    assert [d["name"] for d in listed] == ["crm"] and secret not in str(listed)
    job = client.post("/api/v1/sync", headers=admin).json()
    client.app.state.jobs.wait(job["job_id"], timeout=120)
    assert client.get(f"/api/v1/jobs/{job['job_id']}", headers=admin).json()["status"] == "succeeded"
    assert receiver.got and all(Webhook(secret).verify(b, h) for h, b in receiver.got)
    assert client.get("/api/v1/deliveries", headers=admin).json() == []
    assert client.post("/api/v1/suppressions", json={"customer_ids": ["C1"]}, headers=admin).json() == {"added": 1}
    assert client.post("/api/v1/destinations/crm/test", headers=admin).json()["ok"] is True
    assert client.delete("/api/v1/destinations/crm", headers=admin).json() == {"removed": "crm"}
    actions = {e["action"] for e in client.get("/api/v1/audit", headers=admin).json()}
    assert {"destination-add", "delivery", "suppress", "destination-remove"} <= actions


def test_unsafe_destination_is_refused_with_a_clear_error(client, tokens):
    body = {"name": "crm", "kind": "webhook", "url": "http://crm.example/h", "segmentations": ["value"]}
    r = client.post("/api/v1/destinations", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code in (400, 422) and "https" in r.text


def test_the_server_worker_delivers_without_being_asked(make_client, tokens, receiver, shop):
    shop.activation.add({"name": "crm", "kind": "webhook", "url": receiver.url, "segmentations": ["value"]})
    client = make_client(deliver_every_s=0.2)
    deadline = time.monotonic() + 60
    worker = client.app.state.delivery
    while worker.last is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker.last is not None, "the delivery worker did not sync within a minute"
    assert worker.last["crm"]["sent"] >= 1 and receiver.changes()


def test_the_destinations_page_shows_state_and_failures(client, tokens, shop, receiver):
    from werkzeug import Response

    shop.activation.add({"name": "crm", "kind": "webhook", "url": receiver.url, "segmentations": ["value"]})
    receiver.answers = [Response("down", 503)]
    shop.sync()
    page = client.get("/destinations", headers=bearer(tokens["admin"]))
    assert page.status_code == 200
    assert "crm" in page.text and "503" in page.text and "Failures" in page.text
    assert client.get("/destinations", headers=bearer(tokens["viewer"])).status_code == 403


def test_a_files_destination_from_the_api_writes_only_inside_the_workspace(client, tokens, tmp_path):
    """An admin token must not choose where the server's user writes (an absolute path, .., a link out)."""
    admin = bearer(tokens["admin"])
    root = client.app.state.workspace.path
    (root / "out-link").symlink_to(tmp_path, target_is_directory=True)
    for i, path in enumerate([str(tmp_path), "../elsewhere", "exports/../../elsewhere", "out-link/x"]):
        body = {"name": f"files{i}", "kind": "files", "path": path, "segmentations": ["value"]}
        r = client.post("/api/v1/destinations", json=body, headers=admin)
        assert r.status_code == 422 and "inside the workspace folder" in r.text, (path, r.text)
    body = {"name": "weekly", "kind": "files", "path": "exports/weekly", "segmentations": ["value"]}
    assert client.post("/api/v1/destinations", json=body, headers=admin).status_code == 201
