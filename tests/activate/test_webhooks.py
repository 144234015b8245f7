"""Webhook destinations against a real HTTP receiver: signatures, the retry schedule, 410, consent (issue 18).

The receiver is pytest-httpserver's; every signature is checked with the reference
``standardwebhooks`` package. Time is a fake clock: no test waits for a retry.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from segmint.activate import schedule
from segmint.activate.deliveries import Deliveries
from segmint.activate.sync import Sync
from segmint.errors import ConfigError
from tests.activate.conftest import write


def _add(ws, receiver, **extra):
    d, secret = ws.activation.add({"name": "crm", "kind": "webhook", "url": receiver.url,
                                   "segmentations": ["value"], **extra})
    return secret


def _sync(ws, clock, **kw):
    return ws.sync("crm", clock=clock, **kw)["crm"]  # as the CLI and the server run it


def test_the_audience_then_each_change_signed_and_consent_applied_at_send_time(shop, receiver, clock):
    write(shop, "value", 1, {f"C{i:02d}": "VIP" if i < 10 else "New" for i in range(20)})
    secret = _add(shop, receiver, batch_size=8)
    report = _sync(shop, clock)
    assert report["queued_changes"] == 20 and report["failed"] == 0
    # every request verifies with the reference implementation (ids, timestamps, HMAC)
    hook = Webhook(secret)
    for headers, body in receiver.got:
        assert hook.verify(body, headers)["type"] == "segment.changes"
    sent = receiver.changes()
    # every fourth customer has no marketing consent (C03, C07, ...): held back, counted
    assert sorted(c["customer_id"] for c in sent) == [f"C{i:02d}" for i in range(20) if i % 4 != 3]
    assert report["held_back"] == 5
    assert {c["change"] for c in sent} == {"entered"}
    # the next run's moves only, in outbox order
    write(shop, "value", 2, {**{f"C{i:02d}": "VIP" if i < 10 else "New" for i in range(20)}, "C12": "VIP"})
    receiver.got.clear()
    _sync(shop, clock)
    assert [(c["customer_id"], c["segment"], c["change"]) for c in receiver.changes()] == [
        ("C12", "New", "exited"), ("C12", "VIP", "entered")]
    assert _sync(shop, clock)["sent"] == 0  # nothing new


def test_only_the_subscribed_segments_are_sent(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP", "C01": "New"})
    _add(shop, receiver, segments=["VIP"])
    _sync(shop, clock)
    assert [c["customer_id"] for c in receiver.changes()] == ["C00"]


def test_failures_follow_the_schedule_keep_their_id_and_end_as_dead_letters(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    _add(shop, receiver)
    receiver.answers = [Response("down", 500)] * 8
    box = Deliveries(shop.store)
    _sync(shop, clock)
    waits = []
    for attempt in range(2, 9):
        [m] = box.find("crm", limit=5)
        assert m.status == "pending" and m.attempts == attempt - 1
        wait = (m.next_attempt_at - clock.now).total_seconds()
        base = schedule.SCHEDULE_S[attempt - 1]
        assert base <= wait <= base * 1.1 + 1e-6, (attempt, wait)  # the schedule, with up to 10% jitter
        waits.append(wait)
        clock.advance(wait - 1)
        assert _sync(shop, clock)["sent"] == 0 and len(receiver.got) == attempt - 1  # not due yet: not sent
        clock.advance(1)
        _sync(shop, clock)
    assert len(receiver.got) == 8
    [m] = box.find("crm", limit=5)
    assert m.status == "dead" and m.attempts == 8 and m.last_code == 500
    assert len({h["Webhook-Id"] for h, _ in receiver.got}) == 1  # a retry keeps its id: receivers dedupe on it
    # the dead letter goes out again on request, with the same id
    shop.activation.retry("crm")
    assert _sync(shop, clock)["sent"] == 1
    assert receiver.got[-1][0]["Webhook-Id"] == receiver.got[0][0]["Webhook-Id"]
    assert box.find("crm", limit=5)[0].status == "delivered"


def test_retry_after_is_honoured(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    _add(shop, receiver)
    receiver.answers = [Response("slow down", 429, headers={"Retry-After": "120"})]
    _sync(shop, clock)
    [m] = Deliveries(shop.store).find("crm")
    assert (m.next_attempt_at - clock.now).total_seconds() == 120.0
    assert m.last_code == 429


def test_410_disables_the_destination_until_enabled(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    _add(shop, receiver)
    receiver.answers = [Response("gone", 410)]
    report = _sync(shop, clock)
    assert report["disabled"].startswith("410")
    write(shop, "value", 2, {"C00": "New"})
    clock.advance(3600)
    assert _sync(shop, clock)["sent"] == 0 and len(receiver.got) == 1
    shop.activation.enable("crm")
    report = _sync(shop, clock)
    assert report["sent"] == 2 and report["disabled"] is None
    assert [c["change"] for c in receiver.changes()] == ["entered", "exited", "entered"]


def test_a_failing_message_holds_back_the_later_ones(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP", "C01": "VIP"})
    _add(shop, receiver, batch_size=1)
    receiver.answers = [Response("down", 503)] * 2
    assert _sync(shop, clock)["failed"] == 1
    clock.advance(6)
    assert _sync(shop, clock)["failed"] == 1
    # the first message twice, never the second while the first fails: the receiver gets changes in order
    assert [json.loads(b)["data"]["changes"][0]["customer_id"] for _, b in receiver.got] == ["C00", "C00"]
    clock.advance(400)
    assert _sync(shop, clock)["sent"] == 2
    assert [c["customer_id"] for c in receiver.changes()] == ["C00", "C01"]


def test_a_slow_receiver_times_out(shop, httpserver, clock):
    def slow(request):
        time.sleep(1.0)
        return Response("late", 200)

    httpserver.expect_request("/slow", method="POST").respond_with_handler(slow)
    write(shop, "value", 1, {"C00": "VIP"})
    shop.activation.add({"name": "crm", "kind": "webhook", "url": httpserver.url_for("/slow"),
                         "segmentations": ["value"], "timeout_s": 0.2})
    report = _sync(shop, clock)
    assert report["failed"] >= 1
    [m] = Deliveries(shop.store).find("crm")
    assert m.last_error == "timed out" and m.status == "pending"


def test_redirects_are_not_followed(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    _add(shop, receiver)
    receiver.answers = [Response("", 307, headers={"Location": "https://elsewhere.example/x"})]
    _sync(shop, clock)
    [m] = Deliveries(shop.store).find("crm")
    assert m.last_code == 307 and "not followed" in m.last_error
    assert len(receiver.got) == 1


def test_suppression_applies_at_send_time(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP", "C01": "VIP"})
    _add(shop, receiver)
    receiver.answers = [Response("down", 500)]
    _sync(shop, clock)  # queued, first attempt failed, retry in 5 s
    shop.suppress(["C01"], reason="asked not to be contacted")
    clock.advance(10)
    report = _sync(shop, clock)
    assert report["held_back"] == 1
    assert [c["customer_id"] for c in receiver.changes()] == ["C00"]


def test_secret_rotation_signs_with_both(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    old = _add(shop, receiver)
    new = shop.activation.rotate("crm")
    _sync(shop, clock)
    headers, body = receiver.got[0]
    assert len(headers["Webhook-Signature"].split()) == 2
    assert Webhook(old).verify(body, headers) and Webhook(new).verify(body, headers)


def test_secrets_file_is_private_and_never_listed(shop, receiver):
    write(shop, "value", 1, {"C00": "VIP"})
    secret = _add(shop, receiver)
    path = shop.path / ".segmint" / "destination-secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert secret not in json.dumps(shop.destinations())


@pytest.mark.parametrize("url", ["http://crm.example/hooks", "ftp://crm.example/x", "https://user:pw@crm.example/h"])
def test_unsafe_urls_are_refused(shop, url):
    write(shop, "value", 1, {"C00": "VIP"})
    with pytest.raises(ConfigError):
        shop.activation.add({"name": "crm", "kind": "webhook", "url": url, "segmentations": ["value"]})


def test_http_to_an_allowed_host_is_accepted(shop):
    write(shop, "value", 1, {"C00": "VIP"})
    shop.config.activation.allow_http_hosts = ["crm.internal"]
    d, _ = shop.activation.add({"name": "crm", "kind": "webhook", "url": "http://crm.internal/h",
                                "segmentations": ["value"]})
    assert d.url == "http://crm.internal/h"


def test_replay_resends_as_new_messages(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    _add(shop, receiver)
    _sync(shop, clock)
    write(shop, "value", 2, {"C00": "New"})
    _sync(shop, clock)
    queued = Sync(shop.store, shop.config, shop.path, clock=clock).replay(dt.datetime(2000, 1, 1), "crm")
    assert queued == {"crm": 3}  # the outbox's three: C00 entered VIP, then left it for New
    _sync(shop, clock)
    ids = [h["Webhook-Id"] for h, _ in receiver.got]
    assert len(ids) == len(set(ids)) == 3  # the audience, the move, the replay: each a new id
    assert [c["change"] for c in receiver.changes()] == ["entered", "exited", "entered",
                                                         "entered", "exited", "entered"]


def test_every_attempt_is_audited_without_secrets(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP"})
    secret = _add(shop, receiver)
    receiver.answers = [Response("down", 500)]
    _sync(shop, clock)
    clock.advance(10)
    _sync(shop, clock)
    events = shop.audit_log.entries(action="delivery")
    assert [e["details"]["outcome"] for e in reversed(events)] == ["failed", "delivered"]
    assert all("latency_ms" in e["details"] and "status_code" in e["details"] for e in events)
    assert secret not in json.dumps(events)


def test_holdouts_of_a_running_campaign_are_never_sent(shop, receiver, clock):
    members = {f"C{i:02d}": "VIP" for i in range(40) if i % 4 != 3}  # consented customers only
    write(shop, "value", 1, members)
    shop.config.segmentations["value"] = {"kind": "rules", "segments": [{"name": "VIP", "where": "frequency >= 0"}]}
    campaign = shop.create_campaign("spring", "value", ["VIP"], holdout=0.5, start="2025-01-01")
    held = {r["customer_id"] for r in shop.campaign_members("spring").to_pyarrow().to_pylist()
            if r["group"] == "holdout"}
    assert campaign is not None and held
    _add(shop, receiver)
    report = _sync(shop, clock)
    sent = {c["customer_id"] for c in receiver.changes()}
    assert sent == set(members) - held and report["held_back"] == len(held)
