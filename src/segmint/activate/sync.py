"""A delivery run: outbox changes into messages, then every due message sent, each attempt recorded.

:class:`Sync` is what ``segmint sync`` and the delivery worker of ``segmint serve`` run. For
each destination (enabled, subscribed to some segmentations):

1. **Enqueue.** In one transaction, the outbox's changes after the destination's cursor
   become messages of at most ``batch_size`` changes, and the cursor moves to the outbox's
   end. A destination's first sync takes the published audience instead, as ``entered``
   changes. Nothing is sent in this step: a message exists (committed) before any attempt.
2. **Send what is due**, oldest first. Consent, the suppression list and any other
   exclusion the caller passes (the holdouts of running campaigns) are checked now, at
   send time: an ``entered`` change of a customer who may not be contacted is left out of
   the request (their ``exited`` and ``deleted`` changes are sent: they only remove). An
   accepted message is marked delivered; a failed one waits for its next attempt
   (:mod:`segmint.activate.schedule`), and after the last it is a dead letter. A
   destination's later messages wait while an earlier one fails, so a receiver gets
   changes in order. 410 disables a webhook destination.

Every attempt is written to the audit log (``action: delivery``) with its outcome, status
code and latency; never the secret or the payload.

The clock is a parameter (``clock``): the tests move time on instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from segmint.activate import jsontext, outbox, schedule
from segmint.activate.audit import AuditLog
from segmint.activate.deliveries import Deliveries, Message
from segmint.activate.destinations import Destination, Registry, SecretStore
from segmint.activate.files import write_files
from segmint.activate.suppress import excluded
from segmint.errors import ConfigError

__all__ = ["ALERTS", "Sync", "WRITE_EVERY_S", "utcnow"]

#: At most this many seconds of accepted messages are written at once (one transaction).
WRITE_EVERY_S = 1.0

#: The kind of the messages that carry monitoring alerts (``alerts: true`` destinations, issue 17).
ALERTS = "alerts"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Sync:
    """Deliver pending changes to destinations.

    Parameters
    ----------
    store : segmint.store.Store
    config : segmint.config.Config
        ``activation``, ``destinations``, ``privacy.min_segment_size``, ``exports``.
    root : Path
        The workspace folder (relative ``path`` of files destinations, ``.segmint`` secrets).
    clock : callable, optional
        Returns the current UTC time (naive); the tests pass a fake one.
    transport : httpx.BaseTransport, optional
        For webhook tests that do not open sockets.
    who : str
        Who runs it, for the audit log (``segmint sync``, ``delivery worker``).
    """

    def __init__(self, store, config, root: Path, clock: Callable[[], dt.datetime] | None = None,
                 transport=None, who: str = "segmint sync", rng: random.Random | None = None,
                 exclusions: list | None = None) -> None:
        self.store = store
        self.config = config
        self.root = Path(root)
        self.clock = clock or utcnow
        self.transport = transport
        self.who = who
        self.rng = rng or random.Random()
        self.exclusions = list(exclusions or [])
        self._unwritten: list[tuple] = []  # accepted messages not written yet (see _delivered)
        self._written_at = time.monotonic()
        self.registry = Registry(store, config.destinations, config.activation.allow_http_hosts)
        self.box = Deliveries(store)
        self.secrets = SecretStore(self.root / ".segmint")
        self.audit = AuditLog(store)
        outbox.bootstrap(store)

    # -- enqueue -------------------------------------------------------------------------------------
    def _batch(self, d: Destination) -> int:
        return d.batch_size or self.config.activation.batch_size

    def _initial(self, d: Destination, kind: str) -> list[dict[str, Any]]:
        a = outbox.audience(self.store, d.segmentations, d.segments or None)
        o = self.store.con.table(outbox.OUTBOX)
        last = o.group_by(["segmentation", "customer_id"]).aggregate(customer_seq=o.customer_seq.max())
        j = a.left_join(last, ["segmentation", "customer_id"])
        rows = j.select(seq=ibis.null("int64"), segmentation=a.segmentation, segment=a.segment,
                        customer_id=a.customer_id, change=ibis.literal("entered"),
                        version=a.version, as_of=a.as_of, customer_seq=last.customer_seq.fill_null(1))
        return jsontext.records(rows.order_by(["segmentation", "customer_id", "segment"]).to_pyarrow())

    def enqueue(self, d: Destination, full: bool = False) -> int:
        """Turn the destination's new outbox changes into messages; return how many changes."""
        state = self.registry.state(d.name)
        if state.disabled_reason and not full:
            return 0
        now = self.clock()
        with self.store.transaction():
            top = outbox.last_seq(self.store)
            if not state.started or full:
                kind = "resync" if full else "initial"
                items = self._initial(d, kind)
            else:
                kind = "changes"
                items = jsontext.records(outbox.changes_table(self.store, after=state.cursor, upto=top,
                                                              segmentations=d.segmentations,
                                                              segments=d.segments or None).to_pyarrow())
            self.box.create(d.name, kind, items, self._batch(d), now)
            self.registry.save_state(state.model_copy(update={"cursor": top, "started": True,
                                                              "disabled_reason": None if full else
                                                              state.disabled_reason}))
        return len(items)

    # -- send-time rules -----------------------------------------------------------------------------
    def _rules(self, d: Destination, messages: list[list[dict[str, Any]]]) -> tuple[set[str], dict[str, dict]]:
        """Who of these messages' entered customers may not be sent now, and their mapped fields (one query
        each for the whole batch of due messages: a query per message cost more than the request)."""
        entered = sorted({str(c["customer_id"]) for items in messages for c in items if c["change"] == "entered"})
        if not entered:
            return set(), {}
        ids = ibis.memtable(pa.table({"customer_id": pa.array(entered, pa.string())}))  # not through pandas
        blocked = set(excluded(self.store, ids, require_consent=d.consent, rules=self.exclusions))
        return blocked, (self._fields(d, ids) if d.fields else {})

    def _eligible(self, d: Destination, items: list[dict[str, Any]],
                  rules: tuple[set[str], dict[str, dict]] | None = None) -> tuple[list[dict[str, Any]], int]:
        """The changes that may go out now, with the mapped fields; and how many were held back."""
        blocked, fields = rules if rules is not None else self._rules(d, [items])
        out = []
        for c in items:
            cid = str(c["customer_id"])
            if c["change"] == "entered":
                if cid in blocked:
                    continue
                if d.fields:
                    c = {**c, "fields": fields.get(cid, {})}
            out.append(c)
        return out, len(items) - len(out)

    def _fields(self, d: Destination, ids) -> dict[str, dict[str, Any]]:
        """The mapped fields of these customers: the latest feature snapshot, else the customers table."""
        wanted = list(d.fields)
        found: dict[str, dict[str, Any]] = {}
        sources = []
        if "features" in self.store.con.list_tables():
            f = self.store.con.table("features")
            latest = f.as_of.max().to_pyarrow().as_py()
            if latest is not None:
                sources.append(f.filter(f.as_of == ibis.literal(latest, type="timestamp")))
        sources.append(self.store.table("customers"))
        for t in sources:
            cols = [c for c in wanted if c in t.columns and not any(c in v for v in found.values())]
            if not cols:
                continue
            rows = jsontext.records(t.semi_join(ids, "customer_id").select("customer_id", *cols).to_pyarrow())
            for r in rows:
                found.setdefault(str(r.pop("customer_id")), {}).update(r)
        missing = [c for c in wanted if not any(c in v for v in found.values())]
        if missing and found:
            raise ConfigError(f"destination {d.name!r}: no feature or customer column {', '.join(missing)} "
                              "(fields); `segmint features --list` shows the features")
        return found

    # -- sending -------------------------------------------------------------------------------------
    def _body(self, d: Destination, m: Message, items: list[dict[str, Any]]) -> bytes:
        doc = {"type": "segment.changes", "timestamp": self.clock().isoformat() + "Z",
               "data": {"destination": d.name, "message_id": m.message_id, "kind": m.kind, "changes": items}}
        if m.kind == ALERTS:
            doc = {"type": "monitor.alerts", "timestamp": doc["timestamp"],
                   "data": {"destination": d.name, "message_id": m.message_id, "kind": m.kind, "alerts": items}}
        return jsontext.dumps(doc)

    def _event(self, d: Destination, m: Message, outcome: str, code: int | None, latency: float | None,
               rows: int, held: int, error: str | None = None, attempt: int | None = None) -> tuple:
        """The audit event of one attempt: ``(who, role, action, target, rows, details)``."""
        details = {"message_id": m.message_id, "attempt": attempt or m.attempts + 1, "outcome": outcome,
                   "status_code": code,
                   "latency_ms": latency, "held_back": held}
        if error:
            details["error"] = error[:200]
        if d.personal_data and d.fields:
            details["personal_data_fields"] = sorted(set(d.fields))
        return self.who, "system", "delivery", f"{d.name}", rows, details

    def _record(self, *args, **kwargs) -> None:
        """Write the audit event of one attempt (arguments of :meth:`_event`)."""
        self.audit.record(*self._event(*args, **kwargs))

    def _sender(self, d: Destination):
        if d.kind == "webhook":
            from segmint.activate.webhook import WebhookSender

            secrets_ = self.secrets.active(d.name, d.secret_env)
            if not secrets_:
                raise ConfigError(f"destination {d.name!r} has no signing secret; run `segmint destination rotate "
                                  f"{d.name}` (it prints one) or set secret_env")
            return WebhookSender(d.check_url(self.config.activation.allow_http_hosts), secrets_,
                                 d.timeout_s or self.config.activation.timeout_s, transport=self.transport)
        if d.kind == "database":
            try:
                from segmint.activate.database import DatabaseSender
            except ImportError:
                raise ConfigError("database destinations need SQLAlchemy and a driver: "
                                  "pip install 'segmint[db]'") from None
            return DatabaseSender(self._db_url(d), d.table, d.mode, d.fields)
        return None

    def _db_url(self, d: Destination) -> str:
        if d.url_env:
            import os

            url = os.environ.get(d.url_env)
            if not url:
                raise ConfigError(f"destination {d.name!r}: the environment variable {d.url_env} (url_env) is not set")
            return url
        return d.url or ""

    def _folder(self, d: Destination) -> Path:
        p = Path(d.path or "")
        return p if p.is_absolute() else self.root / p

    def send_due(self, d: Destination) -> dict[str, int]:
        """Send the destination's due messages, oldest first; stop at the first failure."""
        done = {"sent": 0, "delivered_changes": 0, "failed": 0, "dead": 0, "held_back": 0}
        if self.registry.state(d.name).disabled_reason:
            return done
        due = self.box.due(d.name, self.clock())
        if not due:
            return done
        sender = self._sender(d)
        try:
            if d.kind == "files" and d.content == "audience":
                alerts = [m for m in due if m.kind == ALERTS]  # a file of their own each, before the audience
                if not all(self._send_one(d, m, m.items(), sender, done) for m in alerts):
                    return done
                rest = [m for m in due if m.kind != ALERTS]
                return self._send_audience_file(d, rest, done) if rest else done
            parsed = [m.items() for m in due]  # each payload read once
            # checked now, at send time
            rules = self._rules(d, [items for m, items in zip(due, parsed) if m.kind != ALERTS])
            for m, items in zip(due, parsed):
                if not self._send_one(d, m, items, sender, done, rules):
                    break
        finally:
            try:
                self._write_delivered()
            finally:
                if sender is not None:
                    sender.close()
        return done

    def _delivered(self, d: Destination, m: Message, code: int | None, latency: float | None, rows: int,
                   held: int, at: dt.datetime) -> None:
        """Note an accepted message; written with the others accepted in the last second.

        One transaction per message (its state and its audit entry) cost a commit each, as much
        as the request. A sync killed before the write sends these messages again, with the same
        ids: at least once still, exactly once after the receiver's dedupe (database and file
        destinations apply a message idempotently).
        """
        self._unwritten.append((d, self.box.outcome(m, True, code, None, None, at, latency),
                                code, latency, rows, held))
        if time.monotonic() - self._written_at >= WRITE_EVERY_S:
            self._write_delivered()

    def _write_delivered(self) -> None:
        if self._unwritten:
            with self.store.transaction():
                self.box.record_many([m for _, m, *_ in self._unwritten])
                self.audit.record_many([self._event(d, m, "delivered", code, latency, rows, held, attempt=m.attempts)
                                        for d, m, code, latency, rows, held in self._unwritten])
            self._unwritten.clear()
        self._written_at = time.monotonic()

    def _send_one(self, d: Destination, m: Message, items: list[dict[str, Any]], sender, done: dict[str, int],
                  rules=None) -> bool:
        # alerts name segments, never customers: no consent or suppression rule applies to them
        items, held = (items, 0) if m.kind == ALERTS else self._eligible(d, items, rules)
        done["held_back"] += held
        now = self.clock()
        if d.kind == "webhook":
            result = sender.send(m.message_id, self._body(d, m, items))
            ok, code, error, latency = result.ok, result.code, result.error, result.latency_ms
            if result.gone:
                self._write_delivered()
                with self.store.transaction():
                    self.box.record(self.box.outcome(m, False, code, error, wait=0.0, at=now, latency_ms=latency,
                                                     count=False))
                    st = self.registry.state(d.name)
                    self.registry.save_state(st.model_copy(update={"disabled_reason": error}))
                    self._record(d, m, "disabled", code, latency, len(items), held, error)
                done["failed"] += 1
                return False
            retry_after = result.retry_after
        elif d.kind == "database":
            start = dt.datetime.now()
            try:
                sender.apply(items, now)
                ok, code, error = True, None, None
            except Exception as exc:  # noqa: BLE001 - the target's error, kept for the retry
                ok, code, error = False, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            latency, retry_after = (dt.datetime.now() - start).total_seconds() * 1000, None
        else:
            start = dt.datetime.now()
            try:
                write_files(self._folder(d), f"{'alerts' if m.kind == ALERTS else 'changes'}-{m.message_id}", d.format,
                            _flat(items) if m.kind != ALERTS else [_alert_row(a) for a in items],
                            {"message_id": m.message_id, "destination": d.name, "kind": m.kind,
                             "first_seq": m.first_seq, "last_seq": m.last_seq, "runs": _runs(items)},
                            neutralise=self.config.exports.neutralise_formulas)
                ok, code, error = True, None, None
            except OSError as exc:
                ok, code, error = False, None, f"{type(exc).__name__}: {exc}"
            latency, retry_after = (dt.datetime.now() - start).total_seconds() * 1000, None
        if ok:
            self._delivered(d, m, code, latency, len(items), held, now)
            done["sent"] += 1
            done["delivered_changes"] += len(items)
            return True
        self._write_delivered()  # the accepted ones first: the failure may end the sync
        wait = schedule.delay(m.attempts + 2, retry_after, rng=self.rng, now=now)
        new = self.box.outcome(m, False, code, error, wait, now, latency)
        with self.store.transaction():
            self.box.record(new)
            self._record(d, m, "dead" if new.status == "dead" else "failed", code, latency, len(items), held, error)
        done["failed"] += 1
        done["dead"] += new.status == "dead"
        if new.status == "pending" and wait == 0.0:  # the schedule's immediate retry
            return self._send_one(d, new, items, sender, done, rules)
        return False

    def _send_audience_file(self, d: Destination, due: list[Message], done: dict[str, int]) -> dict[str, int]:
        """``content: audience``: one file of the whole audience stands for every due message."""
        now = self.clock()
        a = outbox.audience(self.store, d.segmentations, d.segments or None)
        rows = jsontext.records(a.order_by(["segmentation", "segment", "customer_id"]).to_pyarrow())
        items, held = self._eligible(d, [{**r, "change": "entered"} for r in rows])
        k = self.config.privacy.min_segment_size
        sizes: dict[tuple, int] = {}
        for r in items:
            sizes[(r["segmentation"], r["segment"])] = sizes.get((r["segmentation"], r["segment"]), 0) + 1
        small = {key for key, n in sizes.items() if n < k}
        kept = [{key: v for key, v in r.items() if key != "change"} for r in items
                if (r["segmentation"], r["segment"]) not in small]
        stem = f"audience-{now.strftime('%Y%m%dT%H%M%S')}-{due[-1].message_id}"
        write_files(self._folder(d), stem, d.format, _flat(kept),
                    {"destination": d.name, "messages": [m.message_id for m in due], "runs": _runs(rows),
                     "min_segment_size": k,
                     "suppressed": [{"segmentation": s, "segment": g, "members": sizes[(s, g)]} for s, g in sorted(small)]},
                    neutralise=self.config.exports.neutralise_formulas)
        for m in due:
            self.box.attempted(m, True, None, None, None, now, None)
            self._record(d, m, "delivered", None, None, len(kept), held)
        done.update(sent=len(due), delivered_changes=len(kept), held_back=held)
        return done

    # -- monitoring alerts (issue 17) ---------------------------------------------------------------
    def deliver_alerts(self, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        """Queue ``alerts`` (as stored by a refresh) for every enabled ``alerts: true`` destination and send
        what is due; a summary per destination. A failed message is retried by the next ``segmint sync``."""
        report: dict[str, Any] = {}
        if not alerts:
            return report
        for d in self.registry.all():
            if not d.alerts or self.registry.state(d.name).disabled_reason:
                continue
            items = [_jsonable(a) for a in alerts]
            with self.store.transaction():
                self.box.create(d.name, ALERTS, items, self._batch(d), self.clock())
            report[d.name] = {"queued_alerts": len(items), **self.send_due(d)}
        return report

    # -- the whole run -------------------------------------------------------------------------------
    def run(self, name: str | None = None, full: bool = False) -> dict[str, Any]:
        """Enqueue and send for one destination or all; a summary per destination."""
        targets = [self.registry.get(name)] if name else self.registry.all()
        report = {}
        for d in targets:
            if d.kind == "database" and full:
                report[d.name] = self._resync_database(d)
                continue
            queued = self.enqueue(d, full=full)
            sent = self.send_due(d)
            pending = self.box.find(d.name, "pending", limit=10**9)
            report[d.name] = {"queued_changes": queued, **sent, "pending_messages": len(pending),
                              "next_attempt_at": min((m.next_attempt_at for m in pending), default=None),
                              "disabled": self.registry.state(d.name).disabled_reason}
        return report

    def _resync_database(self, d: Destination) -> dict[str, Any]:
        now = self.clock()
        with self.store.transaction():
            top = outbox.last_seq(self.store)
            rows = self._initial(d, "resync")
            state = self.registry.state(d.name)
            self.registry.save_state(state.model_copy(update={"cursor": top, "started": True,
                                                              "disabled_reason": None}))
        items, held = self._eligible(d, rows)
        sender = self._sender(d)
        try:
            n = sender.resync(d.segmentations, items, now)
        finally:
            sender.close()
        for m in self.box.find(d.name, "pending", limit=10**9):  # superseded by the full copy
            self.box.attempted(m, True, None, "superseded by a full resync", None, now)
        self.audit.record(self.who, "system", "delivery", d.name, n, {"outcome": "resync", "held_back": held})
        return {"queued_changes": 0, "resynced_rows": n, "held_back": held, "pending_messages": 0,
                "next_attempt_at": None, "disabled": None}

    def replay(self, since: dt.datetime, name: str | None = None) -> dict[str, int]:
        """Queue again, as new messages, every change the outbox recorded since ``since``."""
        out = {}
        for d in ([self.registry.get(name)] if name else self.registry.all()):
            t = outbox.changes_table(self.store, segmentations=d.segmentations, segments=d.segments or None)
            t = t.filter(t.created_at >= ibis.literal(since, type="timestamp"))
            state = self.registry.state(d.name)
            t = t.filter(t.seq <= state.cursor)  # later ones are queued by the next sync anyway
            items = jsontext.records(t.order_by("seq").to_pyarrow())
            with self.store.transaction():
                self.box.create(d.name, "replay", items, self._batch(d), self.clock())
            out[d.name] = len(items)
        return out


def _flat(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes as file rows: the fields as columns."""
    out = []
    for c in items:
        row = {k: v for k, v in c.items() if k != "fields"}
        row.update(c.get("fields") or {})
        out.append(row)
    return out


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as JSON-ready values (times as ISO text, NaN as None), without its ``created_at``."""
    out = {}
    for k, v in row.items():
        if k == "created_at":
            continue
        if isinstance(v, (dt.datetime, dt.date)):
            v = v.isoformat()
        elif isinstance(v, float) and v != v:
            v = None
        out[k] = v
    return out


def _alert_row(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert as a file row: its evidence as JSON text."""
    return {**alert, "evidence": json.dumps(alert.get("evidence"), default=str, sort_keys=True)}


def _runs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = sorted({(c["segmentation"], c.get("version"), c.get("as_of")) for c in items}, key=str)
    return [{"segmentation": s, "version": v, "as_of": a} for s, v, a in seen]

