"""Funnels: how many customers go from step 1 to step 2 to ... within a time window, in the engine.

Every customer's steps are one ordered stream (:func:`segmint.journeys.steps.step_stream`: events,
and ``order`` for a purchase). A customer *enters* the funnel with any event of step 1 and
*reaches* step ``k`` when, within ``within`` seconds of a step-1 event, the steps 1..k happened:

``ordered`` (default)
    in that order; other events may come between them.
``strict``
    in that order, each step the very next event of the customer's stream (orders included).
``any``
    in any order, all within one window of ``within`` seconds.

How it runs: in the engine, never a Python loop over customers or a self-join. For ``ordered``,
each step-``k`` event carries the latest
step-1 time (*anchor*) of a valid chain before it: the running maximum, over the rows before it,
of the anchors of valid step-``k-1`` events; the event is valid when ``t - anchor <= within``.
Taking the latest anchor is optimal: any chain ``s1 < s2 < ... < sk`` has, at each step, a
valid predecessor whose anchor is at least ``s1``. On DuckDB that is one as-of join per step (each
step's events to the latest valid event of the step before: anchors only grow along a customer's
stream, so the latest carries the largest); elsewhere (Spark: Ibis has no as-of join there) a window
pass per step over the customer's stream computes the same. ``strict`` does the same with ``lag`` (the
previous event only); ``any`` looks back ``within`` seconds from every event with a range window
and counts which steps it holds.

The time between steps is that of each converting customer's first completion of the step (from
the chain's previous step); ``any`` has no order, so no time between steps.

Examples
--------
>>> import pandas as pd, ibis
>>> ev = ibis.memtable(pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
...     "occurred_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-03-01", "2024-01-05"]),
...     "event": ["web_visit", "email_click", "web_visit", "email_click", "email_click"]}))
>>> f = funnel(ev, None, ["web_visit", "email_click"], within=14 * 86400)
>>> [(s["step"], s["customers"]) for s in f["overall"]]
[('web_visit', 2), ('email_click', 1)]
>>> f["overall"][1]["median_hours_from_previous"]
24.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.errors import ConfigError
from segmint.intervals import wilson  # re-exported: one implementation for every layer
from segmint.journeys.steps import on_duckdb, step_rows, step_stream

__all__ = ["funnel", "customer_levels", "wilson", "ORDERS", "MAX_STEPS"]

ORDERS = ("strict", "ordered", "any")
MAX_STEPS = 10


def _check(steps: Sequence[str], order: str, within: float) -> list[str]:
    steps = [s.strip() for s in steps if s and s.strip()]
    if len(steps) < 2:
        raise ConfigError(f"a funnel needs at least two steps, got {steps}; e.g. --steps web_visit,email_click,order")
    if len(steps) > MAX_STEPS:
        raise ConfigError(f"a funnel has at most {MAX_STEPS} steps, got {len(steps)}")
    if len(set(steps)) != len(steps):
        dup = sorted({s for s in steps if steps.count(s) > 1})
        raise ConfigError(f"a funnel step may appear once; repeated: {', '.join(dup)}")
    if order not in ORDERS:
        raise ConfigError(f"--order must be one of {', '.join(ORDERS)}, got {order!r}")
    if not within > 0:
        raise ConfigError(f"the funnel's window must be positive, got {within} seconds")
    return steps


def customer_levels(stream: ir.Table, steps: Sequence[str], within: float, order: str = "ordered") -> ir.Table:
    """Per customer who entered: ``level`` (the last step reached, 1..n) and ``gap_<k>`` (seconds from step k-1).

    ``stream`` is a step stream (``customer_id``, ``t`` in seconds, ``step``).
    """
    steps = _check(steps, order, within)
    n = len(steps)
    idx = ibis.cases(*[(stream.step == s, i + 1) for i, s in enumerate(steps)], else_=ibis.null("int64"))
    s = stream.mutate(idx=idx)
    W = float(within)
    if order != "strict":
        s = s.filter(s.idx.notnull())
    if order == "any":
        return _any_levels(s, n, W)
    if order == "ordered" and _has_asof_join(stream):
        return _ordered_levels([s.filter(s.idx == k).select("customer_id", "t") for k in range(1, n + 1)], W)
    s = s.mutate(anchor=ibis.ifelse(s.idx == 1, s.t, ibis.null("float64")), gap=ibis.null("float64"))
    if order == "ordered":
        w = ibis.window(group_by=s.customer_id, order_by=[s.t, s.idx], rows=(None, -1))
    else:  # strict: the previous event of the whole stream, ties broken by step name
        w = ibis.window(group_by=s.customer_id, order_by=[s.t, s.step])
    for k in range(2, n + 1):
        prev_ok = (s.idx == k - 1) & s.anchor.notnull()
        if order == "ordered":
            pa = ibis.ifelse(prev_ok, s.anchor, ibis.null("float64")).max().over(w)
            pt = ibis.ifelse(prev_ok, s.t, ibis.null("float64")).max().over(w)
        else:
            pa = ibis.ifelse(prev_ok, s.anchor, ibis.null("float64")).lag().over(w)
            pt = s.t.lag().over(w)
        s = s.mutate(_pa=pa, _pt=pt)
        ok = (s.idx == k) & s._pa.notnull() & ((s.t - s._pa) <= W)
        s = s.mutate(anchor=ibis.ifelse(s.idx == k, ibis.ifelse(ok, s._pa, ibis.null("float64")), s.anchor),
                     gap=ibis.ifelse(ok, s.t - s._pt, s.gap)).drop("_pa", "_pt")
    valid = s.filter(s.anchor.notnull())
    aggs: dict[str, Any] = {"level": valid.idx.max()}
    for k in range(2, n + 1):
        aggs[f"gap_{k}"] = valid.gap.argmin(valid.t, where=valid.idx == k)
    return valid.group_by("customer_id").aggregate(**aggs)


def _has_asof_join(table: ir.Table) -> bool:
    """Whether the table's engine runs Ibis' as-of joins (DuckDB does; Ibis has none for Spark)."""
    return on_duckdb(table)


def _ordered_levels(rows: Sequence[ir.Table], W: float) -> ir.Table:
    """``ordered`` levels from each step's rows (``customer_id``, ``t``): an as-of join per step.

    Step ``k``'s events are joined to the latest valid step-``k-1`` event at or before them (same
    customer): its anchor is the latest one any valid chain offers, because anchors never decrease
    along a customer's valid events (each is a running maximum), so the latest valid predecessor
    carries the largest. Each join sorts only two steps' events, not every step's; the result is
    the window version's (tested against it).
    """
    first = rows[0]
    prev = first.select("customer_id", "t", anchor=first.t, gap=ibis.null("float64"), idx=ibis.literal(1))
    parts = [prev]
    for k, cur in enumerate(rows[1:], start=2):
        j = cur.asof_join(prev, on=cur.t >= prev.t, predicates=cur.customer_id == prev.customer_id)
        step = j.select(customer_id=cur.customer_id, t=cur.t, anchor=prev.anchor, gap=cur.t - prev.t,
                        idx=ibis.literal(k))
        step = step.filter(step.anchor.notnull() & ((step.t - step.anchor) <= W))
        parts.append(step)
        prev = step
    valid = ibis.union(*parts, distinct=False)
    aggs: dict[str, Any] = {"level": valid.idx.max()}
    for k in range(2, len(rows) + 1):
        aggs[f"gap_{k}"] = valid.gap.argmin(valid.t, where=valid.idx == k)
    return valid.group_by("customer_id").aggregate(**aggs)


def _any_levels(s: ir.Table, n: int, W: float) -> ir.Table:
    w = ibis.range_window(group_by=s.customer_id, order_by=s.t, preceding=W, following=0)
    has = {k: (s.idx == k).cast("int8").max().over(w) for k in range(1, n + 1)}
    s = s.mutate(**{f"_h{k}": v for k, v in has.items()})
    level = ibis.literal(0)
    run = ibis.literal(True)
    for k in range(1, n + 1):
        run = run & (s[f"_h{k}"] == 1)
        level = level + run.cast("int64")
    s = s.mutate(level=level)
    entered = s.filter(s.level >= 1)
    aggs: dict[str, Any] = {"level": entered.level.max()}
    for k in range(2, n + 1):
        aggs[f"gap_{k}"] = ibis.null("float64")
    return entered.group_by("customer_id").aggregate(**aggs)


def _rows(steps: Sequence[str], counts: Mapping[int, int], medians: Mapping[int, float | None]) -> list[dict]:
    entered = counts.get(1, 0)
    out = []
    for k, step in enumerate(steps, start=1):
        n_k = counts.get(k, 0)
        prev = counts.get(k - 1, 0) if k > 1 else entered
        lo, hi = wilson(n_k, entered)
        plo, phi = wilson(n_k, prev)
        med = medians.get(k)
        out.append({
            "step": step, "customers": n_k,
            "conversion": n_k / entered if entered else None, "conversion_low": lo, "conversion_high": hi,
            "from_previous": n_k / prev if prev else None, "from_previous_low": plo, "from_previous_high": phi,
            "drop_off": (prev - n_k) if k > 1 else 0,
            "median_hours_from_previous": None if med is None or k == 1 else round(med / 3600, 3),
        })
    return out


def funnel(events: ir.Table | None, orders: ir.Table | None, steps: Sequence[str], within: float = 30 * 86400,
           order: str = "ordered", members: ir.Table | None = None, groups: Mapping[str, str] | None = None,
           as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Conversion per step (with Wilson intervals), median time between steps, drop-off, per segment.

    Parameters
    ----------
    events, orders : ibis.Table or None
        The store's tables; an order is the step ``order``.
    steps : sequence of str
        Two to ten step names (event names after cleaning, or ``order``).
    within : float
        Seconds from a step-1 event in which the later steps must happen.
    order : {"ordered", "strict", "any"}
    members : ibis.Table, optional
        ``customer_id``, ``segment``: a breakdown per segment (customers outside it are left out).
    groups : mapping, optional
        Path cleaning rules (``journeys.groups``).
    as_of : datetime, optional
        Only what happened before it.

    Returns
    -------
    dict
        ``steps``, ``order``, ``within_seconds``, ``overall`` (a row per step: ``customers``,
        ``conversion`` from step 1 with ``conversion_low``/``_high``, ``from_previous`` with its interval,
        ``drop_off``, ``median_hours_from_previous``) and ``segments`` (segment -> the same rows).
    """
    steps = _check(steps, order, within)
    if order == "ordered" and _has_asof_join(events if events is not None else orders):
        # each step read from the tables with its own filter: no stream of every step is ever held
        levels = _ordered_levels([step_rows(events, orders, s, groups, as_of) for s in steps], float(within))
    else:
        levels = customer_levels(step_stream(events, orders, groups, as_of), steps, within, order)
    if members is not None:  # read twice (overall, per segment): computed once, kept as a temporary table
        levels = levels.cache()
    result: dict[str, Any] = {"steps": steps, "order": order, "within_seconds": float(within),
                              "overall": _summarise(levels, steps, None), "segments": {}}
    if members is not None:
        joined = levels.join(members.select("customer_id", "segment"), "customer_id")
        result["segments"] = _summarise(joined, steps, "segment")
    return result


def _summarise(levels: ir.Table, steps: Sequence[str], by: str | None) -> Any:
    n = len(steps)
    aggs: dict[str, Any] = {f"n{k}": (levels.level >= k).cast("int64").sum() for k in range(1, n + 1)}
    aggs.update({f"m{k}": levels[f"gap_{k}"].median() for k in range(2, n + 1)})
    grouped = levels.group_by(by).aggregate(**aggs) if by else levels.aggregate(**aggs)
    rows = grouped.to_pyarrow().to_pylist()

    def one(r: dict) -> list[dict]:
        counts = {k: int(r[f"n{k}"] or 0) for k in range(1, n + 1)}
        medians = {k: (None if r[f"m{k}"] is None else float(r[f"m{k}"])) for k in range(2, n + 1)}
        return _rows(steps, counts, medians)

    if by is None:
        return one(rows[0] if rows else {})
    return {str(r[by]): one(r) for r in sorted(rows, key=lambda r: str(r[by]))}
