"""The serving index: every segmentation's latest run in memory, for the one-customer look-up.

``GET /api/v1/customers/{id}?segmentation=NAME`` reads one row of the stored reasons
(``membership_reasons``: the customer's segments and the JSON text that explains them).
Through DuckDB that row costs a point query of 1-2 ms CPU, most of a look-up's cost. The
server therefore keeps, per segmentation, the latest run's rows in memory:

* the customer ids as one sorted NumPy byte-string array (a binary search finds a row;
  8-16 bytes per customer, not a Python dict's ~100),
* the segments and the reasons text as the Arrow arrays DuckDB returned (compact; one
  row is turned into Python objects only when asked for),
* which run it is (version, as_of, stored_at) and its model document.

The answer is rendered by the very functions the DuckDB path uses
(:func:`segmint.segment.reasons.explain_stored` on the same stored text), so it is the same
JSON, value for value; ``tests/server/test_serving.py`` compares both paths over every
customer of a workspace. Rendering one answer costs more than finding it (~35 of the ~55 µs
a look-up spends in Python for a rules segmentation), so after an entry is loaded the index
renders every customer's response body once, on its own thread, into one byte buffer with
offsets (about the size of the JSON: 0.5-1 KB a customer for a few rule conditions), when that
fits the memory budget too and takes less than :data:`RENDER_SECONDS` of CPU (a cluster
explanation costs ~0.2 ms a customer: a million of them would hold the index's thread for
minutes); until then, or otherwise, each look-up renders its answer.

Freshness: every entry is tagged with :func:`segmint.segment.membership.writes` as read
before its rows were. Any run stored by this process bumps that count, which makes every
entry stale at once: a stale entry is never served (the look-up falls back to the DuckDB
path, which is current) and a refresh is scheduled on the index's own thread. The refresh
re-tags the segmentations whose latest run did not change (one small query) and reloads
the others, publishing each as it is ready; the dictionary of entries is replaced, never
changed in place, so a request sees the old or the new one, whole. No other process can
store a run meanwhile: the server holds the store's write lock for as long as it runs.

Memory: ``Settings.serving_index_mb`` bounds the index. Before loading a segmentation the
index measures it with one aggregate query (ids, segments and reasons bytes) and skips it
when it would not fit; a skipped segmentation is served by the DuckDB point query, with
the same answers. Rendered bodies are measured on a sample of customers first and made only
when the whole run's bodies fit what is left. ``0`` turns the index off.

Examples
--------
>>> import tempfile
>>> from segmint.workspace import Workspace
>>> from segmint.server.context import WorkspaceHandle
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> handle = WorkspaceHandle(ws)
>>> index = ServingIndex(handle, budget_mb=64)
>>> index.refresh()  # nothing run yet: nothing to index
>>> index.status()["segmentations"]
{}
>>> index.close(); handle.close(); ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.segment import membership as ms
from segmint.segment.reasons import Plan, cached_plan, explain_stored

log = logging.getLogger("segmint.server")

__all__ = ["IndexEntry", "NotRendered", "ServingIndex", "render_answer", "render_bodies"]

def _iso(when: dt.datetime) -> str:
    # As segment.service writes a run's as_of in answers: a date, or a timestamp when it has a time.
    return when.date().isoformat() if when.time() == dt.time() else when.isoformat()


@dataclass(frozen=True)
class IndexEntry:
    """One segmentation's latest run, in memory. Immutable: a refresh makes a new one."""

    name: str
    version: int
    as_of: dt.datetime
    stored_at: dt.datetime | None
    doc: Mapping[str, Any]
    plan: Plan
    ids: np.ndarray  # sorted, fixed-width UTF-8 bytes
    segments: pa.Array  # list<string>, in the order of ids
    reasons: pa.Array  # string, in the order of ids
    nbytes: int
    generation: int
    #: Every customer's response body, rendered (see :func:`render_bodies`), in the order of ids:
    #: one buffer and ``len(ids) + 1`` offsets; None until rendered, or when they do not fit.
    bodies: tuple[bytes, np.ndarray] | None = None

    @property
    def run(self) -> tuple[int, dt.datetime, dt.datetime | None]:
        return self.version, self.as_of, self.stored_at

    def row(self, customer_id: str) -> int | None:
        """The row of ``customer_id``, or None when the run has none for it."""
        key = customer_id.encode("utf-8")
        if len(key) > self.ids.dtype.itemsize or key.endswith(b"\x00"):
            return None  # longer than every id; a NumPy byte string cannot end with NUL
        i = int(np.searchsorted(self.ids, key))
        return i if i < len(self.ids) and self.ids[i] == key else None

    def body(self, customer_id: str) -> bytes | None:
        """The rendered response body of ``customer_id``, or None (not rendered, or not in the run)."""
        bodies = self.bodies
        if bodies is None:
            return None
        i = self.row(customer_id)
        if i is None:
            return None
        buffer, offsets = bodies
        return buffer[offsets[i]:offsets[i + 1]]

    def answer(self, customer_id: str) -> bytes | None:
        """The look-up's response body for ``customer_id``: rendered ahead when it is, else now; None when not in the run."""
        body = self.body(customer_id)
        if body is not None:
            return body
        why = self.why(customer_id)
        return None if why is None else render_answer(self.name, customer_id, why)

    def why(self, customer_id: str) -> dict[str, Any] | None:
        """What :func:`segmint.segment.service.why` answers for this run, or None when the customer is not in it."""
        i = self.row(customer_id)
        if i is None:
            return None
        assigned = self.segments[i].as_py() or []
        header = {"segmentation": self.name, "kind": self.doc["kind"], "version": self.version,
                  "as_of": _iso(self.as_of), "customer_id": customer_id}
        return {**header, "segments": assigned,
                **explain_stored(self.doc, self.reasons[i].as_py(), assigned, self.plan)}


