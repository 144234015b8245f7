"""Managing destinations: add, list with their state, test, remove, rotate, enable; suppression.

:class:`Activation` is what :class:`segmint.workspace.Workspace`'s activation methods call
(the CLI, the admin API and the dashboard go through those). A destination's state is its
backlog (outbox changes not yet queued plus changes in undelivered messages), its dead
letters, when it last delivered and, after a ``410 Gone``, why it is disabled.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from segmint.activate import outbox, suppress
from segmint.activate.database import mask_url
from segmint.activate.deliveries import Deliveries, new_id
from segmint.activate.destinations import Destination, Registry, SecretStore
from segmint.activate.sync import Sync, utcnow
from segmint.errors import ConfigError

__all__ = ["Activation"]


class Activation:
    """Destinations, deliveries and the suppression list of one workspace."""

    def __init__(self, store, config, root: Path, known=None, exclusions: list | None = None) -> None:
        self.store = store
        self.config = config
        self.root = Path(root)
        self._known = known  # () -> the segmentation names defined (segmint.yaml and segments/)
        self.exclusions = list(exclusions or [])  # held back at send time besides consent and suppression

    @property
    def registry(self) -> Registry:
        return Registry(self.store, self.config.destinations, self.config.activation.allow_http_hosts)

    @property
    def secrets(self) -> SecretStore:
        return SecretStore(self.root / ".segmint")

    def sync(self, destination: str | None = None, full: bool = False, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("exclusions", self.exclusions)
        return Sync(self.store, self.config, self.root, **kwargs).run(destination, full=full)

    def deliver_alerts(self, alerts: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        """Send a refresh's alerts to the ``alerts: true`` destinations (issue 17); a summary per destination."""
        kwargs.setdefault("exclusions", self.exclusions)
        return Sync(self.store, self.config, self.root, **kwargs).deliver_alerts(alerts)

    # -- destinations --------------------------------------------------------------------------------
    def add(self, body: dict[str, Any]) -> tuple[Destination, str | None]:
        """A new destination (kept in the store) and, for a webhook, its new secret (to show once)."""
        known = set(self.store.runs.latest()) | set(self.config.segmentations)
        if self._known is not None:
            known |= set(self._known())
        unknown = [s for s in body.get("segmentations") or [] if s not in known]
        if unknown:
            raise ConfigError(f"no segmentation {', '.join(map(repr, unknown))} is defined; define it in segmint.yaml "
                              f"or segments/ first (defined: {', '.join(sorted(known)) or 'none'})")
        d = self.registry.add(body)
        secret = self.secrets.create(d.name) if d.kind == "webhook" and not d.secret_env else None
        return d, secret

    def remove(self, name: str) -> Destination:
        d = self.registry.remove(name)
        self.secrets.remove(name)
        return d

    def rotate(self, name: str) -> str:
        d = self.registry.get(name)
        if d.kind != "webhook":
            raise ConfigError(f"destination {name!r} is a {d.kind} destination: only webhooks have a secret")
        if d.secret_env:
            raise ConfigError(f"destination {name!r} takes its secret from ${d.secret_env}: rotate it there")
        return self.secrets.rotate(name)

    def enable(self, name: str) -> dict[str, Any]:
        """Clear a destination's ``disabled`` state (after a 410, once the receiver is back)."""
        reg = self.registry
        reg.get(name)
        with self.store.transaction():
            st = reg.state(name)
            reg.save_state(st.model_copy(update={"disabled_reason": None}))
        return self.describe(name)

    def describe(self, name: str | None = None) -> list[dict[str, Any]] | dict[str, Any]:
        """Each destination with its state: backlog, pending and dead messages, last delivery."""
        reg = self.registry
        outbox.ensure_tables(self.store)
        box = Deliveries(self.store)
        counts = box.counts()
        top = outbox.last_seq(self.store)
        out = []
        for d in ([reg.get(name)] if name else reg.all()):
            st = reg.state(d.name)
            waiting = 0
            if st.started:
                waiting = len(outbox.changes_table(self.store, after=st.cursor, upto=top, segmentations=d.segmentations,
                                                   segments=d.segments or None).customer_id.to_pyarrow())
            else:
                waiting = int(outbox.audience(self.store, d.segmentations, d.segments or None).count()
                              .to_pyarrow().as_py())
            c = counts.get(d.name, {})
            delivered = box.find(d.name, "delivered", limit=1)
            info = d.public()
            if info.get("url") and d.kind == "database":
                info["url"] = mask_url(info["url"])
            out.append({**info, "started": st.started, "cursor": st.cursor,
                        "disabled": st.disabled_reason,
                        "backlog_changes": waiting + c.get("pending_changes", 0) + c.get("dead_changes", 0),
                        "pending_messages": c.get("pending_messages", 0),
                        "dead_messages": c.get("dead_messages", 0),
                        "delivered_messages": c.get("delivered_messages", 0),
                        "last_delivered_at": delivered[-1].delivered_at.isoformat() if delivered else None})
        return out[0] if name else out

    def test(self, name: str, transport=None) -> dict[str, Any]:
        """Reach the destination without sending any customer: a signed ``segmint.test`` message, a probe file,
        or a connection to the database."""
        d = self.registry.get(name)
        sync = Sync(self.store, self.config, self.root, transport=transport, exclusions=self.exclusions)
        start = time.perf_counter()
        if d.kind == "webhook":
            sender = sync._sender(d)
            msg_id = new_id()
            body = json.dumps({"type": "segmint.test", "timestamp": utcnow().isoformat() + "Z",
                               "data": {"destination": d.name, "message_id": msg_id}}).encode()
            try:
                outcome = sender.send(msg_id, body)
            finally:
                sender.close()
            return {"destination": d.name, "ok": outcome.ok, "status_code": outcome.code, "error": outcome.error,
                    "latency_ms": outcome.latency_ms, "webhook_id": msg_id}
        if d.kind == "files":
            folder = sync._folder(d)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                probe = folder / f".segmint-test-{new_id()}"
                probe.write_text("segmint test\n", encoding="utf-8")
                probe.unlink()
                ok, error = True, None
            except OSError as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            return {"destination": d.name, "ok": ok, "folder": str(folder), "error": error,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 2)}
        sender = sync._sender(d)
        try:
            with sender.engine.connect():
                ok, error = True, None
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the test's whole point
            ok, error = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        finally:
            sender.close()
        return {"destination": d.name, "ok": ok, "error": error,
                "latency_ms": round((time.perf_counter() - start) * 1000, 2)}

    # -- deliveries ----------------------------------------------------------------------------------
    def deliveries(self, destination: str | None = None, status: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        if destination:
            self.registry.get(destination)
        return [m.public() for m in Deliveries(self.store).find(destination, status, limit)]

    def retry(self, destination: str | None = None) -> list[dict[str, Any]]:
        """Dead letters back to pending; the next sync sends them (with their ids)."""
        if destination:
            self.registry.get(destination)
        return [m.public() for m in Deliveries(self.store).revive(destination, utcnow())]

    def replay(self, since: dt.datetime, destination: str | None = None) -> dict[str, int]:
        return Sync(self.store, self.config, self.root, exclusions=self.exclusions).replay(since, destination)

    # -- suppression ---------------------------------------------------------------------------------
    def suppress(self, ids: list[str], reason: str = "") -> int:
        return suppress.suppress(self.store, ids, reason)

    def unsuppress(self, ids: list[str]) -> int:
        return suppress.unsuppress(self.store, ids)

    def suppressed(self) -> list[dict[str, Any]]:
        return [{**r, "added_at": r["added_at"].isoformat()} for r in suppress.suppressed(self.store)]

