"""The ``audit_log`` table: the statements :class:`segmint.server.audit.AuditLog` runs.

Examples
--------
>>> import datetime as dt
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> store.audit.ensure_table()
>>> store.audit.insert("e1", dt.datetime(2024, 1, 1), "crm", "analyst", "export", "rfm/VIP", 3, "{}")
>>> [row[2:7] for row in store.audit.latest(10)]
[('crm', 'analyst', 'export', 'rfm/VIP', 3)]
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis

from segmint.store import sql

#: The table's columns, for the portable (Ibis) branches taken on engines other than DuckDB.
SCHEMA = ibis.schema({"event_id": "string", "logged_at": "timestamp", "who": "string", "role": "string",
                      "action": "string", "target": "string", "rows": "int64", "details": "string"})

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store.engine import Store


class AuditTable:
    """Append and read ``audit_log``, through one store (or one thread's cursor store)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def ensure_table(self) -> None:
        """Create the table when missing."""
        if not self.store.native_sql:
            if "audit_log" not in self.store.con.list_tables():
                self.store.con.create_table("audit_log", schema=SCHEMA)
            return
        self.store._raw.execute(sql.AUDIT_DDL)

    def insert(self, event_id: str, logged_at: dt.datetime, who: str, role: str, action: str, target: str,
               rows: int | None, details: str) -> None:
        """Append one event (``details`` is JSON text)."""
        if not self.store.native_sql:
            row = dict(zip(SCHEMA.names, [event_id, logged_at, who, role, action, target, rows, details]))
            self.store.con.insert("audit_log", ibis.memtable([row], schema=SCHEMA))
            return
        self.store._raw.execute(sql.AUDIT_INSERT, [event_id, logged_at, who, role, action, target, rows, details])

    def insert_many(self, rows: list[tuple]) -> None:
        """Append several events, each a tuple of :meth:`insert`'s arguments (one prepared statement)."""
        if rows:
            self.store._raw.executemany(sql.AUDIT_INSERT, [list(r) for r in rows])

    def latest(self, limit: int, action: str | None = None) -> list[tuple]:
        """The latest ``limit`` events (of one action, when given), newest first.

        Each row: event_id, logged_at, who, role, action, target, rows, details.
        """
        if not self.store.native_sql:
            t = self.store.con.table("audit_log")
            t = t.filter(t.action == action) if action else t
            rows = t.order_by(t.logged_at.desc()).limit(int(limit)).select(*SCHEMA.names).to_pyarrow().to_pylist()
            return [tuple(r.values()) for r in rows]
        if action:
            return self.store._raw.execute(sql.AUDIT_LATEST_OF, [action, int(limit)]).fetchall()
        return self.store._raw.execute(sql.AUDIT_LATEST, [int(limit)]).fetchall()


__all__ = ["AuditTable"]
