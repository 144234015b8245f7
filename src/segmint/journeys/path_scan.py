"""Session paths counted in one sorted scan: the engine sorts the step stream once, NumPy reads it in order.

The paths of :mod:`segmint.journeys.paths` need each customer's steps in time order twice (once to find the
session starts and repeats, once for the steps after each session's anchor), and the engine's window
functions sort every customer's stream for each pass, with the customer's id and the step's name as text in
every comparison. Here the engine sorts the stream once, by a 64-bit hash of the customer's id, the time
and a one-byte step code, and streams the sorted rows out in batches; NumPy then finds session starts,
repeats, anchors and the steps after them with array shifts, and counts the paths per segment. Only the
rows of one batch (and the customer it ends in the middle of) are in memory at a time.

This is the route on DuckDB (whose ``hash`` is 64 bits); :func:`segmint.journeys.paths.top_paths` falls
back to the window functions on other engines, when more than 255 distinct steps are in the stream, and
when two of the members' ids share a hash (then the hash could not tell those customers apart).

The counts equal the window-function route's exactly: ``tests/journeys/test_path_scan.py`` compares the
two, and both with the paths' definition, on random streams.

Examples
--------
>>> import pandas as pd, ibis
>>> from segmint.journeys.steps import step_stream
>>> ev = ibis.memtable(pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
...     "occurred_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 11:00",
...                                    "2024-01-02 09:00", "2024-01-02 09:01"]),
...     "event": ["web_visit", "email_click", "web_visit", "web_visit", "email_click"]}))
>>> rows = count_paths(step_stream(ev, None), 1800, True, "web_visit", None, 2)
>>> [(r["s0"], r["s1"], r["sessions"], r["customers"]) for r in sorted(rows, key=lambda r: -r["sessions"])]
[('web_visit', 'email_click', 2, 2), ('web_visit', None, 1, 1)]
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.journeys.steps import on_duckdb

__all__ = ["count_paths", "scannable", "MAX_STEPS"]

#: Distinct steps a one-byte code can hold (one value is kept for "no step": the number of steps).
MAX_STEPS = 255
_BATCH_ROWS = 1 << 21
_DONE = object()


@ibis.udf.scalar.builtin(name="hash")
def _hash64(value: str) -> dt.uint64:  # type: ignore[empty-body]
    """DuckDB's 64-bit hash of a value (Ibis' own ``hash()`` adds a cast through a bit string)."""


def scannable(stream: ir.Table) -> bool:
    """Whether ``stream``'s engine runs the sorted scan (DuckDB: a 64-bit ``hash`` and ordered batches)."""
    return on_duckdb(stream)


@dataclass(frozen=True)
class _Query:
    """What is asked: the session gap, repeats, the anchor steps (as codes), the path length, and the code of
    "no step" (past a path's end: the number of steps, one above the highest step's code)."""

    gap: float
    collapse: bool
    start: int | None
    end: int | None
    length: int
    none: int

    @property
    def start_is_end(self) -> bool:
        """Whether a path runs from a step to itself (then it is that one step)."""
        return self.start is not None and self.start == self.end


def count_paths(stream: ir.Table, gap_seconds: float, collapse_repeats: bool, start: str | None, end: str | None,
                length: int, members: ir.Table | None = None,
                batch_rows: int = _BATCH_ROWS) -> list[dict[str, Any]] | None:
    """The distinct paths per segment with their ``sessions``, ``customers`` and ``firsts``, or None.

    Parameters
    ----------
    stream : ibis.Table
        :func:`segmint.journeys.steps.step_stream`'s rows: ``customer_id``, ``t``, ``step``.
    gap_seconds, collapse_repeats, start, end, length
        As in :func:`segmint.journeys.paths.top_paths`.
    members : ibis.Table, optional
        ``customer_id``, ``segment``: the paths of each segment's members (all paths in segment ``""``
        without).
    batch_rows : int
        Rows the engine hands over at a time (memory: about 40 bytes a row, twice, as one batch is read
        while the one before is counted).

    Returns
    -------
    list of dict or None
        One row per segment and distinct path: ``segment``, ``s0``..``s{length-1}`` (None past the path's
        end), ``sessions``, ``customers`` (distinct customers with that path) and ``firsts`` (summed over a
        segment's rows: its customers with any path). None when the scan cannot tell the answer exactly
        (over :data:`MAX_STEPS` steps, or two member ids with one hash): use the window functions then.
    """
    names = sorted(r["step"] for r in stream.select("step").distinct().to_pyarrow().to_pylist()
                   if r["step"] is not None)
    if len(names) > MAX_STEPS:
        return None
    code = {n: i for i, n in enumerate(names)}  # in the names' order: the engine's tie order by step
    q = _Query(float(gap_seconds), bool(collapse_repeats), code.get(start) if start is not None else None,
               code.get(end) if end is not None else None, int(length), len(names))
    if (start is not None and q.start is None) or (end is not None and q.end is None):
        return []  # a step nobody took: no session has it
    seg_names, member_hash, member_seg = [""], None, None
    if members is not None:
        found = _members(members)
        if found is None:
            return None
        seg_names, member_hash, member_seg = found
    counts = _Counts(len(names), q.length)
    for h, t, c in _customer_batches(_sorted_rows(stream, names, batch_rows)):
        _count_batch(h, t, c, q, member_hash, member_seg, counts)
    return counts.rows(names, seg_names)


