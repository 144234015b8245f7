"""The JSON the API serves, built from :class:`~segmint.workspace.Workspace` calls.

The API routes and the dashboard both call these functions, so a page shows exactly
what the API returns. Nothing here computes segments or statistics: it calls the
workspace, turns its typed results (:mod:`segmint.segment.results`, the scorecard, the
profile: each has a ``to_dict()``) into plain JSON, and applies the serving rules
(consent, pagination, audit).

Examples
--------
>>> import numpy as np, pandas as pd
>>> jsonable({"n": np.int64(3), "x": float("nan"), "t": pd.Timestamp("2025-01-02")})
{'n': 3, 'x': None, 't': '2025-01-02T00:00:00'}
>>> jsonable(pd.DataFrame({"a": [1, 2]}))
[{'a': 1}, {'a': 2}]
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import math
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from segmint.errors import ConfigError, SegmintError, SnapshotMissing, UnknownNameError, did_you_mean

if TYPE_CHECKING:
    from segmint.segment.results import Why


# -- plain JSON -------------------------------------------------------------------------------
def jsonable(obj: Any) -> Any:
    """Plain JSON values from what workspace methods return (NaN and infinities become null)."""
    # The exact built-in types first, by identity: the same results as the general tests below,
    # without their isinstance chain (the one-customer look-up walks a few hundred values).
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if kind is dict:
        return {str(k): jsonable(v) for k, v in obj.items()}
    if kind is list:
        return [jsonable(v) for v in obj]
    if kind is float:
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.to_dict("records")]
    if isinstance(obj, pd.Series):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, ir.Table):
        return jsonable(obj.to_pyarrow().to_pylist())
    if isinstance(obj, pa.Table):
        return jsonable(obj.to_pylist())
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, (pd.Timestamp, dt.datetime, dt.date)):
        return None if pd.isna(obj) else obj.isoformat()
    if hasattr(obj, "item"):  # numpy scalars
        return jsonable(obj.item())
    if hasattr(obj, "tolist"):  # numpy arrays
        return jsonable(obj.tolist())
    if obj is pd.NaT:
        return None
    return str(obj)


# -- segmentations -------------------------------------------------------------------------------
def segmentations(ws) -> list[dict[str, Any]]:
    """Every segmentation: name, kind, description, segments, versions, runs and the last run's date.

    Cached per workspace until its definitions or stored runs change (:func:`definitions_state`):
    every route that names a segmentation reads this list, and building it parses every
    definition and reads the store's run tables (issue 15: 200 clients on the list starved the
    look-up). The caller gets its own copies of the items.
    """
    return [dict(item) for item in _segmentations(ws)[0]]


def segmentations_json(ws) -> bytes:
    """:func:`segmentations` rendered as JSON once per state (the list route's answer, as bytes)."""
    return _segmentations(ws)[1]


def _segmentations(ws) -> tuple[list[dict[str, Any]], bytes]:
    state = definitions_state(ws)
    key = ("segmentations", str(ws.path))
    with _MEMO_LOCK:
        hit = _LISTS.get(key)
    if hit is not None and hit[0] == state and hit[1] is ws.config:
        return hit[2]
    items = [jsonable(item) for item in ws.segmentations()]
    value = (items, render(items))
    with _MEMO_LOCK:
        _LISTS[key] = (state, ws.config, value)
    return value


def render(value: Any) -> bytes:
    """JSON bytes as the API's responses write them (FastAPI's JSONResponse settings)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def definitions_state(ws) -> tuple:
    """What a cached list of segmentations or runs depends on: the runs this process stored
    (:func:`segmint.segment.membership.writes`; no other process can store one while this one holds
    the store) and the ``segments/*.yaml`` files (name, size, modification time). segmint.yaml's
    inline definitions live in ``ws.config``, compared by identity (reloading it makes a new one).
    """
    folder = ws.path / "segments"
    files: tuple = ()
    if folder.is_dir():
        stats = []
        for entry in sorted(folder.iterdir()):
            if entry.suffix in (".yaml", ".yml"):
                st = entry.stat()
                stats.append((entry.name, st.st_size, st.st_mtime_ns))
        files = tuple(stats)
    return ws.runs_stored(), files


#: ("segmentations" | "history", workspace, ...) -> (state, config, JSON), see :func:`segmentations`.
_LISTS: dict[tuple, tuple] = {}


def segmentation(ws, name: str) -> dict[str, Any]:
    """One segmentation's summary; 404 with a suggestion when unknown."""
    items = segmentations(ws)
    for item in items:
        if item["name"] == name:
            return item
    raise UnknownNameError(f"no segmentation {name!r}; {did_you_mean(name, [i['name'] for i in items])}")


def history(ws, name: str, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """Segment sizes over time: ``series`` rows of as_of, segment, customers (plus the raw ``history``).

    Cached like :func:`segmentations` (it changes only when the segmentation runs). ``limit`` and
    ``offset`` page the runs, newest first: ``offset=0, limit=10`` keeps the rows of the ten latest
    as_of dates; ``runs`` counts them all, ``as_ofs`` lists the dates kept.
    """
    return _history(ws, name, limit, offset, rendered=False)


def history_json(ws, name: str, limit: int | None = None, offset: int = 0) -> bytes:
    """:func:`history` as JSON bytes; the whole history (no limit, no offset) is rendered once per state."""
    return _history(ws, name, limit, offset, rendered=True)


def _history(ws, name: str, limit: int | None, offset: int, rendered: bool):
    state = definitions_state(ws)
    key = ("history", str(ws.path), name)
    with _MEMO_LOCK:
        hit = _LISTS.get(key)
    if hit is not None and hit[0] == state and hit[1] is ws.config:
        out, whole = hit[2]
    else:
        out = _page(jsonable(ws.history(name).to_dict()), None, 0)
        whole = render(out)
        with _MEMO_LOCK:
            if len(_LISTS) > 256:
                _LISTS.clear()
            _LISTS[key] = (state, ws.config, (out, whole))
    if limit is None and not offset:
        return whole if rendered else dict(out)
    page = _page(out, limit, offset)
    return render(page) if rendered else page


def _page(out: dict[str, Any], limit: int | None, offset: int) -> dict[str, Any]:
    dates = sorted({r["as_of"] for rows in _history_rows(out) for r in rows}, reverse=True)
    kept = dates[offset:offset + limit] if limit is not None else dates[offset:]
    page = dict(out)
    if limit is not None or offset:
        keep = set(kept)
        for k, rows in out.items():
            if isinstance(rows, list) and rows and isinstance(rows[0], dict) and "as_of" in rows[0]:
                page[k] = [r for r in rows if r["as_of"] in keep]
    return {**page, "runs": len(dates), "as_ofs": kept, "limit": limit, "offset": offset}


def _history_rows(out: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [rows for rows in out.values()
            if isinstance(rows, list) and rows and isinstance(rows[0], dict) and "as_of" in rows[0]]


def profile(ws, name: str) -> dict[str, Any]:
    return _memo(ws, "profile", name, lambda: {"name": name, **jsonable(ws.profile(name))})


def personas(ws, name: str) -> dict[str, Any]:
    return _memo(ws, "personas", name, lambda: {"name": name, "personas": jsonable(ws.personas(name))})


def display_names(ws, name: str, labels: list[str]) -> dict[str, str]:
    """The name a person sees for each segment label: the persona name for labels an algorithm made
    (``cluster_3``), as the profile and the report call them; the label itself when a person (or the RFM
    template) named it, or when no profile can be made (small cells, no run yet).
    """
    from segmint.profile.naming import is_given_name

    labels = [str(x) for x in labels]
    names = {x: x for x in labels}
    if all(is_given_name(x) for x in labels):
        return names  # nothing to look up: no profile is computed for rule, RFM or tier segments
    try:
        found = {p["segment"]: p["name"] for p in personas(ws, name)["personas"] if p.get("name")}
    except SegmintError:
        return names
    return {x: found.get(x, x) for x in labels}


def with_names(ws, name: str, rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Copies of ``rows`` with ``<key>_name`` beside each of ``keys`` (segment labels): see :func:`display_names`."""
    names = display_names(ws, name, sorted({str(r[k]) for r in rows for k in keys if r.get(k) is not None}))
    return [{**r, **{f"{k}_name": names.get(str(r.get(k)), r.get(k)) for k in keys}} for r in rows]


def scorecard(ws, name: str) -> dict[str, Any]:
    return _memo(ws, "scorecard", name, lambda: {"name": name, **jsonable(ws.validate(name))})


#: (workspace, what, segmentation, state) -> JSON. Profiles and scorecards take seconds; they
#: only change when the segmentation runs again, which changes its summary (runs, last date).
_MEMO: dict[tuple, Any] = {}
_MEMO_LOCK = threading.Lock()


def _memo(ws, what: str, name: str, build, depends: Any = None):
    """``build()``, kept until the segmentation runs again (or ``depends``, JSON-able, changes)."""
    state = json.dumps([segmentation(ws, name), depends], sort_keys=True, default=str)
    key = (str(ws.path), what, name, state)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
    value = build()
    with _MEMO_LOCK:
        if len(_MEMO) > 256:
            _MEMO.clear()
        _MEMO[key] = value
    return value


def journeys(ws, name: str, segment: str | None, start: str | None, end: str | None, length: int,
             top: int) -> dict[str, Any]:
    """:meth:`Workspace.journeys` as JSON, kept until the segmentation runs, events or orders change (an
    ingest, an erasure, a retention purge) or the ``journeys:`` settings do: at a million customers a
    page of paths takes half a minute to compute, and the dashboard asks again on every view."""
    return _memo(ws, "journeys", name,
                 lambda: jsonable(ws.journeys(name, segment, start=start, end=end, length=length, top=top)),
                 depends=[segment, start, end, length, top, ws.config.journeys.model_dump(),
                          ws.data_state(("events", "orders"))])


def segment_card(ws, name: str, segment: str) -> dict[str, Any]:
    """Everything the dashboard's segment page shows: persona, KPIs, profile, differentiators, scorecard."""
    prof = profile(ws, name)
    sizes = [r for r in prof.get("sizes", []) if r.get("segment") == segment]
    if not sizes:
        known = [r.get("segment", "") for r in prof.get("sizes", [])]
        raise UnknownNameError(f"segmentation {name!r} has no segment {segment!r}; {did_you_mean(segment, known)}")
    persona = next((p for p in personas(ws, name)["personas"] if p.get("segment") == segment), None)
    card = scorecard(ws, name)
    means = sorted((r for r in prof.get("means", []) if r.get("segment") == segment and r.get("index") is not None),
                   key=lambda r: -abs((r["index"] or 100) - 100))
    return {
        "name": name, "segment": segment, "persona": persona, "kpis": sizes[0],
        "population": prof.get("population", {}), "note": prof.get("note", ""),
        "means": means[:15],
        "differentiators": [r for r in prof.get("differentiators", []) if r.get("segment") == segment],
        "scorecard": {"overall": card.get("overall"), "verdicts": card.get("verdicts", {}),
                      "segment": [r for r in card.get("segments", []) if r.get("segment") == segment],
                      "segmentation": card.get("segmentation", [])},
    }


# -- one customer, rules, migrations --------------------------------------------------------------
def customer(ws, customer_id: str, segmentation_name: str | None = None, cache=None,
             index=None) -> dict[str, Any]:
    """A customer's memberships with the reasons, in one or every segmentation.

    Reads the app's serving index (:class:`~segmint.server.serving.ServingIndex`) when
    it holds the segmentation's current run; otherwise calls ``Workspace.why`` with the
    app's :class:`~segmint.segment.explain_run.RunCache`: one point query on the stored
    reasons. Both give the same answer.
    """
    names = [segmentation_name] if segmentation_name else [s["name"] for s in segmentations(ws)]
    memberships = []
    for name in names:
        entry = index.get(name) if index is not None else None
        why = entry.why(str(customer_id)) if entry is not None else None
        if why is None:  # not indexed, stale, or not in the run (the workspace words the 404)
            why = ws.why(name, customer_id, cache=cache)
        memberships.append(membership(name, why))
    return {"customer_id": customer_id, "memberships": memberships}


def membership(name: str, why: Mapping[str, Any] | Why) -> dict[str, Any]:
    """One item of a customer's ``memberships``: the segmentation's name and its ``why``, as plain JSON."""
    return {"segmentation": name, **jsonable(why)}


def preview(ws, where: str, as_of: str | None = None) -> dict[str, Any]:
    """Size and condition attrition of a rule (``size``, ``base``, ``share``, ``conditions``), nothing saved.

    The preview reads a stored feature snapshot and never computes one: that can take
    minutes and writes to the store, which a request thread must not do. Without
    ``as_of`` it uses the latest stored snapshot (the one the latest runs used); a date
    without one, or a workspace with none yet, answers 409 naming the dates that have one.
    """
    if not where or not where.strip():
        raise ConfigError("write a rule, e.g. recency_days <= 30 and monetary_total > 200")
    try:
        out = ws.preview_rule(where, as_of, compute_snapshot=False)
    except SnapshotMissing as exc:
        from segmint.server.errors import ApiError

        raise ApiError(409, str(exc), details={"as_of": exc.as_of, "snapshots": exc.available[:20]}) from None
    except UnknownNameError as exc:  # an unknown feature in the rule: the request is wrong, not a missing page
        raise ConfigError(str(exc)) from None
    return jsonable(out)


def migration(ws, name: str, from_as_of: str, to_as_of: str) -> dict[str, Any]:
    """Who moved where between two dates: Sankey ``links`` (from -> to: customers), the changes and the summary.

    The customers who moved are left out: they can be millions of rows; the members routes serve those.
    """
    mig = ws.diff(name, from_as_of, to_as_of)
    return {"name": name, "from_as_of": from_as_of, "to_as_of": to_as_of, "links": mig.links(),
            "changes": jsonable(mig.changes), **jsonable(mig.stats())}


# -- members -----------------------------------------------------------------------------------
def members_table(ws, name: str, segment: str, as_of: str | None, consented_only: bool) -> ir.Table:
    """The members of a segment as an engine table ordered by customer id, consent applied."""
    # The one consent rule of every export path (the CLI's too): Workspace.audience.
    return ws.audience(name, segment, as_of, include_unconsented=not consented_only).order_by("customer_id")


def encode_cursor(last_id: Any) -> str:
    """An opaque cursor: the last customer id of a page.

    Examples
    --------
    >>> decode_cursor(encode_cursor("C42"))
    'C42'
    """
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"]
    except Exception:  # noqa: BLE001 - any garbage is the same user error
        raise ConfigError("invalid cursor; use the next_cursor of the previous page") from None


def members_page(table: ir.Table, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of members after ``cursor`` (keyset pagination: stable while rows are added)."""
    t = table
    if cursor:
        after = decode_cursor(cursor)
        t = t.filter(t.customer_id > ibis.literal(after, type=t.customer_id.type()))
    rows = jsonable(t.limit(limit + 1).to_pyarrow().to_pylist())
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "count": len(rows),
            "next_cursor": encode_cursor(rows[-1]["customer_id"]) if more and rows else None}


def stream_rows(table: ir.Table, fmt: str, counter: list[int], batch_rows: int = 50_000,
                raw_csv: bool = False) -> Iterator[bytes]:
    """Encode ``table`` as CSV or JSON lines, batch by batch, counting rows into ``counter[0]``.

    CSV text cells that a spreadsheet would run as formulas are neutralised
    (:mod:`segmint.activate.csvcells`) unless ``raw_csv``.
    """
    import pyarrow.csv as pacsv

    from segmint.activate.csvcells import neutralise_batch, neutralise_names

    first = True
    for batch in table.to_pyarrow_batches(chunk_size=batch_rows):
        if fmt == "csv":
            if not raw_csv:
                batch = neutralise_batch(batch)
            sink = pa.BufferOutputStream()
            pacsv.write_csv(pa.Table.from_batches([batch]), sink,
                            pacsv.WriteOptions(include_header=first, quoting_style="needed"))
            chunk = sink.getvalue().to_pybytes()
        else:
            chunk = "".join(json.dumps(jsonable(r), separators=(",", ":")) + "\n"
                            for r in batch.to_pylist()).encode()
        first = False
        counter[0] += batch.num_rows
        if chunk:
            yield chunk
    if first and fmt == "csv":  # no batch at all: still give the header
        sink = pa.BufferOutputStream()
        empty = table.schema().to_pyarrow().empty_table()
        pacsv.write_csv(empty if raw_csv else empty.rename_columns(neutralise_names(empty.column_names)), sink)
        yield sink.getvalue().to_pybytes()


__all__ = ["customer", "display_names", "history", "jsonable", "journeys", "members_page", "members_table",
           "migration", "personas", "preview", "profile", "scorecard", "segment_card", "segmentation", "segmentations",
           "stream_rows", "with_names"]
