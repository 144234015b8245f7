"""Sessions and paths: the most common sequences of steps, from a chosen start or to a chosen end.

A *session* is a run of a customer's steps (events, and ``order`` for a purchase) with no gap
longer than ``journeys.session_gap_minutes`` (30 by default). Within a session, path cleaning
first renames events by ``journeys.groups`` (regular expressions) and, with
``journeys.collapse_repeats``, counts a step repeated in a row once. A session's *path* is then:

* with ``start``: the first occurrence of ``start`` and up to ``length - 1`` steps after it;
* with ``end``: the first occurrence of ``end`` and up to ``length - 1`` steps before it;
* with both: from the first ``start`` to the first ``end`` after it, when at most ``length`` steps apart;
* with neither: the session's first ``length`` steps.

Sessions without the chosen step have no path. Everything runs in the engine with window
functions (``lag`` for the gaps, a running sum for the session number, ``row_number`` for the
position); only the counts per path come back.

Examples
--------
>>> import pandas as pd, ibis
>>> from segmint.journeys.steps import step_stream
>>> ev = ibis.memtable(pd.DataFrame({"customer_id": ["a"] * 4 + ["b"] * 3,
...     "occurred_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 10:06",
...                                    "2024-01-01 12:00", "2024-01-02 09:00", "2024-01-02 09:01",
...                                    "2024-01-02 09:02"]),
...     "event": ["web_visit", "web_visit", "email_click", "web_visit", "web_visit", "email_click", "app_open"]}))
>>> p = top_paths(sessionise(step_stream(ev, None), 30 * 60), start="web_visit", length=3)
>>> [(r["steps"], r["sessions"]) for r in p["paths"]]
[(['web_visit', 'email_click', 'app_open'], 1), (['web_visit', 'email_click'], 1), (['web_visit'], 1)]
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.errors import ConfigError

__all__ = ["sessionise", "top_paths", "paths_by_segment", "MAX_LENGTH"]

MAX_LENGTH = 5


def sessionise(stream: ir.Table, gap_seconds: float, collapse_repeats: bool = True) -> ir.Table:
    """Add ``session`` (1, 2... per customer) and ``pos`` (0, 1... within it) to a step stream.

    With ``collapse_repeats`` a step equal to the previous one of the same session is dropped.
    """
    w = ibis.window(group_by=stream.customer_id, order_by=[stream.t, stream.step])
    s = stream.mutate(_prev_t=stream.t.lag().over(w), _prev_step=stream.step.lag().over(w))
    new = s._prev_t.isnull() | ((s.t - s._prev_t) > float(gap_seconds))
    s = s.mutate(_new=new.cast("int64"))
    cw = ibis.cumulative_window(group_by=s.customer_id, order_by=[s.t, s.step])
    s = s.mutate(session=s._new.sum().over(cw))
    if collapse_repeats:
        s = s.filter((s._new == 1) | (s.step != s._prev_step))
    pw = ibis.window(group_by=[s.customer_id, s.session], order_by=[s.t, s.step])
    s = s.mutate(pos=ibis.row_number().over(pw))
    return s.drop("_prev_t", "_prev_step", "_new")


def _window_rows(s: ir.Table, start: str | None, end: str | None, length: int) -> ir.Table:
    """The rows of each session's path with ``rel`` (0..length-1), aligned at the start (or the end)."""
    part = ibis.window(group_by=[s.customer_id, s.session])
    if start is not None:
        s = s.mutate(_p0=ibis.ifelse(s.step == start, s.pos, ibis.null("int64")).min().over(part))
        s = s.filter(s._p0.notnull() & (s.pos >= s._p0))
    if end is not None:
        s = s.mutate(_p1=ibis.ifelse(s.step == end, s.pos, ibis.null("int64")).min().over(part))
        s = s.filter(s._p1.notnull() & (s.pos <= s._p1))
    if start is not None and end is not None:
        s = s.filter((s._p1 - s._p0) < length)
    if start is not None:
        return s.mutate(rel=s.pos - s._p0).filter(lambda r: r.rel < length)
    if end is not None:
        s = s.mutate(rel=(length - 1) - (s._p1 - s.pos))
        return s.filter(s.rel >= 0)
    return s.mutate(rel=s.pos).filter(lambda r: r.rel < length)


