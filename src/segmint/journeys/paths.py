"""Sessions and paths: the most common sequences of steps, from a chosen start or to a chosen end.

A *session* is a run of a customer's steps (events, and ``order`` for a purchase) with no gap
longer than ``journeys.session_gap_minutes`` (30 by default). Within a session, path cleaning
first renames events by ``journeys.groups`` (regular expressions) and, with
``journeys.collapse_repeats``, counts a step repeated in a row once. A session's *path* is then:

* with ``start``: the first occurrence of ``start`` and up to ``length - 1`` steps after it;
* with ``end``: the first occurrence of ``end`` and up to ``length - 1`` steps before it;
* with both: from the first ``start`` to the first ``end`` after it, when at most ``length`` steps apart;
* with neither: the session's first ``length`` steps.

Sessions without the chosen step have no path. Given a step stream, on DuckDB, the engine sorts it once
and NumPy counts the paths from the sorted rows, batch by batch (:mod:`segmint.journeys.path_scan`);
elsewhere, or given sessions already marked by :func:`mark_sessions`, the engine finds them with two
window passes over each customer's stream (``lag`` for the gaps and repeats; then ``lead``/``lag`` for
the steps of a path and running maxima to find each session's first ``start``). Either way only the
counts per path come back, and both give the same counts.

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
from segmint.journeys import path_scan

__all__ = ["mark_sessions", "sessionise", "top_paths", "paths_by_segment", "MAX_LENGTH"]

MAX_LENGTH = 5
#: The inactivity that ends a session unless told otherwise (``journeys.session_gap_minutes``: 30).
DEFAULT_GAP_SECONDS = 30 * 60.0


def mark_sessions(stream: ir.Table, gap_seconds: float, collapse_repeats: bool = True) -> ir.Table:
    """The step stream with ``new`` (1 on the first step of each session, else 0): one window pass.

    With ``collapse_repeats`` a step equal to the previous one of the same session is dropped. The
    session starts are found on the whole stream first, so dropping a repeat never splits a session.
    This is what :func:`top_paths` needs; :func:`sessionise` adds session numbers and positions.
    """
    w = ibis.window(group_by=stream.customer_id, order_by=[stream.t, stream.step])
    s = stream.mutate(_prev_t=stream.t.lag().over(w), _prev_step=stream.step.lag().over(w))
    new = s._prev_t.isnull() | ((s.t - s._prev_t) > float(gap_seconds))
    s = s.mutate(new=new.cast("int8"))
    if collapse_repeats:
        s = s.filter((s.new == 1) | (s.step != s._prev_step))
    return s.drop("_prev_t", "_prev_step")


def sessionise(stream: ir.Table, gap_seconds: float, collapse_repeats: bool = True) -> ir.Table:
    """Add ``new``, ``session`` (1, 2... per customer) and ``pos`` (0, 1... within it) to a step stream.

    With ``collapse_repeats`` a step equal to the previous one of the same session is dropped.
    (:func:`top_paths` needs only :func:`mark_sessions`' ``new``, which costs one sort instead of three.)
    """
    s = mark_sessions(stream, gap_seconds, collapse_repeats)
    cw = ibis.cumulative_window(group_by=s.customer_id, order_by=[s.t, s.step])
    s = s.mutate(session=s.new.cast("int64").sum().over(cw))
    pw = ibis.window(group_by=[s.customer_id, s.session], order_by=[s.t, s.step])
    return s.mutate(pos=ibis.row_number().over(pw))


def _path_rows(s: ir.Table, start: str | None, end: str | None, length: int) -> ir.Table:
    """One row per session with a path: ``customer_id``, ``s0``..``s{length-1}`` (the steps) and ``_first``.

    One window pass over :func:`mark_sessions`' rows (one sort per customer's stream): the path's
    *anchor* row is the session's first ``start`` (or first ``end``, or its first step), and the other
    steps are the ``lead`` (or ``lag``) rows before the next session start. A row is its session's
    first ``start`` when it begins the session or the latest session start or ``start`` before it
    (one running maximum) was a session start: no session numbers are needed. ``_first`` is 1 on each
    customer's earliest path (it counts the customers).
    With both ``start`` and ``end`` the path runs from the first ``start`` to the first ``end`` after
    it, when that is at most ``length`` steps from it. With neither, a path is a session's first steps.
    End-aligned paths put the ``end`` at ``s{length-1}`` (the Sankey's last column).
    """
    w = ibis.window(group_by=s.customer_id, order_by=[s.t, s.step])
    before = ibis.window(group_by=s.customer_id, order_by=[s.t, s.step], rows=(None, -1))
    keys = [f"s{i}" for i in range(length)]
    anchor_step = start if start is not None else end
    cols: dict[str, Any] = {}
    if anchor_step is not None:
        # the latest session start or anchor-step row before this one, as 2 x its second (+1 for an anchor):
        # one running maximum says which came last (a session start's second is never an earlier row's, as
        # sessions are split by gaps of a minute or more, so at equal seconds the anchor came after it)
        is_anchor = s.step == anchor_step
        key = s.t.floor().cast("int64") * 2 + is_anchor.cast("int64")
        cols["_latest"] = ibis.ifelse((s.new == 1) | is_anchor, key, ibis.null("int64")).max().over(before)
    backward = start is None and end is not None
    for j in range(1, length):
        if backward:  # the row j back is in the session when no row after it, up to this one, starts one
            cols[f"_l{j}"] = s.step.lag(j).over(w)
            cols[f"_n{j}"] = s.new if j == 1 else s.new.lag(j - 1).over(w)
        else:  # the row j ahead is in the session when neither it nor a row before it starts one
            cols[f"_l{j}"] = s.step.lead(j).over(w)
            cols[f"_n{j}"] = s.new.lead(j).over(w)
    r = s.mutate(**cols)  # every window in one projection: the engine sorts each customer's stream once
    if anchor_step is None:
        r = r.filter(r.new == 1)
    else:
        r = r.filter((r.step == anchor_step) & ((r.new == 1) | r._latest.isnull() | (r._latest % 2 == 0)))
    alive: list[ir.BooleanValue] = []
    ok = ibis.literal(True)
    for j in range(1, length):
        ok = ok & (r[f"_n{j}"].fill_null(1) == 0) & r[f"_l{j}"].notnull()
        alive.append(ok)
    if start is not None and end is not None:
        if start == end:
            return _firsts(r.select("customer_id", "t", s0=r.step, **{k: ibis.null("string") for k in keys[1:]}))
        hits = [alive[j - 1] & (r[f"_l{j}"] == end) for j in range(1, length)]
        found = ibis.literal(False)
        out: dict[str, Any] = {"s0": r.step}
        for j in range(1, length):
            out[keys[j]] = ibis.ifelse(alive[j - 1] & ~found, r[f"_l{j}"], ibis.null("string"))
            found = found | hits[j - 1]
        return _firsts(r.filter(found).select("customer_id", "t", **out))
    steps = {keys[j]: ibis.ifelse(alive[j - 1], r[f"_l{j}"], ibis.null("string")) for j in range(1, length)}
    if backward:  # the end last, the steps before it to its left
        steps = {keys[length - 1 - j]: v for j, v in zip(range(1, length), steps.values())}
        steps[keys[length - 1]] = r.step
    else:
        steps["s0"] = r.step
    return _firsts(r.select("customer_id", "t", **{k: steps[k] for k in keys}))


def _firsts(paths: ir.Table) -> ir.Table:
    """``_first``: 1 on each customer's earliest path (they count the customers), ``t`` dropped.

    A customer's paths begin at distinct times (each in its own session), so the earliest is one row.
    """
    earliest = paths.t.min().over(ibis.window(group_by=paths.customer_id))
    return paths.mutate(_first=(paths.t == earliest).cast("int64")).drop("t")


def top_paths(sessions: ir.Table, start: str | None = None, end: str | None = None, length: int = MAX_LENGTH,
              top: int = 10, members: ir.Table | None = None, segment: str | None = None, *,
              gap_seconds: float = DEFAULT_GAP_SECONDS, collapse_repeats: bool = True) -> dict[str, Any]:
    """The most common paths of the sessions (of one segment's members), and the Sankey links between steps.

    Parameters
    ----------
    sessions : ibis.Table
        A step stream (:func:`segmint.journeys.steps.step_stream`'s output): its sessions are marked here,
        with ``gap_seconds`` and ``collapse_repeats``, on DuckDB in one sorted scan
        (:mod:`segmint.journeys.path_scan`), elsewhere by :func:`mark_sessions`. Or sessions already marked:
        :func:`mark_sessions`' output (or :func:`sessionise`'s, which holds the same ``new`` column), whose
        paths the engine's window functions find.
    start, end : str, optional
        Paths from the first ``start`` / to the first ``end`` of each session.
    length : int
        Steps per path, 2 to :data:`MAX_LENGTH`.
    top : int
        Paths returned (the Sankey's links cover every path, not only these).
    members, segment : optional
        ``customer_id``, ``segment``: only the sessions of this segment's members.
    gap_seconds, collapse_repeats : optional
        How a step stream is cut into sessions (ignored for sessions already marked).

    Returns
    -------
    dict
        ``sessions`` (with a path), ``customers``, ``paths`` (``steps``, ``sessions``, ``customers``,
        ``share`` of the sessions) and ``sankey`` (``nodes``: ``"i. step"``; ``links``: source, target, value).
    """
    _check(length, top)
    m = None
    if members is not None:
        m = members if segment is None else members.filter(members.segment == segment)
        m = m.select("customer_id", segment=ibis.literal(""))
    return _grouped(sessions, m, start, end, int(length), int(top), gap_seconds, collapse_repeats).get(
        "", dict(_EMPTY))


_EMPTY = {"sessions": 0, "customers": 0, "paths": [], "sankey": {"nodes": [], "links": []}}


def _check(length: int, top: int) -> None:
    if not 2 <= int(length) <= MAX_LENGTH:
        raise ConfigError(f"a path has 2 to {MAX_LENGTH} steps, got --length {length}")
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")


def _grouped(s: ir.Table, members: ir.Table | None, start: str | None, end: str | None, length: int, top: int,
             gap_seconds: float = DEFAULT_GAP_SECONDS, collapse_repeats: bool = True) -> dict[str, dict[str, Any]]:
    """Per ``segment`` of ``members`` (or one segment ``""``): the top paths, totals and Sankey links.

    The distinct paths per segment are counted (as many rows as distinct paths, not customers): in one
    sorted scan for a step stream on DuckDB (:func:`segmint.journeys.path_scan.count_paths`), otherwise by
    the engine's window functions in one query. The top ones, the session totals and the links between
    positions are summed from those counts here.
    """
    counted = None
    if "new" not in s.columns:  # a step stream: its sessions are marked here
        if path_scan.scannable(s):
            counted = path_scan.count_paths(s, gap_seconds, collapse_repeats, start, end, length, members)
        if counted is None:
            s = mark_sessions(s, gap_seconds, collapse_repeats)
    if counted is None:
        counted = _counted_in_engine(s, members, start, end, length)
    keys = [f"s{i}" for i in range(length)]
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


def _counted_in_engine(s: ir.Table, members: ir.Table | None, start: str | None, end: str | None,
                       length: int) -> list[dict[str, Any]]:
    """The distinct paths per segment with ``sessions``, ``customers`` and ``firsts``, by window functions.

    The paths are found before the members are joined (a join of the path rows, not of every event).
    """
    rows = _path_rows(s.select("customer_id", "t", "step", "new"), start, end, length)
    if members is None:
        rows = rows.mutate(segment=ibis.literal(""))
    else:
        rows = rows.join(members.select("customer_id", "segment"), "customer_id")
    keys = [f"s{i}" for i in range(length)]
    return (rows.group_by(["segment", *keys])
            .aggregate(sessions=rows.count(), customers=rows.customer_id.nunique(), firsts=rows._first.sum())
            .to_pyarrow().to_pylist())


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
                     length: int = MAX_LENGTH, top: int = 10, *, gap_seconds: float = DEFAULT_GAP_SECONDS,
                     collapse_repeats: bool = True) -> dict[str, dict[str, Any]]:
    """:func:`top_paths` for every segment of ``members`` at once (one pass over the stream, not one per segment).

    Returns
    -------
    dict
        Segment -> what :func:`top_paths` returns for it.
    """
    _check(length, top)
    found = _grouped(sessions, members, start, end, int(length), int(top), gap_seconds, collapse_repeats)
    segments = sorted(r["segment"] for r in members.select("segment").distinct().to_pyarrow().to_pylist())
    return {seg: found.get(seg, dict(_EMPTY)) for seg in segments}
