"""Monitoring figures of past runs, kept in the store: each computed once, then read back.

A segmentation refreshed daily gains a run a day, and the figures over its whole history (the
transitions between each pair of consecutive runs, the KPIs of each period) would otherwise be
computed again on every report, dashboard view and ``segmint monitor``: at a million customers
each pair costs a join of two runs' memberships (a fraction of a second), and a year of daily runs
made the report's monitoring section take minutes. A past pair's figures do not change unless one
of the two runs is stored again or the data under it changes, so they are kept in
``monitor_figures`` under a key that says exactly that:

* each run's identity: version, as_of, when it was stored, and its customer and row counts (a
  re-run, an erasure or a retention purge changes one of them);
* for figures that read orders and feature snapshots (KPIs), the data's state: the rows of orders,
  the count and time of the last ingest, and the feature settings.

A key that no longer matches is never read again; its row stays (one small row per run and figure;
the table is a cache that nothing but this module reads, and dropping it loses nothing), except that an
erasure or a retention purge clears the table (:func:`clear`): the figures computed with the rows they
took away go with them. The values are aggregates per segment (counts, sums, shares), never a
customer's row.

Examples
--------
>>> run_key({"version": 2, "as_of": "2025-07-01", "stored_at": None, "customers": 10, "rows": 10})
'2|2025-07-01|-|10|10'
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import pyarrow as pa

__all__ = ["TABLE", "clear", "data_state", "remember_many", "run_key"]

TABLE = "monitor_figures"
SCHEMA = pa.schema([("segmentation", pa.string()), ("figure", pa.string()), ("key", pa.string()),
                    ("value", pa.string()), ("computed_at", pa.timestamp("us"))])


def run_key(run: dict[str, Any]) -> str:
    """The identity of one stored run: version, as_of, stored_at, customers and rows."""
    stored = run.get("stored_at")
    return "|".join(str(x) for x in (run["version"], run["as_of"], "-" if stored is None else stored,
                                      run.get("customers"), run.get("rows")))


def data_state(store, tables: Sequence[str] = ("orders",), extra: Any = None) -> str:
    """The state of data a figure reads besides the runs: the rows of ``tables``, the ingests so far
    (their count and the last one's end: a corrected row changes no count), and ``extra``."""
    loads = store.table("ingest_runs")
    row = loads.aggregate(n=loads.count(), last=loads.finished_at.max()).to_pyarrow().to_pylist()[0]
    return json.dumps([[store.count(t) for t in tables], row["n"], str(row["last"]), extra], sort_keys=True,
                      default=str)


def _table(store):
    if TABLE not in store.con.list_tables():
        if getattr(store, "read_only", False):
            return None
        store.con.create_table(TABLE, schema=ibis.Schema.from_pyarrow(SCHEMA))
    return store.con.table(TABLE)


def remember_many(store, segmentation: str, figure: str, keys: Sequence[str],
                  build: Callable[[int], Any]) -> list[Any]:
    """The value of each key: read from the store where kept, else ``build(i)`` (i: the key's position), kept.

    One query reads every key asked; the new values are written in one insert. A read-only store
    computes what it lacks and keeps nothing.
    """
    t = _table(store)
    text: dict[str, str] = {}  # key -> the value as JSON, as kept
    if t is not None and keys:
        hit = t.filter((t.segmentation == segmentation) & (t.figure == figure) & t.key.isin(list(set(keys))))
        text = {r["key"]: r["value"] for r in hit.select("key", "value").to_pyarrow().to_pylist()}
    new = {}
    for i, key in enumerate(keys):
        if key not in text:
            text[key] = new[key] = json.dumps(build(i), sort_keys=True, default=str)
    if new and t is not None and not getattr(store, "read_only", False):
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows = [{"segmentation": segmentation, "figure": figure, "key": k, "computed_at": now, "value": v}
                for k, v in new.items()]
        store.con.insert(TABLE, ibis.memtable(pa.Table.from_pylist(rows, schema=SCHEMA)))
    # every value read from its JSON: one computed now is the same object a later read gives (tuples as lists)
    return [json.loads(text[key]) for key in keys]


#: Every figure this module keeps (what :func:`clear` deletes).
FIGURES = ("transitions", "kpis")


def clear(store) -> None:
    """Drop every kept figure (inside the caller's transaction): an erasure or a retention purge took rows
    away, and figures computed with them go too; they are computed again when next asked for."""
    if TABLE in store.con.list_tables():
        for figure in FIGURES:
            store.delete_rows(TABLE, figure=figure)