def _sorted_rows(stream: ir.Table, names: list[str], batch_rows: int = _BATCH_ROWS) -> pa.RecordBatchReader:
    """The stream as (customer hash, time, step code), sorted by the three, in batches.

    The codes number the steps in their names' order, so that steps at the same time are in the order the
    window functions put them in (by name).
    """
    s = stream.filter(stream.step.notnull(), stream.customer_id.notnull(), stream.t.notnull())
    code = ibis.cases(*[(s.step == name, i) for i, name in enumerate(names)]).cast("uint8")
    rows = s.select(h=_hash64(s.customer_id), t=s.t, c=code)
    return rows.order_by(["h", "t", "c"]).to_pyarrow_batches(chunk_size=batch_rows)


def _prefetched(reader: pa.RecordBatchReader, depth: int = 2):
    """``reader``'s batches, read ahead in a thread: the engine produces the next while NumPy counts this one.

    When the consumer stops early (an error, an interrupt), the thread is told to stop and joined: it never
    waits forever on a full queue with the engine's cursor in hand.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in reader:
                if not put(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(exc)
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="segmint-path-scan", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _customer_batches(reader: pa.RecordBatchReader):
    """Batches of whole customers: the rows after a batch's last customer start wait for the next batch."""
    held: list[np.ndarray] | None = None
    for batch in _prefetched(reader):
        if batch.num_rows == 0:
            continue
        cols = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(3)]
        if held is not None:
            cols = [np.concatenate([a, b]) for a, b in zip(held, cols)]
        h = cols[0]
        starts = np.flatnonzero(h[1:] != h[:-1])
        if starts.size == 0:  # one customer so far: wait for the rest
            held = cols
            continue
        cut = int(starts[-1]) + 1
        held = [a[cut:] for a in cols]
        yield tuple(a[:cut] for a in cols)
    if held is not None and held[0].size:
        yield tuple(held)


def _members(members: ir.Table) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """Segment names, member hashes (sorted) and their segment numbers; None when two ids share a hash."""
    m = members.select("customer_id", "segment").distinct()
    m = m.filter(m.customer_id.notnull(), m.segment.notnull())
    m = m.select("segment", h=_hash64(m.customer_id), id=m.customer_id).to_pyarrow()
    h = m.column("h").to_numpy()
    order = np.argsort(h, kind="stable")
    h = h[order]
    segments = m.column("segment").combine_chunks().dictionary_encode()
    seg_names = [str(x) for x in segments.dictionary.to_pylist()]
    seg_codes = segments.indices.to_numpy(zero_copy_only=False).astype(np.int64)[order]
    same = np.flatnonzero(h[1:] == h[:-1])
    if same.size:  # one hash twice: one customer in several segments, or two ids that collide
        ids = m.column("id").combine_chunks().take(pa.array(order))
        if pc.any(pc.not_equal(ids.take(pa.array(same)), ids.take(pa.array(same + 1)))).as_py():
            return None
    return seg_names, h, seg_codes


def _count_batch(h: np.ndarray, t: np.ndarray, c: np.ndarray, q: _Query, member_hash: np.ndarray | None,
                 member_seg: np.ndarray | None, counts: _Counts) -> None:
    """Sessions, anchors and paths of one batch of whole customers, added to ``counts``."""
    new_customer = np.ones(h.size, bool)
    new_customer[1:] = h[1:] != h[:-1]
    customer_hash = h[new_customer]  # the batch's customers, in order
    new = new_customer.copy()
    new[1:] |= (t[1:] - t[:-1]) > q.gap
    if q.collapse:  # a step equal to the one before it in the same session counts once
        keep = new.copy()
        keep[1:] |= c[1:] != c[:-1]
        c, new, new_customer = c[keep], new[keep], new_customer[keep]
    n = c.size
    session = np.cumsum(new, dtype=np.int32)
    anchor_code = q.start if q.start is not None else q.end
    if anchor_code is None:
        anchors = np.flatnonzero(new)
    else:
        hits = np.flatnonzero(c == anchor_code)
        first = np.ones(hits.size, bool)
        first[1:] = session[hits[1:]] != session[hits[:-1]]
        anchors = hits[first]
    steps = np.full((anchors.size, q.length), q.none, np.int64)
    backward = q.start is None and q.end is not None
    alive = np.ones(anchors.size, bool)
    own = session[anchors]
    for j in range(1, q.length):
        raw = anchors - j if backward else anchors + j
        at = np.clip(raw, 0, n - 1)
        alive &= ((raw >= 0) if backward else (raw < n)) & (session[at] == own)
        steps[:, (q.length - 1 - j) if backward else j] = np.where(alive, c[at], q.none)
    steps[:, q.length - 1 if backward else 0] = c[anchors]
    # each path's customer: the batch's customer number of its anchor row
    who = np.searchsorted(np.flatnonzero(new_customer), anchors, "right") - 1
    if q.start is not None and q.end is not None:
        found = _start_to_end(steps, q)
        steps, who = steps[found], who[found]
    counts.add(steps, who, customer_hash, member_hash, member_seg)


