"""`segmint destination`, `sync`, `deliveries` and `suppress` as a user runs them, on a generated shop (issue 18)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from tests.server.conftest import shop_path, shop_template  # noqa: F401 - the generated shop, built once


def cli(capsys, *args: str) -> tuple[int, str]:
    from segmint.cli import run

    capsys.readouterr()
    code = run(list(args))
    return code, capsys.readouterr().out


def cli_json(capsys, *args: str) -> dict:
    code, out = cli(capsys, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def _audience(path, consented=True):
    from segmint.workspace import Workspace

    with Workspace.open(path) as ws:
        rows = ws.audience("value", include_unconsented=not consented).to_pyarrow().to_pylist()
    return {(r["customer_id"], r["segment"]) for r in rows}


def _replay(changes):
    """What a receiver holds after applying changes in order (the last change per member wins)."""
    held = set()
    for c in sorted(changes, key=lambda c: (c["customer_id"], c["customer_seq"])):
        key = (c["customer_id"], c["segment"])
        if c["change"] == "entered":
            held.add(key)
        else:
            held.discard(key)
    return held


def test_a_crm_webhook_from_the_command_line(shop_path, receiver, capsys, monkeypatch):
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    w = str(shop_path)
    added = cli_json(capsys, "destination", "add", "crm", "--kind", "webhook", "--url", receiver.url,
                     "--segmentation", "value", "--field", "monetary_total", "-w", w)
    secret = added["secret"]
    assert secret.startswith("whsec_")
    assert (shop_path / ".segmint" / "destination-secrets.json").stat().st_mode & 0o777 == 0o600
    listed = cli_json(capsys, "destination", "list", "-w", w)["destinations"]
    assert [d["name"] for d in listed] == ["crm"] and secret not in json.dumps(listed)
    assert listed[0]["started"] is False and listed[0]["backlog_changes"] > 0

    report = cli_json(capsys, "sync", "-w", w)["destinations"]["crm"]
    assert report["failed"] == 0 and report["sent"] >= 1
    hook = Webhook(secret)
    for headers, body in receiver.got:
        hook.verify(body, headers)
    assert _replay(receiver.changes()) == _audience(shop_path)
    assert all("monetary_total" in c["fields"] for c in receiver.changes())

    # a later run moves customers: only the moves are sent, and the receiver's copy follows the audience
    code, out = cli(capsys, "segment", "value", "--as-of", "2026-03-01", "-w", w)
    assert code == 0, out
    before = len(receiver.changes())
    cli_json(capsys, "sync", "-w", w)
    moves = receiver.changes()[before:]
    assert moves and {c["change"] for c in moves} <= {"entered", "exited"}
    assert _replay(receiver.changes()) == _audience(shop_path)

    assert cli_json(capsys, "deliveries", "-w", w)["deliveries"] == []  # nothing pending, no dead letters
    delivered = cli_json(capsys, "deliveries", "--status", "delivered", "-w", w)["deliveries"]
    assert delivered and {m["status"] for m in delivered} == {"delivered"}

    someone = sorted(_audience(shop_path))[0][0]
    assert cli_json(capsys, "suppress", someone, "--reason", "asked not to be contacted", "-w", w) == {"added": 1}
    assert [r["customer_id"] for r in cli_json(capsys, "suppress", "--list", "-w", w)["suppressed"]] == [someone]

    tested = cli_json(capsys, "destination", "test", "crm", "-w", w)
    assert tested["ok"] and tested["status_code"] == 200
    assert json.loads(receiver.got[-1][1])["type"] == "segmint.test"
    assert cli_json(capsys, "destination", "remove", "crm", "-w", w) == {"removed": "crm"}
    code, out = cli(capsys, "destination", "test", "crm", "-w", w)
    assert code == 1


def test_suppress_reads_add_remove_and_list_as_actions_and_refuses_nothing_to_add(shop_path, capsys):
    """`suppress list` once suppressed a customer called "list"; the verbs are actions, an empty add an error."""
    w = str(shop_path)
    assert cli_json(capsys, "suppress", "list", "-w", w) == {"suppressed": []}
    assert cli_json(capsys, "suppress", "-w", w) == {"suppressed": []}  # nothing given: the list
    from segmint.cli import run

    assert run(["suppress", "add", "-w", w]) != 0
    assert "needs customer ids" in capsys.readouterr().err
    assert cli_json(capsys, "suppress", "add", "C1", "C2", "-w", w) == {"added": 2}
    assert cli_json(capsys, "suppress", "remove", "C1", "-w", w) == {"removed": 1}
    assert [r["customer_id"] for r in cli_json(capsys, "suppress", "list", "-w", w)["suppressed"]] == ["C2"]
    assert run(["deliveries", "list", "--since", "yesterday", "-w", w]) != 0
    assert "--since applies to `segmint deliveries replay`" in capsys.readouterr().err


def test_the_dead_letters_are_listed_and_retried(shop_path, receiver, capsys, monkeypatch):
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    w = str(shop_path)
    cli_json(capsys, "destination", "add", "crm", "--kind", "webhook", "--url", receiver.url, "--segmentation",
             "value", "-w", w)
    from segmint.activate.deliveries import Deliveries
    from segmint.workspace import Workspace

    receiver.answers = [Response("down", 500)]
    cli_json(capsys, "sync", "-w", w)
    with Workspace.open(w) as ws:  # eight failures later (the schedule's last wait has passed): a dead letter
        box = Deliveries(ws.store)
        for m in box.find("crm"):
            box.attempted(m.model_copy(update={"attempts": 7}), False, 500, "down", None, m.created_at)
    dead = cli_json(capsys, "deliveries", "-w", w)["deliveries"]
    assert dead and {m["status"] for m in dead} == {"dead"}
    assert len(cli_json(capsys, "deliveries", "retry", "crm", "-w", w)["retried"]) == len(dead)
    assert cli_json(capsys, "sync", "crm", "-w", w)["destinations"]["crm"]["sent"] == len(dead)
    assert _replay(receiver.changes()) == _audience(shop_path)


def _killed_syncs_then_one(w: str, env: dict[str, str]) -> None:
    """`segmint sync` killed with SIGKILL ten times at random moments (1 to 6 s in), then one that finishes."""
    rng = random.Random(18)
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-m", "segmint.cli", "sync", "-w", w], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = subprocess.run([sys.executable, "-m", "segmint.cli", "sync", "-w", w, "--json"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_kill_9_during_sync_loses_and_duplicates_nothing(shop_path, receiver, capsys, monkeypatch):
    """Ten syncs killed at random moments, then one that finishes: every change arrives, once after dedupe."""
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    w = str(shop_path)
    cli_json(capsys, "destination", "add", "crm", "--kind", "webhook", "--url", receiver.url, "--segmentation",
             "value", "--batch-size", "3", "-w", w)
    code, _ = cli(capsys, "segment", "value", "--as-of", "2026-03-01", "-w", w)
    assert code == 0

    def slow():
        time.sleep(0.01)
        return Response("ok", 200)

    receiver.answers = [slow] * 100_000
    _killed_syncs_then_one(w, {**os.environ, "SEGMINT_SECRET": "test-secret-key-for-pseudonyms"})
    everything = receiver.changes(dedupe=False)
    once = receiver.changes()
    assert len(everything) >= len(once)  # at least once...
    keys = [(c["customer_id"], c["segment"], c["change"], c["customer_seq"], c.get("seq")) for c in once]
    assert len(keys) == len(set(keys))  # ...and exactly once after dedupe by webhook-id
    assert _replay(once) == _audience(shop_path)
    from segmint.activate import outbox
    from segmint.workspace import Workspace

    with Workspace.open(w) as ws:
        seqs = outbox.changes_table(ws.store).seq.to_pyarrow().to_pylist()
    assert seqs == list(range(1, len(seqs) + 1))  # the outbox: nothing lost, nothing twice


@pytest.mark.slow
@pytest.mark.db
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_kill_9_during_a_database_sync_loses_and_duplicates_nothing(shop_path, db_servers, backend, capsys,
                                                                      monkeypatch):
    """Ten database syncs killed at random moments, then one that finishes: the mirror table equals the
    audience, and the insert-mode table holds every change that was sent exactly once."""
    from segmint.activate.deliveries import Deliveries
    from segmint.workspace import Workspace
    from tests.ingest.conftest import _drop

    url = db_servers[backend]
    schema = f"segmint_kill_{os.getpid()}_{random.randrange(10**6)}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE {'SCHEMA' if backend == 'postgresql' else 'DATABASE'} {schema}")
    monkeypatch.setenv("CRM_DB", url)
    w = str(shop_path)
    try:
        for name, mode in (("mirror", "mirror"), ("log", "insert")):
            cli_json(capsys, "destination", "add", name, "--kind", "database", "--url-env", "CRM_DB", "--table",
                     f"{schema}.{name}", "--mode", mode, "--segmentation", "value", "--batch-size", "1", "-w", w)
        code, _ = cli(capsys, "segment", "value", "--as-of", "2026-03-01", "-w", w)
        assert code == 0
        _killed_syncs_then_one(w, {**os.environ, "SEGMINT_SECRET": "test-secret-key-for-pseudonyms", "CRM_DB": url})
        with engine.connect() as conn:
            mirror = [tuple(r) for r in conn.execute(sa.text(f"SELECT customer_id, segment FROM {schema}.mirror"))]
            log = [tuple(r) for r in conn.execute(sa.text(
                f"SELECT customer_id, segment, change_type, customer_seq FROM {schema}.log"))]
        # the mirror: one row per member of the consented audience, none missing, none twice
        assert len(mirror) == len(set(mirror)) and set(mirror) == _audience(shop_path)
        with Workspace.open(w) as ws:
            box = Deliveries(ws.store)
            assert box.find(status="pending", limit=10**9) == [] and box.find(status="dead", limit=10**9) == []
            sent = [c for m in box.find("log", "delivered", limit=10**9) for c in m.items()]
            c = ws.store.table("customers")
            consented = set(c.filter(c.marketing_consent.fill_null(False)).customer_id.to_pyarrow().to_pylist())
        # the change log: every change of every delivered message (consent allowing), each exactly once
        expected = {(c["customer_id"], c["segment"], c["change"], c["customer_seq"]) for c in sent
                    if c["change"] != "entered" or c["customer_id"] in consented}
        assert len(log) == len(set(log)) and set(log) == expected
        assert _replay([dict(zip(("customer_id", "segment", "change", "customer_seq"), r)) for r in log]) == \
            _audience(shop_path)
    finally:
        engine.dispose()
        _drop(backend, url, schema)