def top_paths(sessions: ir.Table, start: str | None = None, end: str | None = None, length: int = MAX_LENGTH,
              top: int = 10, members: ir.Table | None = None, segment: str | None = None) -> dict[str, Any]:
    """The most common paths of the sessions (of one segment's members), and the Sankey links between steps.

    Parameters
    ----------
    sessions : ibis.Table
        :func:`sessionise`'s output.
    start, end : str, optional
        Paths from the first ``start`` / to the first ``end`` of each session.
    length : int
        Steps per path, 2 to :data:`MAX_LENGTH`.
    top : int
        Paths returned (the Sankey's links cover every path, not only these).
    members, segment : optional
        ``customer_id``, ``segment``: only the sessions of this segment's members.

    Returns
    -------
    dict
        ``sessions`` (with a path), ``customers``, ``paths`` (``steps``, ``sessions``, ``customers``,
        ``share`` of the sessions) and ``sankey`` (``nodes``: ``"i. step"``; ``links``: source, target, value).
    """
    if not 2 <= int(length) <= MAX_LENGTH:
        raise ConfigError(f"a path has 2 to {MAX_LENGTH} steps, got --length {length}")
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    s = sessions
    if members is not None:
        m = members if segment is None else members.filter(members.segment == segment)
        s = s.join(m.select("customer_id"), "customer_id")
    return _grouped(s.mutate(segment=ibis.literal("")), start, end, int(length), int(top)).get("", dict(_EMPTY))


_EMPTY = {"sessions": 0, "customers": 0, "paths": [], "sankey": {"nodes": [], "links": []}}


def _grouped(s: ir.Table, start: str | None, end: str | None, length: int, top: int) -> dict[str, dict[str, Any]]:
    """Per ``segment`` of ``s``: the top paths, totals and Sankey links, from one query.

    The engine counts the distinct paths per segment (as many rows as distinct paths, not customers); the top
    ones, the session totals and the links between positions are summed from those counts here. The distinct
    customers with a path come from the same query: each customer's first session (by number) is flagged, and
    every customer has exactly one, so the flags summed over a segment's paths count its customers (a second
    query over the sessions would run the whole pipeline again).
    """
    rows = _window_rows(s, start, end, length)
    keys = [f"s{i}" for i in range(length)]
    per_session = rows.group_by(["segment", "customer_id", "session"]).aggregate(
        **{k: rows.step.max(where=rows.rel == i) for i, k in enumerate(keys)})
    first = ibis.row_number().over(ibis.window(group_by=[per_session.segment, per_session.customer_id],
                                               order_by=per_session.session)) == 0
    per_session = per_session.mutate(_first=first.cast("int64"))
    counted = (per_session.group_by(["segment", *keys])
               .aggregate(sessions=per_session.count(), customers=per_session.customer_id.nunique(),
                          firsts=per_session._first.sum())
               .to_pyarrow().to_pylist())
    people: dict[str, int] = {}
    by_segment: dict[str, list[dict]] = {}
    for r in counted:
        by_segment.setdefault(r["segment"], []).append(r)
        people[r["segment"]] = people.get(r["segment"], 0) + int(r["firsts"] or 0)
    out: dict[str, dict[str, Any]] = {}
    for seg, found in by_segment.items():
        n = sum(int(r["sessions"]) for r in found)
        # most sessions first; ties by the steps, a missing step after any step (as the engine sorts nulls last)
        found.sort(key=lambda r: (-r["sessions"], *[(r[k] is None, r[k] or "") for k in keys]))
        paths = [{"steps": [r[k] for k in keys if r[k] is not None], "sessions": int(r["sessions"]),
                  "customers": int(r["customers"]), "share": r["sessions"] / n if n else None} for r in found[:top]]
        out[seg] = {"sessions": n, "customers": people.get(seg, 0), "paths": paths, "sankey": _links(found, keys)}
    return out


def _links(found: list[dict], keys: list[str]) -> dict[str, Any]:
    """Sankey nodes (``"i. step"``) and links between consecutive positions, summed over the paths' counts."""
    values: dict[tuple[int, str, str], int] = {}
    for r in found:
        for i in range(len(keys) - 1):
            a, b = r[keys[i]], r[keys[i + 1]]
            if a is not None and b is not None:
                values[(i, a, b)] = values.get((i, a, b), 0) + int(r["sessions"])
    nodes: list[str] = []
    index: dict[str, int] = {}

    def node(label: str) -> int:
        if label not in index:
            index[label] = len(nodes)
            nodes.append(label)
        return index[label]

    links = [{"source": node(f"{i + 1}. {a}"), "target": node(f"{i + 2}. {b}"), "value": v}
             for (i, a, b), v in sorted(values.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1], kv[0][2]))]
    return {"nodes": nodes, "links": links}


def paths_by_segment(sessions: ir.Table, members: ir.Table, start: str | None = None, end: str | None = None,
                     length: int = MAX_LENGTH, top: int = 10) -> dict[str, dict[str, Any]]:
    """:func:`top_paths` for every segment of ``members`` at once (three queries, not three per segment).

    Returns
    -------
    dict
        Segment -> what :func:`top_paths` returns for it.
    """
    if not 2 <= int(length) <= MAX_LENGTH:
        raise ConfigError(f"a path has 2 to {MAX_LENGTH} steps, got --length {length}")
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    s = sessions.join(members.select("customer_id", "segment"), "customer_id")
    found = _grouped(s, start, end, int(length), int(top))
    segments = sorted(r["segment"] for r in members.select("segment").distinct().to_pyarrow().to_pylist())
    return {seg: found.get(seg, dict(_EMPTY)) for seg in segments}