def _start_to_end(steps: np.ndarray, q: _Query) -> np.ndarray:
    """Cut ``steps`` (in place) after the first ``end`` that follows the ``start``; which rows have one.

    A path runs from the session's first ``start`` to the first ``end`` after it, when at most ``length``
    steps apart (``start == end``: the one step).
    """
    if q.start_is_end:
        steps[:, 1:] = q.none
        return np.ones(steps.shape[0], bool)
    hit = steps[:, 1:] == q.end
    last = np.argmax(hit, axis=1) + 1  # the column of the first end after the start
    steps[np.arange(q.length)[None, :] > last[:, None]] = q.none
    return hit.any(axis=1)


class _Counts:
    """Sessions and distinct customers per (segment, path), summed over batches of whole customers."""

    def __init__(self, steps: int, length: int) -> None:
        self.base = steps + 1  # a path is a number in this base, one digit a step ("no step": ``steps``)
        self.length = length
        self.sessions: dict[int, int] = {}
        self.customers: dict[int, int] = {}
        self.people: dict[int, int] = {}

    def add(self, steps: np.ndarray, who: np.ndarray, customer_hash: np.ndarray, member_hash: np.ndarray | None,
            member_seg: np.ndarray | None) -> None:
        """Add a batch's paths: ``steps`` (codes), ``who`` (the batch's customer numbers) and its customers' hashes."""
        seg = np.zeros(who.size, np.int64)
        if member_hash is not None and who.size:  # each path once per segment of its customer (none: no member)
            first = np.searchsorted(member_hash, customer_hash, "left")  # per customer, not per path
            lo = first[who]
            many = (np.searchsorted(member_hash, customer_hash, "right") - first)[who]
            rows = np.repeat(np.arange(who.size), many)
            seg = member_seg[np.repeat(lo, many) + _ranks(many)]
            steps, who = steps[rows], who[rows]
        if who.size == 0:
            return
        cell = seg * self.base ** self.length  # (segment, path) as one number
        for j in range(self.length):
            cell += steps[:, j] * self.base ** j
        cells, sessions = _counted(cell)
        # distinct (customer, cell) pairs: numbered by the cell's rank among this batch's cells
        pair = _distinct(who.astype(np.int64) * cells.size + np.searchsorted(cells, cell))
        customers = np.bincount(pair % cells.size, minlength=cells.size)
        people = _distinct(seg * (int(who.max()) + 1) + who) // (int(who.max()) + 1)
        for s, k in zip(*_counted(people)):
            self.people[int(s)] = self.people.get(int(s), 0) + int(k)
        for cl, n, k in zip(cells.tolist(), sessions.tolist(), customers.tolist()):
            self.sessions[cl] = self.sessions.get(cl, 0) + n
            self.customers[cl] = self.customers.get(cl, 0) + k

    def rows(self, names: list[str], seg_names: list[str]) -> list[dict[str, Any]]:
        """One row per (segment, path) found: the segment's name, the steps' names, the counts."""
        out: list[dict[str, Any]] = []
        firsts_left = dict(self.people)
        width = self.base ** self.length
        for cl, n in self.sessions.items():
            s, path = divmod(cl, width)
            row: dict[str, Any] = {"segment": seg_names[s]}
            for j in range(self.length):
                path, code = divmod(path, self.base)
                row[f"s{j}"] = None if code == self.base - 1 else names[code]
            row.update(sessions=n, customers=self.customers[cl], firsts=firsts_left.pop(s, 0))
            out.append(row)
        return out


def _counted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (sorted) and how often each occurs: by a sort (faster than ``np.unique``'s hashing
    when most values differ)."""
    v = np.sort(values)
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    return v[starts], np.diff(np.r_[starts, v.size])


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted."""
    v = np.sort(values)
    return v[np.r_[True, v[1:] != v[:-1]]]


def _ranks(many: np.ndarray) -> np.ndarray:
    """0, 1, ... within each run of ``np.repeat(..., many)``: each path row's place among its customer's segments."""
    total = int(many.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    starts = np.repeat(np.cumsum(many) - many, many)
    return np.arange(total) - starts
