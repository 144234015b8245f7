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
* for figures that read orders and feature snapshots (KPIs), the orders of the period each figure
  covers (:func:`period_fingerprints`: a late, corrected or erased order in a past period changes that
  period's key alone, and a day's new orders change none of the past ones) and the feature settings;
  a feature snapshot stored again at a date that had one clears the KPIs and the drift
  (:func:`clear`), as they read its values;
* for drift, the features compared and the drift settings.

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
import numpy as np
import pyarrow as pa

__all__ = ["TABLE", "clear", "data_state", "period_fingerprints", "remember_many", "run_key"]

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


#: Period boundaries off midnight that :func:`period_fingerprints` tells apart within a day (one group key each).
MAX_ODD_BOUNDARIES = 32
_FOLD = 2_147_483_629  # a prime below 2**31


def period_fingerprints(store, table: str, time_column: str, columns: Sequence[str],
                        periods: Sequence[tuple[dt.datetime, dt.datetime]]) -> list[str] | None:
    """A text per period ``[start, end)`` that changes when a row of ``table`` timed in it is added, changed or
    removed (a row's ``columns`` are what it hashes), or None when the periods' boundaries are too fine to tell.

    One aggregate over the table: rows grouped by day, and within a day by which side of each boundary off
    midnight they lie on, each group's row count, the sum of its rows' hashes and its earliest time. No group
    straddles a boundary, so a period holds exactly the groups whose earliest time lies in it; its text is
    their count and sum (prefix sums over the groups in time order). The cost is one scan of the table
    whatever the number of periods, where a figure kept under the whole table's state is computed again
    after every load: a daily refresh ingests orders every day, and each one made every past period's KPIs
    stale although none of their orders had changed.

    Examples
    --------
    >>> import datetime as dt, ibis, pandas as pd
    >>> class Store:  # the one method this function needs
    ...     def __init__(self, frame): self.t = ibis.memtable(frame)
    ...     def table(self, name): return self.t
    >>> o = pd.DataFrame({"order_id": ["1", "2"], "at": pd.to_datetime(["2024-01-05", "2024-02-03"]),
    ...                   "amount": [10.0, 20.0]})
    >>> jan, feb, mar = (dt.datetime(2024, m, 1) for m in (1, 2, 3))
    >>> periods = [(jan, feb), (feb, mar)]
    >>> before = period_fingerprints(Store(o), "orders", "at", ["order_id", "amount"], periods)
    >>> late = pd.concat([o, pd.DataFrame({"order_id": ["3"], "at": pd.to_datetime(["2024-02-20"]), "amount": [5.0]})])
    >>> after = period_fingerprints(Store(late), "orders", "at", ["order_id", "amount"], periods)
    >>> before[0] == after[0], before[1] == after[1]
    (True, False)
    """
    if not periods:
        return []
    t = store.table(table)
    cols = [c for c in columns if c in t.columns]
    bounds = sorted({b for p in periods for b in p})
    odd = [b for b in bounds if b != dt.datetime.combine(b.date(), dt.time())]
    if len(odd) > MAX_ODD_BOUNDARIES:
        return None
    first, n, total = _groups(store, t, table, time_column, cols, odd)
    out = []
    for start, end in periods:
        lo, hi = np.searchsorted(first, [np.datetime64(start, "us"), np.datetime64(end, "us")], "left")
        out.append(f"{int(n[hi] - n[lo])}:{int(total[hi] - total[lo])}")
    return out


#: The groups of the last few :func:`period_fingerprints` scans, under the table's state (a refresh asks once
#: per segmentation, for the same orders).
_GROUPS: dict[tuple, tuple] = {}


def _groups(store, t, table: str, time_column: str, cols: list[str], odd: list[dt.datetime]):
    """Each group's earliest time, and the prefix sums of the groups' counts and hash sums, in time order."""
    memo = None
    if hasattr(store, "count"):  # a real store: its state says whether a scan made earlier still holds
        memo = (str(getattr(store, "path", id(store))), data_state(store, (table,)), table, time_column,
                tuple(cols), tuple(odd))
        if memo in _GROUPS:
            return _GROUPS[memo]
    at = t[time_column]
    sides = {f"_b{i}": at >= ibis.literal(b, type="timestamp") for i, b in enumerate(odd)}
    # each row's hash folded to 31 bits (every engine's hash fits, Spark's is 32 bits) and summed: sums of
    # up to 2**32 rows fit in 64 bits; Ibis has no XOR aggregate on Spark
    folded = ibis.struct({c: t[c] for c in cols}).hash().cast("int64") % _FOLD
    rows = t.filter(at.notnull()).mutate(_day=at.truncate("D"), **sides, _h=folded)
    groups = (rows.group_by(["_day", *sides])
              .aggregate(_n=rows.count(), _s=rows._h.sum(), _t=rows[time_column].min())
              .select("_n", "_s", "_t").order_by("_t").to_pyarrow())
    first = groups.column("_t").to_numpy().astype("datetime64[us]")
    n = np.concatenate([[0], np.cumsum(groups.column("_n").to_numpy().astype(np.int64))])
    total = np.concatenate([[0], np.cumsum(groups.column("_s").to_numpy().astype(np.int64))])
    if memo is not None:
        while len(_GROUPS) >= 4:
            _GROUPS.pop(next(iter(_GROUPS)))
        _GROUPS[memo] = (first, n, total)
    return first, n, total


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
FIGURES = ("transitions", "kpis", "drift")
#: The figures that read feature snapshots: a snapshot stored again clears them.
SNAPSHOT_FIGURES = ("kpis", "drift")


def clear(store, figures: Sequence[str] = FIGURES) -> None:
    """Drop the kept ``figures`` (every one by default; inside the caller's transaction): an erasure or a
    retention purge took rows away, a feature snapshot was stored again (:data:`SNAPSHOT_FIGURES`), and figures computed
    with what changed go too; they are computed again when next asked for."""
    if TABLE in store.con.list_tables():
        for figure in figures:
            store.delete_rows(TABLE, figure=figure)
