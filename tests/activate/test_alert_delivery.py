"""Alerts raised by `segmint refresh` go to the destinations that take alerts (issue 17), signed and recorded."""

from __future__ import annotations

import json

import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from segmint.activate.deliveries import Deliveries
from segmint.errors import ConfigError
from segmint.workspace import Workspace
from tests.monitor.conftest import BIG_SMALL, orders


def _workspace(ws, destinations: list[dict]) -> Workspace:
    path = ws.path / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["segmentations"] = BIG_SMALL
    cfg["monitoring"] = {"alerts": [{"kind": "share_move", "points": 10}]}
    cfg["destinations"] = {d.pop("name"): d for d in destinations}
    path.write_text(yaml.safe_dump(cfg))
    ws.close()
    ws = Workspace.open(ws.path)
    ws.ingest("orders", orders([("1", "A", "2024-01-10", 150.0), ("2", "B", "2024-02-01", 10.0)]))
    return ws


def _two_refreshes(ws) -> dict:
    first = ws.refresh("2024-03-01")
    assert first["alerts"] == [] and first["alerts_delivered"] == {}
    ws.ingest("orders", orders([("3", "A", "2024-03-10", 20.0), ("4", "B", "2024-03-20", 200.0)]))
    return ws.refresh("2024-04-01")


def test_a_refresh_sends_its_alerts_to_alert_destinations_signed(ws, receiver, monkeypatch):
    monkeypatch.setenv("ALERT_HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    ws = _workspace(ws, [
        {"name": "ops", "kind": "webhook", "url": receiver.url, "segmentations": ["spend"], "alerts": True,
         "secret_env": "ALERT_HOOK_SECRET"},
        # subscribed to the same segmentation without alerts: gets none
        {"name": "crm", "kind": "webhook", "url": receiver.url, "segmentations": ["spend"],
         "secret_env": "ALERT_HOOK_SECRET"}])
    second = _two_refreshes(ws)
    raised = sorted((a["kind"], a["segment"]) for a in second["alerts"])
    assert raised == [("share_move", "big"), ("share_move", "small")]
    assert second["alerts_delivered"]["ops"]["queued_alerts"] == 2 and second["alerts_delivered"]["ops"]["sent"] == 1
    assert "crm" not in second["alerts_delivered"]
    (headers, body), = receiver.got
    doc = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(body, headers)
    assert doc["type"] == "monitor.alerts" and doc["data"]["destination"] == "ops"
    sent = doc["data"]["alerts"]
    assert sorted(a["alert_id"] for a in sent) == sorted(a["alert_id"] for a in second["alerts"])
    assert {a["segment"]: a["evidence"]["points"] for a in sent} == pytest.approx({"big": 50.0, "small": -50.0})
    (m,) = Deliveries(ws.store).find("ops")
    assert (m.kind, m.status, m.changes, m.message_id) == ("alerts", "delivered", 2, headers["Webhook-Id"])
    # the segment changes still go out as before, to both, and no alert is sent twice
    receiver.got.clear()
    report = ws.sync()
    assert {r["queued_changes"] for r in report.values()} == {2}
    assert all(json.loads(b)["type"] == "segment.changes" for _, b in receiver.got)


def test_a_failed_alert_message_waits_for_the_next_sync(ws, receiver, monkeypatch):
    from werkzeug import Response

    monkeypatch.setenv("ALERT_HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    ws = _workspace(ws, [{"name": "ops", "kind": "webhook", "url": receiver.url, "segmentations": ["spend"],
                          "alerts": True, "secret_env": "ALERT_HOOK_SECRET"}])
    receiver.answers = [Response("down", 503)] * 3
    second = _two_refreshes(ws)
    assert second["alerts_delivered"]["ops"]["sent"] == 0 and second["alerts_delivered"]["ops"]["failed"] >= 1
    (m,) = Deliveries(ws.store).find("ops", "pending")
    assert m.kind == "alerts" and m.last_code == 503


def test_alerts_to_files_and_never_to_a_database(ws, tmp_path):
    ws = _workspace(ws, [{"name": "drop", "kind": "files", "path": str(tmp_path / "out"), "format": "jsonl",
                          "segmentations": ["spend"], "alerts": True}])
    second = _two_refreshes(ws)
    assert second["alerts_delivered"]["drop"]["sent"] == 1
    (f,) = [p for p in (tmp_path / "out").iterdir() if p.name.startswith("alerts-") and p.suffix == ".jsonl"]
    rows = [json.loads(line) for line in f.read_text().splitlines()]
    assert sorted(r["segment"] for r in rows) == ["big", "small"] and json.loads(rows[0]["evidence"])["points"]
    with pytest.raises(ConfigError, match="cannot take alerts"):
        ws.activation.add({"name": "db", "kind": "database", "url": "sqlite://", "table": "t",
                           "segmentations": ["spend"], "alerts": True})