class ServingIndex:
    """The latest run of every segmentation, in memory, refreshed after each stored run.

    Parameters
    ----------
    handle : segmint.server.context.WorkspaceHandle
        The server's workspace; the index reads through a cursor of its own.
    budget_mb : float
        Most memory the index may hold (ids, segments and reasons); 0 turns it off.
    """

    def __init__(self, handle, budget_mb: float) -> None:
        self.handle = handle
        self.budget = int(budget_mb * 2**20)
        self._entries: dict[str, IndexEntry] = {}
        self._skipped: dict[str, str] = {}
        self._checked = -1  # the writes() count the last refresh started from
        self._pending = False
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time (the index's thread, or a direct call)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segmint-index")
        self._closed = False

    # -- reading ------------------------------------------------------------------------------------
    def get(self, name: str) -> IndexEntry | None:
        """The entry of ``name`` when it is current; None sends the caller to the DuckDB path.

        Cheap enough for the event loop: a dict look-up and an integer comparison (plus, once
        after each stored run, queueing a refresh).
        """
        generation = ms.writes()
        entry = self._entries.get(name)
        if entry is not None and entry.generation == generation:
            return entry
        if self._checked != generation:
            self.schedule()
        return None

    def warm(self) -> int:
        """Load now (blocking) and explain one customer of each entry; return how many entries there are.

        The runner calls this before it freezes the start-up heap out of the garbage
        collector's way (:mod:`segmint.server.runner`), so that the index and the modules an
        explanation imports on first use are frozen too.
        """
        self.refresh()
        entries = self._entries
        for entry in entries.values():
            if len(entry.ids):
                entry.why(entry.ids[0].decode("utf-8"))
        # The bodies next, on the index's thread: the server answers meanwhile (rendering them per request).
        if not self._closed:
            self._pool.submit(self._render_logged)
        return len(entries)

    def status(self) -> dict[str, Any]:
        """What is indexed, its size, and what was left to the DuckDB path and why."""
        entries = self._entries
        return {"budget_mb": self.budget / 2**20, "used_mb": sum(e.nbytes for e in entries.values()) / 2**20,
                "segmentations": {n: {"version": e.version, "as_of": _iso(e.as_of), "customers": len(e.ids),
                                      "mb": round(e.nbytes / 2**20, 2), "current": e.generation == ms.writes(),
                                      "rendered": e.bodies is not None}
                                  for n, e in sorted(entries.items())},
                "not_indexed": dict(self._skipped)}

    def reset(self) -> None:
        """Drop every entry and load them again (after ``segmint forget`` took rows out of stored runs)."""
        with self._refreshing:
            self._entries, self._skipped, self._checked = {}, {}, -1
        self.schedule()

    # -- refreshing ---------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Queue a refresh on the index's thread (once: a queued refresh covers every later call)."""
        if self.budget <= 0 or self._closed:
            return
        with self._lock:
            if self._pending:
                return
            self._pending = True
        try:
            self._pool.submit(self._refresh_logged)
        except RuntimeError:  # shut down meanwhile
            self._pending = False

    def _refresh_logged(self) -> None:
        with self._lock:
            self._pending = False
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - the DuckDB path keeps serving; say why in the log
            log.error("serving index refresh failed with %s; look-ups use the store", type(exc).__name__,
                      exc_info=exc)
            return
        self._render_logged()

    def _render_logged(self) -> None:
        try:
            self.render()
        except Exception as exc:  # noqa: BLE001 - look-ups render their answers instead; say why in the log
            log.error("rendering the serving index failed with %s; look-ups render their answers",
                      type(exc).__name__, exc_info=exc)

    def render(self) -> None:
        """Render the response bodies of every current entry that has none, within the budget (blocking).

        Normally run on the index's thread after each refresh. An entry whose run is replaced
        meanwhile is left as it is (the refresh after that run renders the new one).
        """
        with self._refreshing:
            for name in sorted(self._entries):
                entry = self._entries.get(name)
                if entry is None or entry.bodies is not None or entry.generation != ms.writes():
                    continue
                left = self.budget - sum(e.nbytes for e in self._entries.values())
                try:
                    bodies = render_bodies(entry, left)
                except NotRendered as why:
                    self._skipped = {**self._skipped, name: str(why)}
                    continue
                current = self._entries.get(name)
                if current is entry:  # publish: a new dict and a new entry, never a changed one
                    size = len(bodies[0]) + bodies[1].nbytes
                    self._entries = {**self._entries, name: replace(entry, bodies=bodies, nbytes=entry.nbytes + size)}

    def refresh(self) -> None:
        """Bring every entry up to date with the store (blocking; normally run on the index's thread)."""
        if self.budget <= 0:
            return
        with self._refreshing:
            generation = ms.writes()  # read before the tables: a run stored meanwhile makes the result stale
            if generation == self._checked:
                return
            try:
                self._refresh(generation)
            finally:
                # Also after a failure: the next stored run retries; until then stale entries are not
                # served and the DuckDB path answers (no refresh storm under load).
                self._checked = generation

    def _refresh(self, generation: int) -> None:
        with self.handle.borrowed() as ws:
            # The latest run of every segmentation: the look-up's choice too (the latest as_of, then
            # the latest version run there).
            latest = ws.store.runs.latest()
            if not latest:
                self._entries, self._skipped = {}, {}
                return
            # First the unchanged runs, re-tagged at once; then the changed ones, loaded one by one.
            kept = {n: replace(e, generation=generation) for n, e in self._entries.items()
                    if n in latest and latest[n][2] and (latest[n][0], latest[n][1], latest[n][3]) == e.run}
            self._entries = kept
            skipped: dict[str, str] = {}
            used = sum(e.nbytes for e in kept.values())
            for name, (version, as_of, has_reasons, stored_at) in sorted(latest.items()):
                if name in kept:
                    continue
                if not has_reasons:
                    skipped[name] = "its latest run stored no reasons (an older store): the look-up computes them"
                    continue
                size = self._size(ws.store, name, version, as_of)
                if used + size > self.budget:
                    skipped[name] = (f"needs ~{size / 2**20:.0f} MB, {max(0, self.budget - used) / 2**20:.0f} MB "
                                     "of the serving index budget left (serving_index_mb)")
                    continue
                entry = self._load(ws, name, version, as_of, stored_at, generation)
                if entry is None:
                    skipped[name] = "a customer id contains a NUL character"
                    continue
                used += entry.nbytes
                self._entries = {**self._entries, name: entry}  # publish: a new dict, never a changed one
            self._skipped = skipped

    @staticmethod
    def _size(store, name: str, version: int, as_of: dt.datetime) -> int:
        """Bytes the entry of one run would hold (ids as fixed-width bytes, Arrow segments and reasons)."""
        n, longest, reasons, nseg, segbytes = store.runs.size(name, version, as_of)
        # ids: n * longest; reasons: text + 4-byte offsets; segments: list offsets, string offsets, text.
        return int(n * longest + reasons + 4 * n + 4 * n + 4 * nseg + segbytes)

    @staticmethod
    def _load(ws, name: str, version: int, as_of: dt.datetime, stored_at, generation: int) -> IndexEntry | None:
        from segmint.segment.service import stored_model

        doc, text = stored_model(ws, name, version)
        table = ws.store.runs.rows(name, version, as_of)
        ids_arr = table.column("customer_id").combine_chunks()
        if len(ids_arr) and pc.any(pc.match_substring(ids_arr, "\x00")).as_py():
            return None
        raw = ids_arr.cast(pa.binary()).to_numpy(zero_copy_only=False)
        width = max(1, int(pc.max(pc.binary_length(ids_arr)).as_py() or 1)) if len(ids_arr) else 1
        ids = np.array(raw, dtype=f"S{width}") if len(raw) else np.empty(0, dtype="S1")
        segments = table.column("segments").combine_chunks()
        reasons = table.column("reasons").combine_chunks()
        if len(ids) > 1 and not bool(np.all(ids[:-1] <= ids[1:])):
            # The engine's string order is byte order already; sort here anyway, so that a
            # collation setting can never make the binary search miss.
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            segments, reasons = segments.take(pa.array(order)), reasons.take(pa.array(order))
        nbytes = ids.nbytes + segments.nbytes + reasons.nbytes
        return IndexEntry(name=name, version=int(version), as_of=_datetime(as_of), stored_at=stored_at, doc=doc,
                          plan=cached_plan(doc, text), ids=ids, segments=segments, reasons=reasons, nbytes=nbytes,
                          generation=generation)

    def close(self) -> None:
        """Stop refreshing (a refresh under way finishes) and drop the entries."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._entries = {}


#: Rendering the bodies runs on the index's thread while the server answers: a segmentation whose answers
#: would take longer than this to render (a cluster explanation costs ~0.2 ms a customer) is rendered per request.
RENDER_SECONDS = 120.0


class NotRendered(Exception):
    """The bodies of an entry were not rendered; the message says why (shown in the index's status)."""


def render_answer(name: str, customer_id: str, why: Mapping[str, Any]) -> bytes:
    """The route's response body for one customer and one segmentation: ``{"customer_id": ..., "memberships": [...]}``.

    :func:`segmint.server.data.membership` encoded as Starlette's ``JSONResponse`` encodes it, so the
    bytes are the route's own.
    """
    from segmint.server.data import membership

    content = {"customer_id": customer_id, "memberships": [membership(name, why)]}
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def render_bodies(entry: IndexEntry, budget: int, max_seconds: float = RENDER_SECONDS,
                  sample: int = 256) -> tuple[bytes, np.ndarray]:
    """Every customer's response body for ``entry``: (buffer, offsets).

    The bodies are what the look-up route answers for one customer and one segmentation
    (:func:`render_answer`). Their size and time are estimated from the first ``sample`` customers before the rest are
    rendered (and the size checked again as the buffer grows).

    Raises
    ------
    NotRendered
        When they would exceed ``budget`` bytes or take more than ``max_seconds``.
    """
    import time

    n = len(entry.ids)
    parts: list[bytes] = []
    total = 0
    started = time.process_time()
    for i, raw in enumerate(entry.ids):
        customer_id = raw.decode("utf-8")
        body = render_answer(entry.name, customer_id, entry.why(customer_id))
        parts.append(body)
        total += len(body)
        if i + 1 == min(n, sample):
            seconds = (time.process_time() - started) / (i + 1) * n
            if seconds > max_seconds:
                raise NotRendered(f"indexed; rendering its answers would take ~{seconds:.0f} s of CPU (more than "
                                  f"{max_seconds:.0f} s): each look-up renders its own")
            if total / (i + 1) * n + 8 * (n + 1) > budget:
                total = int(total / (i + 1) * n)
        if total > budget:
            raise NotRendered(f"indexed; its rendered answers (~{total / 2**20:.1f} MB) would not fit the "
                              "serving_index_mb budget: each look-up renders its own")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(b) for b in parts], out=offsets[1:])
    return b"".join(parts), offsets


def _datetime(value: Any) -> dt.datetime:
    import pandas as pd

    return pd.Timestamp(value).to_pydatetime()
