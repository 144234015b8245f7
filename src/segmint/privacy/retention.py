"""Retention: rows older than a table's ``retention:`` period in ``segmint.yaml`` are purged, and the ledger says so.

.. code-block:: yaml

    retention:
      events: {months: 24}
      quarantine: {months: 6}
      orders: {months: 84, column: ordered_at}

Each table's time column is its event time (:data:`TIME_COLUMNS`) unless ``column`` names
another. :func:`purge` deletes in one transaction and records a ``retention`` row in the
erasure ledger (tables, rows, cut-off dates); the workspace then rewrites the store's file,
as after ``segmint forget``, so the purged rows leave no bytes
(:meth:`segmint.workspace.Workspace.apply_retention`, also for a refresh to call).

Examples
--------
>>> import datetime as dt
>>> cutoff(dt.datetime(2026, 3, 31), 1)
datetime.datetime(2026, 2, 28, 0, 0)
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ibis

from segmint.errors import ConfigError, did_you_mean
from segmint.privacy import ledger
from segmint.store import kept_figures

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store import Store

#: The time column a table's age is read from, unless ``retention.<table>.column`` says otherwise.
TIME_COLUMNS = {
    "orders": "ordered_at", "order_items": "ordered_at", "events": "occurred_at", "responses": "answered_at",
    "quarantine": "ingested_at", "ingest_runs": "finished_at", "audit_log": "logged_at", "features": "as_of",
    "memberships": "as_of", "membership_reasons": "as_of", "segmentation_runs": "as_of",
}


def cutoff(now: dt.datetime, months: int) -> dt.datetime:
    """``now`` minus ``months`` calendar months, at midnight (the day clipped to the month's end)."""
    import pandas as pd

    return (pd.Timestamp(now) - pd.DateOffset(months=int(months))).normalize().to_pydatetime()


def plan(store: Store, rules: Mapping[str, Any], now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per table with a rule: the time column, the cut-off and how many rows are older (nothing changes)."""
    tables = set(store.base_tables())
    out = {}
    for table, rule in sorted(rules.items()):
        if table not in tables:
            raise ConfigError(f"retention names table {table!r}, which the store does not have; "
                              f"{did_you_mean(table, sorted(tables))}")
        t = store.con.table(table)
        column = rule.column or TIME_COLUMNS.get(table)
        times = [c for c, typ in t.schema().items() if typ.is_timestamp() or typ.is_date()]
        if column is None or column not in t.columns:
            raise ConfigError(f"retention.{table}: no time column {column!r} in {table}; set `column:` to one of "
                              f"{', '.join(times) or '(none: this table cannot be kept by age)'}")
        if column not in times:
            raise ConfigError(f"retention.{table}.column {column!r} is not a date or time; use one of {', '.join(times)}")
        before = cutoff(now, rule.months)
        n = int(t.filter(t[column] < ibis.literal(before, type="timestamp")).count().to_pyarrow().as_py())
        out[table] = {"column": column, "months": rule.months, "before": before.date().isoformat(), "rows": n,
                      "_before": before}
    return out


def purge(store: Store, rules: Mapping[str, Any], *, now: dt.datetime | None = None, dry_run: bool = False,
          who: str = "cli") -> dict[str, Any]:
    """Delete the rows older than each table's period (one transaction) and record it in the ledger."""
    now = now or ledger.now()
    p = plan(store, rules, now)
    request_id = uuid.uuid4().hex[:16]
    purged = {t: v["rows"] for t, v in p.items() if v["rows"]}
    if purged and not dry_run:
        with store.transaction():
            for table, v in p.items():
                if v["rows"]:
                    store.delete_before(table, v["column"], v["_before"])
            if "memberships" in purged:  # the runs' stored sizes say what they hold now
                store.runs.recount()
            kept_figures.clear(store)  # monitoring figures computed with the purged rows go too
            ledger.record(store, request_id=request_id, action="retention", request="retention", who=who,
                          hashes=[], tables=purged,
                          details={t: {k: v[k] for k in ("column", "months", "before")} for t, v in p.items()})
    return {"request_id": None if dry_run or not purged else request_id, "dry_run": dry_run,
            "now": now.isoformat(timespec="seconds"), "rows": sum(purged.values()),
            "tables": {t: {k: v[k] for k in ("column", "months", "before", "rows")} for t, v in p.items()}}


__all__ = ["TIME_COLUMNS", "cutoff", "plan", "purge"]
