"""The sorted scan counts the same paths as the window functions and as the paths' definition.

The scan (:mod:`segmint.journeys.path_scan`) is the route on DuckDB for a step stream; the window functions
(:func:`segmint.journeys.paths.mark_sessions` then the engine) the route everywhere else. Both must give the
same figures, on any stream, in any batch size, with members in one or several segments.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segmint.journeys import path_scan
from segmint.journeys.paths import mark_sessions, paths_by_segment, top_paths
from segmint.journeys.steps import step_stream

T0 = pd.Timestamp("2024-01-01 10:00")


def random_stream(seed: int, customers: int = 60, names: str = "abcd", orders: bool = True):
    """Events (and orders) with ties, repeats and gaps around 30 minutes; seconds as well as minutes apart."""
    rng = np.random.default_rng(seed)
    rows, bought = [], []
    for c in range(customers):
        second = int(rng.integers(0, 10_000))
        for _ in range(int(rng.integers(1, 30))):
            second += int(rng.choice([0, 1, 60, 300, 1200, 1799, 1800, 1801, 5400]))
            if orders and rng.random() < 0.15:
                bought.append((f"k{c}", T0 + pd.Timedelta(seconds=second), False))
            else:
                rows.append((f"k{c}", T0 + pd.Timedelta(seconds=second), names[rng.integers(0, len(names))]))
    ev = ibis.memtable(pd.DataFrame(rows, columns=["customer_id", "occurred_at", "event"]))
    od = ibis.memtable(pd.DataFrame(bought, columns=["customer_id", "ordered_at", "returned"])) if orders else None
    return step_stream(ev, od)


def by_engine(stream, members=None, segment=None, collapse=True, **kw):
    return top_paths(mark_sessions(stream, 1800, collapse), members=members, segment=segment, top=10_000, **kw)


def by_scan(stream, members=None, segment=None, collapse=True, **kw):
    return top_paths(stream, members=members, segment=segment, top=10_000, gap_seconds=1800,
                     collapse_repeats=collapse, **kw)


@pytest.mark.parametrize("start,end,length", [("a", None, 5), (None, "b", 3), ("a", "c", 4), (None, None, 2),
                                              ("b", "a", 5), ("order", None, 3), ("a", "a", 3), (None, "order", 5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scan_equals_window_functions(start, end, length, seed):
    stream = random_stream(seed)
    assert path_scan.scannable(stream)
    engine = by_engine(stream, start=start, end=end, length=length)
    scan = by_scan(stream, start=start, end=end, length=length)
    assert scan == engine
    assert engine["sessions"] > 0


@pytest.mark.parametrize("collapse", [True, False])
def test_scan_equals_window_functions_without_collapsing_repeats(collapse):
    stream = random_stream(5)
    assert by_scan(stream, collapse=collapse, start="a") == by_engine(stream, collapse=collapse, start="a")
    assert by_scan(stream, start="a", collapse=False) != by_scan(stream, start="a", collapse=True)


@pytest.mark.parametrize("batch_rows", [1, 7, 64, 100_000])
def test_batches_of_any_size_give_the_same_counts(batch_rows):
    """Customers cut by a batch's end wait for the next batch: a customer is always counted whole."""
    stream = random_stream(3, customers=40)
    whole = path_scan.count_paths(stream, 1800, True, "a", None, 4)
    cut = path_scan.count_paths(stream, 1800, True, "a", None, 4, batch_rows=batch_rows)

    def key(rows):
        return sorted((r["segment"], *[r[f"s{i}"] or "" for i in range(4)], r["sessions"], r["customers"])
                      for r in rows)

    assert key(cut) == key(whole)
    assert sum(r["firsts"] for r in cut) == sum(r["firsts"] for r in whole) > 0


