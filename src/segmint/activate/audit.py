"""The ``audit_log`` table: who exported what, how many rows, when.

Every member list and export the API serves is written here, with the token's name
(never the token), what was asked for and how many rows left the building.

Examples
--------
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> log = AuditLog(store)
>>> log.record("crm-sync", "analyst", "export", "lifecycle/VIP", rows=42, details={"format": "csv"})
>>> [(e["who"], e["rows"]) for e in log.entries()]
[('crm-sync', 42)]
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any


class AuditLog:
    """Append-only access to ``audit_log`` through a store (or one server thread's cursor store).

    Its statements are :attr:`segmint.store.Store.audit`.
    """

    def __init__(self, store) -> None:
        self.table = store.audit
        self.table.ensure_table()

    def record(self, who: str, role: str, action: str, target: str, rows: int | None,
               details: dict[str, Any] | None = None) -> None:
        """Append one event (UTC time, a random id)."""
        at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.table.insert(secrets.token_hex(8), at, who, role, action, target, rows,
                          json.dumps(details or {}, sort_keys=True, default=str))

    def record_many(self, events: list[tuple[str, str, str, str, int | None, dict[str, Any] | None]]) -> None:
        """Append several events, each ``(who, role, action, target, rows, details)``, in one statement."""
        at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.table.insert_many([(secrets.token_hex(8), at, who, role, action, target, rows,
                                 json.dumps(details or {}, sort_keys=True, default=str))
                                for who, role, action, target, rows, details in events])

    def entries(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        """The latest events first."""
        rows = self.table.latest(limit, action)
        return [{"event_id": r[0], "at": r[1].isoformat(), "who": r[2], "role": r[3], "action": r[4],
                 "target": r[5], "rows": r[6], "details": _details(r[7])} for r in rows]


def _details(text: str | None) -> dict[str, Any]:
    """An event's details; text that is not JSON (a line edited by hand) is kept as text, never an error."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {"text": text}


__all__ = ["AuditLog"]
