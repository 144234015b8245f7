"""What a workspace holds: tables, row counts, date ranges, quarantine by reason."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from segmint.contracts import CONTRACTS
from segmint.ingest.checks import describe_reason

if TYPE_CHECKING:
    from segmint.store import Store

#: The time column that gives each table its date range.
TIME_COLUMNS = {"orders": "ordered_at", "order_items": "ordered_at", "events": "occurred_at",
                "responses": "answered_at", "customers": "signup_at"}


def workspace_status(store: Store, path: str | os.PathLike, name: str) -> dict[str, Any]:
    """Summarise ``store`` (of the workspace at ``path``, called ``name``) as a JSON-ready dict."""
    tables = []
    for table in CONTRACTS:
        t = store.table(table)
        aggs = {"rows": t.count()}
        col = TIME_COLUMNS.get(table)
        if col in t.columns:
            aggs["first"] = t[col].min()
            aggs["last"] = t[col].max()
        row = t.aggregate(**aggs).execute().iloc[0]
        tables.append({
            "table": table,
            "rows": int(row["rows"]),
            "first": None if row.get("first") is None or str(row.get("first")) == "NaT" else str(row["first"]),
            "last": None if row.get("last") is None or str(row.get("last")) == "NaT" else str(row["last"]),
        })
    q = store.table("quarantine")
    codes = q.select(table_name=q.table_name, code=q.reasons.split(",").unnest())
    by_reason = codes.group_by(["table_name", "code"]).aggregate(rows=codes.count()).order_by(
        ["table_name", ("rows")]).execute()
    quarantine = [
        {"table": r.table_name, "reason": r.code, "rows": int(r.rows), "description": describe_reason(r.code)}
        for r in by_reason.sort_values(["table_name", "rows"], ascending=[True, False]).itertuples()
    ]
    runs = store.table("ingest_runs").order_by("started_at").execute()
    from segmint.privacy.keys import folder_warnings

    return {
        "warnings": folder_warnings(path),
        "workspace": str(path),
        "name": name,
        "tables": tables,
        "quarantine_rows": int(q.count().execute()),
        "quarantine": quarantine,
        "ingest_runs": int(len(runs)),
    }
