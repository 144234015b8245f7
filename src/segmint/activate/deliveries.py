"""Messages to destinations: batches of outbox changes, each with an id kept across its retries.

``deliveries`` holds one row per message: its id (``msg_...``, the ``webhook-id`` a receiver
dedupes on), destination, the outbox range and the changes it carries (JSON text), status
(``pending``, ``delivered`` or ``dead``), attempts so far, when the next attempt is due and
what the last one got back. A message is written (committed) before it is first sent, and
marked delivered only after the receiver accepted it: a sync killed in between sends it
again with the same id, so every change arrives at least once and exactly once after the
receiver's dedupe.

Examples
--------
>>> import datetime as dt
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> box = Deliveries(store)
>>> at = dt.datetime(2025, 1, 1)
>>> [m] = box.create("crm", "changes", [{"seq": 1, "customer_id": "C1", "change": "entered"}], 100, at)
>>> m.status, m.attempts, len(box.due("crm", at))
('pending', 0, 1)
>>> box.attempted(m, ok=False, code=503, error="Service Unavailable", wait=5.0, at=at).next_attempt_at
datetime.datetime(2025, 1, 1, 0, 0, 5)
>>> len(box.due("crm", at)), len(box.due("crm", at + dt.timedelta(seconds=5)))
(0, 1)
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import ibis
import pyarrow as pa
from pydantic import BaseModel

from segmint.activate import jsontext

__all__ = ["DELIVERIES", "Deliveries", "Message"]

DELIVERIES = "deliveries"

SCHEMA = ibis.schema({
    "message_id": "string", "position": "int64", "destination": "string", "kind": "string", "first_seq": "int64", "last_seq": "int64",
    "changes": "int64", "payload": "string", "status": "string", "attempts": "int64",
    "next_attempt_at": "timestamp", "last_code": "int64", "last_error": "string", "last_latency_ms": "float64",
    "created_at": "timestamp", "delivered_at": "timestamp",
})


#: The columns an attempt changes.
_STATE = ("status", "attempts", "next_attempt_at", "last_code", "last_error", "last_latency_ms", "delivered_at")


class Message(BaseModel):
    """One message to one destination (a row of ``deliveries``)."""

    message_id: str
    position: int = 0
    destination: str
    kind: str
    first_seq: int | None = None
    last_seq: int | None = None
    changes: int
    payload: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_code: int | None = None
    last_error: str | None = None
    last_latency_ms: float | None = None
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None

    def items(self) -> list[dict[str, Any]]:
        """The changes the message carries."""
        return jsontext.loads(self.payload)

    def public(self) -> dict[str, Any]:
        """The message without its payload, as JSON values."""
        out = self.model_dump(exclude={"payload"})
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in out.items()}


def new_id() -> str:
    """A message id: ``msg_`` and 24 random characters (Standard Webhooks' ``webhook-id``)."""
    return "msg_" + secrets.token_hex(12)


class Deliveries:
    """The ``deliveries`` table through one store."""

    def __init__(self, store) -> None:
        self.store = store
        if DELIVERIES not in store.con.list_tables() and not store.read_only:
            store.con.create_table(DELIVERIES, schema=SCHEMA)

    def _insert(self, messages: list[Message]) -> None:
        if messages:  # an Arrow table, not a list of dicts: Ibis would go through pandas, payloads and all
            rows = pa.Table.from_pylist([m.model_dump() for m in messages], schema=SCHEMA.to_pyarrow())
            self.store.con.insert(DELIVERIES, ibis.memtable(rows))

    def create(self, destination: str, kind: str, changes: list[dict[str, Any]], batch_size: int,
               at: dt.datetime) -> list[Message]:
        """Messages of at most ``batch_size`` changes each, due at ``at`` (call inside a transaction)."""
        out = []
        t = self.store.con.table(DELIVERIES)
        base = int(t.position.max().to_pyarrow().as_py() or 0)  # messages go out in the order they were made
        for start in range(0, len(changes), batch_size):
            part = changes[start:start + batch_size]
            seqs = [c["seq"] for c in part if c.get("seq") is not None]
            out.append(Message(message_id=new_id(), position=base + 1 + len(out), destination=destination, kind=kind,
                               first_seq=min(seqs) if seqs else None, last_seq=max(seqs) if seqs else None,
                               changes=len(part), payload=jsontext.dumps(part).decode("utf-8"),
                               next_attempt_at=at, created_at=at))
        self._insert(out)
        return out

    def _select(self, where) -> list[Message]:
        t = self.store.con.table(DELIVERIES)
        rows = t.filter(where(t)).order_by("position").to_pyarrow().to_pylist()
        return [Message(**r) for r in rows]

    def due(self, destination: str, at: dt.datetime) -> list[Message]:
        """Pending messages of ``destination`` whose next attempt is due at ``at``, oldest first."""
        stamp = ibis.literal(at, type="timestamp")
        return self._select(lambda t: (t.destination == destination) & (t.status == "pending")
                            & (t.next_attempt_at <= stamp))

    def find(self, destination: str | None = None, status: str | None = None, limit: int = 1000) -> list[Message]:
        """Messages (of a destination, with a status), oldest first, at most ``limit`` (the latest)."""
        def where(t):
            cond = ibis.literal(True)
            if destination:
                cond = cond & (t.destination == destination)
            if status:
                cond = cond & (t.status == status)
            return cond
        found = self._select(where)
        return found[-limit:]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per destination: messages and changes per status."""
        t = self.store.con.table(DELIVERIES)
        rows = t.group_by(["destination", "status"]).aggregate(messages=t.count(), changes=t.changes.sum())
        out: dict[str, dict[str, int]] = {}
        for r in rows.to_pyarrow().to_pylist():
            d = out.setdefault(r["destination"], {})
            d[f"{r['status']}_messages"] = int(r["messages"])
            d[f"{r['status']}_changes"] = int(r["changes"] or 0)
        return out

    def _replace(self, m: Message) -> None:
        with self.store.transaction():
            self.store.replace_row(DELIVERIES, {"message_id": m.message_id}, m.model_dump())

    def attempted(self, m: Message, ok: bool, code: int | None, error: str | None, wait: float | None,
                  at: dt.datetime, latency_ms: float | None = None, count: bool = True) -> Message:
        """Record an attempt: delivered when ``ok``, else due again after ``wait`` seconds, dead when None.

        ``count=False`` records the response without using up an attempt (a disabled endpoint's 410).
        """
        new = self.outcome(m, ok, code, error, wait, at, latency_ms, count)
        with self.store.transaction():
            self.record(new)
        return new

    @staticmethod
    def outcome(m: Message, ok: bool, code: int | None, error: str | None, wait: float | None,
                at: dt.datetime, latency_ms: float | None = None, count: bool = True) -> Message:
        """The message after an attempt (see :meth:`attempted`), not written yet."""
        attempts = m.attempts + (1 if count else 0)
        if ok:
            return m.model_copy(update={"status": "delivered", "attempts": attempts, "last_code": code,
                                        "last_error": None, "delivered_at": at, "last_latency_ms": latency_ms})
        status = "pending" if wait is not None else "dead"
        nxt = at + dt.timedelta(seconds=wait) if wait is not None else None
        return m.model_copy(update={"status": status, "attempts": attempts, "last_code": code,
                                    "last_error": (error or "")[:500], "next_attempt_at": nxt,
                                    "last_latency_ms": latency_ms})

    def record_many(self, messages: list[Message]) -> None:
        """:meth:`record` for several messages, in one statement."""
        if messages:
            columns = ["message_id", *_STATE]
            schema = pa.schema([(c, SCHEMA[c].to_pyarrow()) for c in columns])
            self.store.update_many(DELIVERIES, ["message_id"], pa.Table.from_pylist(
                [{c: getattr(m, c) for c in columns} for m in messages], schema=schema))

    def record(self, m: Message) -> None:
        """Write a message's state (the caller's transaction): one update of its attempt's columns; the
        payload, up to 1,000 changes, is not written again."""
        self.store.update_rows(DELIVERIES, {c: getattr(m, c) for c in _STATE}, message_id=m.message_id)

    def revive(self, destination: str | None, at: dt.datetime) -> list[Message]:
        """Dead letters (of one destination) back to pending, due at once, their attempts reset."""
        dead = self.find(destination, "dead", limit=10**9)
        for m in dead:
            # due since it was made: due for any sync from now on, whatever clock the sync keeps
            due = min(at, m.created_at)
            self._replace(m.model_copy(update={"status": "pending", "attempts": 0, "next_attempt_at": due}))
        return dead

    def drop_customers(self, ids: list[str]) -> int:
        """Remove these customers from every undelivered message (an erasure); returns messages changed."""
        wanted = set(map(str, ids))
        changed = 0
        for m in self.find(status="pending", limit=10**9) + self.find(status="dead", limit=10**9):
            items = m.items()
            kept = [c for c in items if str(c.get("customer_id")) not in wanted or c.get("change") == "deleted"]
            if len(kept) != len(items):
                changed += 1
                self._replace(m.model_copy(update={"payload": jsontext.dumps(kept).decode("utf-8"),
                                                   "changes": len(kept)}))
        return changed
