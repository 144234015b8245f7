"""Telling destinations that a person was erased (GDPR Art. 19), before their rows go.

:func:`notify` is registered with :func:`segmint.privacy.forget.register_notifier` by
:meth:`segmint.workspace.Workspace.forget`. For every started destination that holds the
person (in the published audience of a segmentation it receives) or was sent them before (a
delivered message names them), it sends one ``deleted`` change per membership at once: a
signed webhook message of kind ``erasure``, a change file, or a DELETE in the database table.
The receipt lists each destination with ``told`` true or false and how. Every undelivered
message loses the person's other changes, so nothing about them goes out after the erasure;
the payloads of delivered messages are redacted by the erasure itself (they are registered
as text that mentions people).

A destination that cannot be reached is reported as not told (``told: false`` with the
error): tell it by other means, as docs/privacy.md says. segmint cannot send it later, since
after the erasure nothing in the workspace names the person.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import ibis

from segmint.activate import outbox
from segmint.activate.deliveries import DELIVERIES, Deliveries, Message, new_id
from segmint.activate.files import write_files
from segmint.activate.sync import Sync, utcnow
from segmint.store.erase import register_text_mentions

__all__ = ["notify"]

# A delivered message names the people it carried: the erasure redacts them there (no id is kept).
register_text_mentions(DELIVERIES, ("payload",), "redact")


def _held(sync: Sync, d, ids: list[str]) -> list[dict[str, Any]]:
    """The person's memberships this destination holds or was sent: (segmentation, segment, customer_id)."""
    wanted = ibis.memtable({"customer_id": ids}, schema={"customer_id": "string"})
    a = outbox.audience(sync.store, d.segmentations, d.segments or None).semi_join(wanted, "customer_id")
    found = {(r["segmentation"], r["segment"], r["customer_id"]) for r in a.to_pyarrow().to_pylist()}
    for m in sync.box.find(d.name, "delivered", limit=10**9):
        if not any(f'"{i}"' in m.payload for i in ids):
            continue
        for c in m.items():
            if str(c.get("customer_id")) in ids and c.get("change") == "entered":
                found.add((c["segmentation"], c["segment"], str(c["customer_id"])))
    return [{"segmentation": s, "segment": g, "customer_id": c} for s, g, c in sorted(found)]


def notify(store, config, root, ids: list[str], request_id: str, transport=None) -> list[dict[str, Any]]:
    """Send a ``deleted`` change to every destination that holds or received these people; one answer each."""
    sync = Sync(store, config, root, transport=transport, who="segmint forget")
    ids = [str(i) for i in ids]
    answers = []
    for d in sync.registry.all():
        if not sync.registry.state(d.name).started:
            continue
        held = _held(sync, d, ids)
        if not held:
            continue
        at = utcnow()
        changes = [{**h, "seq": None, "change": "deleted", "customer_seq": None, "version": None,
                    "as_of": at.isoformat()} for h in held]
        answers.append({"destination": d.name, "kind": d.kind, "changes": len(changes),
                        **_send(sync, d, changes, request_id, at)})
    Deliveries(store).drop_customers(ids)
    return answers


def _send(sync: Sync, d, changes: list[dict[str, Any]], request_id: str, at: dt.datetime) -> dict[str, Any]:
    """One attempt, now; never raises (the erasure goes on, and the receipt says who was not told)."""
    m = Message(message_id=new_id(), destination=d.name, kind="erasure", changes=len(changes),
                payload=json.dumps(changes), created_at=at)
    try:
        if d.kind == "webhook":
            sender = sync._sender(d)
            try:
                outcome = sender.send(m.message_id, sync._body(d, m, changes))
            finally:
                sender.close()
            how = f"webhook {outcome.code}" if outcome.ok else f"webhook failed: {outcome.error}"
            ok = outcome.ok
        elif d.kind == "database":
            sender = sync._sender(d)
            try:
                sender.apply(changes, at)
            finally:
                sender.close()
            ok, how = True, f"deleted from {d.table}"
        else:
            write_files(sync._folder(d), f"erasure-{m.message_id}", d.format,
                        [{k: v for k, v in c.items() if k != "fields"} for c in changes],
                        {"message_id": m.message_id, "destination": d.name, "kind": "erasure",
                         "request_id": request_id}, neutralise=sync.config.exports.neutralise_formulas)
            ok, how = True, f"erasure file in {d.path}"
    except Exception as exc:  # noqa: BLE001 - reported in the receipt; the erasure itself goes on
        ok, how = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    sync.audit.record("segmint forget", "system", "erasure-notice", d.name, len(changes),
                      {"message_id": m.message_id, "told": ok, "request_id": request_id})
    return {"told": ok, "how": how, "message_id": m.message_id}