def test_members_in_one_or_several_segments():
    stream = random_stream(4)
    ids = [f"k{c}" for c in range(60)]
    exclusive = ibis.memtable(pd.DataFrame({"customer_id": ids[:50], "segment": ["x", "y"] * 25}))
    assert (paths_by_segment(stream, exclusive, start="a", length=3, top=50, gap_seconds=1800)
            == paths_by_segment(mark_sessions(stream, 1800), exclusive, start="a", length=3, top=50))
    # a non-exclusive segmentation: k0..k29 in both x and y, a segment of nobody with a path
    several = ibis.memtable(pd.DataFrame({"customer_id": ids[:30] * 2 + ["nobody"],
                                          "segment": ["x"] * 30 + ["y"] * 30 + ["z"]}))
    scan = paths_by_segment(stream, several, start="a", length=3, top=50, gap_seconds=1800)
    assert scan == paths_by_segment(mark_sessions(stream, 1800), several, start="a", length=3, top=50)
    assert scan["x"] == scan["y"] and scan["x"]["sessions"] > 0 and scan["z"]["sessions"] == 0
    one = by_scan(stream, members=exclusive, segment="y", start="a", length=3)
    assert one == by_engine(stream, members=exclusive, segment="y", start="a", length=3)


def test_an_unknown_step_has_no_paths():
    stream = random_stream(6)
    assert by_scan(stream, start="nothing") == by_engine(stream, start="nothing")
    assert by_scan(stream, start="nothing")["sessions"] == 0


def test_more_steps_than_a_byte_holds_falls_back_to_the_window_functions():
    names = [f"e{i:03d}" for i in range(path_scan.MAX_STEPS + 5)]
    rows = [(f"k{i % 9}", T0 + pd.Timedelta(minutes=i), names[i]) for i in range(len(names))]
    stream = step_stream(ibis.memtable(pd.DataFrame(rows, columns=["customer_id", "occurred_at", "event"])), None)
    assert path_scan.count_paths(stream, 1800, True, None, None, 3) is None
    assert by_scan(stream, length=3) == by_engine(stream, length=3)


def test_two_member_ids_with_one_hash_fall_back_to_the_window_functions(monkeypatch):
    """A hash that cannot tell two members apart would merge their streams: the scan declines instead."""

    @ibis.udf.scalar.builtin(name="length")
    def colliding(value: str) -> dt.uint64:  # every id of the same length has the same "hash"
        ...

    monkeypatch.setattr(path_scan, "_hash64", colliding)
    stream = random_stream(7)
    members = ibis.memtable(pd.DataFrame({"customer_id": ["k1", "k2", "k3"], "segment": ["x", "x", "y"]}))
    assert path_scan.count_paths(stream, 1800, True, "a", None, 3, members) is None
    assert (paths_by_segment(stream, members, start="a", length=3, gap_seconds=1800)
            == paths_by_segment(mark_sessions(stream, 1800), members, start="a", length=3))
    # the same customer in two segments is not a collision
    twice = ibis.memtable(pd.DataFrame({"customer_id": ["k1", "k1"], "segment": ["x", "y"]}))
    assert path_scan.count_paths(stream, 1800, True, "a", None, 3, twice) is not None


def test_the_read_ahead_thread_hands_over_errors_and_stops_when_the_reader_is_left():
    schema = pa.schema([("x", pa.int64())])

    def failing():
        yield pa.record_batch([pa.array([1])], schema=schema)
        raise RuntimeError("the engine failed")

    got = path_scan._prefetched(pa.RecordBatchReader.from_batches(schema, failing()))
    assert next(got).num_rows == 1
    with pytest.raises(RuntimeError, match="the engine failed"):
        next(got)
    many = (pa.record_batch([pa.array([i])], schema=schema) for i in range(1000))
    left = path_scan._prefetched(pa.RecordBatchReader.from_batches(schema, many), depth=1)
    assert next(left).num_rows == 1
    left.close()  # joins the thread: it must not wait forever on the full queue
    import threading

    assert not any(t.name == "segmint-path-scan" for t in threading.enumerate())
