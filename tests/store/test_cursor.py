"""Store.cursor(): another thread's store on the same open database."""

from __future__ import annotations

import datetime as dt
import threading

from segmint.segment import membership as ms
from segmint.store import Store

from .test_portable import T1, _labels, _version


def test_cursor_reads_committed_state_and_closes_alone(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    cursor = store.cursor()
    assert cursor.path == store.path and cursor.con is not store.con
    assert cursor.setting("TimeZone") == "UTC"  # the parent's session settings do not carry over by themselves
    seen = []
    ms.write_run(store, "life", 1, T1, _labels(["c1"], ["A"]), _version("life", 1, "{}"), exclusive=True)
    thread = threading.Thread(target=lambda: seen.append(cursor.runs.find("life")))
    thread.start()
    thread.join()
    assert seen == [[(1, T1, True)]]
    cursor.close()
    assert store.runs.lookup("life", 1, T1, "c1") == (["A"], '{"why": "A"}')  # the parent stays open
    store.close()


def test_a_cursor_does_not_see_an_uncommitted_run(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    store.runs.ensure_tables()
    cursor = store.cursor()
    store._raw.begin()
    try:
        store.runs.insert_summary("life", 1, dt.datetime(2024, 1, 1), True, None)
        assert cursor.runs.find("life") == []  # MVCC: the writer's transaction is not committed yet
    finally:
        store._raw.rollback()
    cursor.close()
    store.close()
