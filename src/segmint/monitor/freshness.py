"""Staleness per table, like dbt's source freshness: the newest row, the last load, warn/error after.

A table's age is measured from ``now`` (UTC) to its newest row's time (``field: newest_row``, the
default) or to the end of its last ingest (``field: last_load``). A rule in
``monitoring.freshness.<table>`` turns the age into ``pass``, ``warn`` or ``error``; a table without
a rule is ``no rule``, an empty one ``empty``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from segmint.contracts import CONTRACTS
from segmint.monitor.settings import parse_duration
from segmint.status import TIME_COLUMNS

__all__ = ["freshness"]


def _age(now: dt.datetime, when: dt.datetime | None) -> float | None:
    return None if when is None else (now - when).total_seconds()


def freshness(store, rules: dict, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One entry per canonical table: ``table``, ``rows``, ``newest_row``, ``last_load``, ``age_seconds``,
    ``warn_after``, ``error_after``, ``status`` (``pass``, ``warn``, ``error``, ``no rule`` or ``empty``)."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    runs = store.table("ingest_runs")
    loads = runs.group_by("table_name").aggregate(last=runs.finished_at.max()).to_pyarrow().to_pylist()
    last_load = {r["table_name"]: r["last"] for r in loads}
    out = []
    for table in CONTRACTS:
        t = store.table(table)
        col = TIME_COLUMNS.get(table)
        aggs = {"rows": t.count()}
        if col in t.columns:
            aggs["newest"] = t[col].max()
        row = t.aggregate(**aggs).to_pyarrow().to_pylist()[0]
        rule = rules.get(table)
        newest = row.get("newest")
        field = rule.field if rule is not None else "newest_row"
        age = _age(now, newest if field == "newest_row" else last_load.get(table))
        status = "no rule"
        if row["rows"] == 0:
            status = "empty" if rule is None else "error"
        elif rule is not None:
            status = "pass"
            if age is not None and rule.warn_after and age > parse_duration(rule.warn_after):
                status = "warn"
            if age is not None and rule.error_after and age > parse_duration(rule.error_after):
                status = "error"
        out.append({"table": table, "rows": int(row["rows"]),
                    "newest_row": None if newest is None else newest.isoformat(sep=" "),
                    "last_load": None if last_load.get(table) is None else last_load[table].isoformat(sep=" "),
                    "measured": field, "age_seconds": age,
                    "warn_after": rule.warn_after if rule else None, "error_after": rule.error_after if rule else None,
                    "status": status})
    return out
