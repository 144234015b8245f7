"""The step stream behind funnels and paths: events and orders as one table of ``(customer_id, at, step)``.

An order (not a return) is the step ``order``; every event is the step named by its ``event``
column, after the path cleaning rules (``journeys.groups``: a regular expression per step name,
the first match wins). Everything stays an Ibis expression.

Examples
--------
>>> parse_window("14d"), parse_window("36h"), parse_window("2w"), parse_window("90min")
(1209600, 129600, 1209600, 5400)
>>> parse_window("soon")
Traceback (most recent call last):
...
segmint.errors.ConfigError: --within 'soon' is not a duration; write it as a number and a unit: 30min, 12h, 14d or 2w
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

from segmint.errors import ConfigError, DataError, UnknownNameError, did_you_mean

__all__ = ["ORDER_STEP", "parse_window", "step_stream", "step_rows", "clean_steps", "check_steps", "on_duckdb"]

#: The step name of an order (a purchase, not a return).
ORDER_STEP = "order"
_UNITS = {"min": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_WINDOW = re.compile(r"\s*(\d+)\s*(min|h|d|w)\s*")


def parse_window(text: str) -> int:
    """A duration such as ``14d``, ``36h``, ``2w`` or ``90min``, in seconds."""
    m = _WINDOW.fullmatch(str(text))
    if m is None or int(m.group(1)) == 0:
        raise ConfigError(f"--within {text!r} is not a duration; write it as a number and a unit: "
                          "30min, 12h, 14d or 2w")
    return int(m.group(1)) * _UNITS[m.group(2)]


def clean_steps(name: ir.StringValue, groups: Mapping[str, str]) -> ir.StringValue:
    """``name`` renamed by the first matching regular expression of ``groups`` (kept when none matches)."""
    if not groups:
        return name
    return ibis.cases(*[(name.re_search(pattern), ibis.literal(step)) for step, pattern in groups.items()],
                      else_=name)


def step_stream(events: ir.Table | None, orders: ir.Table | None, groups: Mapping[str, str] | None = None,
                as_of: dt.datetime | None = None) -> ir.Table:
    """Events and purchases as ``customer_id``, ``at`` (timestamp), ``t`` (epoch seconds, float), ``step``.

    Parameters
    ----------
    events, orders : ibis.Table or None
        The store's ``events`` and ``orders`` tables (either may be missing).
    groups : mapping of str to str, optional
        Path cleaning: step name -> regular expression on the event name.
    as_of : datetime, optional
        Only what happened strictly before it.

    Raises
    ------
    DataError
        Neither table holds a row.
    """
    stream = _steps(events, orders, groups, as_of)
    return stream.mutate(t=stream.at.epoch_seconds().cast("float64"))


def step_rows(events: ir.Table | None, orders: ir.Table | None, step: str, groups: Mapping[str, str] | None = None,
              as_of: dt.datetime | None = None) -> ir.Table:
    """The rows of one step of :func:`step_stream` (``customer_id``, ``t``), filtered in each table's own scan.

    The same rows as ``step_stream(...).filter(step == ...)``, built so that the engine reads each
    table once per step and never holds the whole stream: a stream filtered several ways would be
    one common expression, which the engine materialises.
    """
    rows = _steps(events, orders, groups, as_of, step)
    return rows.select("customer_id", t=rows.at.epoch_seconds().cast("float64"))


def _steps(events: ir.Table | None, orders: ir.Table | None, groups: Mapping[str, str] | None,
           as_of: dt.datetime | None, only: str | None = None) -> ir.Table:
    """``customer_id``, ``at``, ``step`` of both tables (of step ``only``), each table with one filter.

    One filter per table, not one per condition: several steps' rows read from the same tables then share
    nothing but the tables themselves (a shared filtered table would be materialised once for all).
    """
    if events is None and orders is None:
        raise DataError("no events and no orders are stored; ingest them first "
                        "(`segmint ingest events FILE`, `segmint ingest orders FILE`)")
    parts = []
    if events is not None:
        keep = [] if as_of is None else [events.occurred_at < ibis.literal(as_of, type="timestamp")]
        if only is not None:
            keep.append(clean_steps(events.event, groups or {}) == only)
        e = events.filter(*keep) if keep else events
        parts.append(e.select(customer_id=e.customer_id, at=e.occurred_at, step=clean_steps(e.event, groups or {})))
    if orders is not None and only in (None, ORDER_STEP):
        keep = [~orders.returned.fill_null(False)]
        if as_of is not None:
            keep.append(orders.ordered_at < ibis.literal(as_of, type="timestamp"))
        o = orders.filter(*keep)
        parts.append(o.select(customer_id=o.customer_id, at=o.ordered_at, step=ibis.literal(ORDER_STEP)))
    if not parts:  # a step only events can hold, and no events: none of its rows
        o = orders.filter(ibis.literal(False))
        parts.append(o.select(customer_id=o.customer_id, at=o.ordered_at, step=ibis.literal(ORDER_STEP)))
    return parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)


def on_duckdb(table: ir.Table) -> bool:
    """Whether ``table``'s engine is DuckDB, where the funnel's as-of joins and the paths' sorted scan run.

    Everywhere else (Spark, or no backend to ask) the window functions, which every engine has.
    """
    try:
        return table._find_backend(use_default=True).name == "duckdb"
    except Exception:  # noqa: BLE001 - no backend to ask: the window functions
        return False


def check_steps(events: ir.Table | None, steps: Sequence[str | None], groups: Mapping[str, str] | None = None) -> None:
    """Raise when a step is neither ``order`` nor an event name (after cleaning) found in ``events``.

    Called when a funnel step reached nobody or a path search found nothing: a misspelt step would
    otherwise read as a real zero.

    Raises
    ------
    UnknownNameError
        Naming the step, the closest known one and how many event names there are.
    """
    known = {ORDER_STEP}
    if events is not None:
        names = events.select(step=clean_steps(events.event, groups or {})).distinct()
        known |= {r["step"] for r in names.to_pyarrow().to_pylist() if r["step"] is not None}
    for step in steps:
        if step is not None and step not in known:
            raise UnknownNameError(
                f"step {step!r} is not `order` and no stored event (after journeys.groups) has that name; "
                f"{did_you_mean(step, sorted(known))} ({len(known) - 1} event names in the events table)")
