"""The outbox: every change of membership, in the same transaction as the memberships (issue 18)."""

from __future__ import annotations

import pytest

from segmint.activate import outbox
from tests.activate.conftest import write


def _changes(ws, after=0):
    return [(c["seq"], c["customer_id"], c["segment"], c["change"], c["customer_seq"])
            for c in outbox.changes(ws.store, after=after)]


def test_first_run_enters_everyone_then_only_moves_are_written(shop):
    write(shop, "value", 1, {"C00": "VIP", "C01": "New", "C02": "New"})
    assert _changes(shop) == [(1, "C00", "VIP", "entered", 1), (2, "C01", "New", "entered", 1),
                              (3, "C02", "New", "entered", 1)]
    write(shop, "value", 2, {"C00": "VIP", "C01": "VIP", "C03": "New"})
    # C01 moves (exit before entry), C02 leaves, C03 arrives; C00 stays and writes nothing
    assert _changes(shop, after=3) == [(4, "C01", "New", "exited", 2), (5, "C01", "VIP", "entered", 3),
                                       (6, "C02", "New", "exited", 2), (7, "C03", "New", "entered", 1)]
    audience = outbox.audience(shop.store).order_by("customer_id").to_pyarrow().to_pylist()
    assert [(r["customer_id"], r["segment"]) for r in audience] == [("C00", "VIP"), ("C01", "VIP"), ("C03", "New")]


def test_rerunning_the_same_run_writes_nothing(shop):
    write(shop, "value", 1, {"C00": "VIP", "C01": "New"})
    write(shop, "value", 1, {"C00": "VIP", "C01": "New"})
    assert outbox.last_seq(shop.store) == 2


def test_a_backfill_of_an_earlier_date_changes_history_not_the_audience(shop):
    write(shop, "value", 5, {"C00": "VIP"})
    write(shop, "value", 2, {"C00": "New", "C01": "New"})
    assert outbox.last_seq(shop.store) == 1
    assert outbox.audience(shop.store).count().to_pyarrow().as_py() == 1


def test_a_failed_run_leaves_no_change_behind(shop, monkeypatch):
    write(shop, "value", 1, {"C00": "VIP"})

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(shop.store.runs, "insert_summary", boom)
    with pytest.raises(RuntimeError):
        write(shop, "value", 2, {"C00": "New", "C01": "New"})
    assert outbox.last_seq(shop.store) == 1
    assert [r["segment"] for r in outbox.audience(shop.store).to_pyarrow().to_pylist()] == ["VIP"]


def test_erasure_writes_deleted_changes_and_unpublishes(shop):
    write(shop, "value", 1, {"C00": "VIP", "C01": "New"})
    write(shop, "other", 1, {"C00": "A"})
    assert outbox.record_deleted(shop.store, ["C00"]) == 2
    deleted = [c for c in outbox.changes(shop.store) if c["change"] == "deleted"]
    assert {(c["segmentation"], c["segment"], c["customer_seq"]) for c in deleted} == {("value", "VIP", 2),
                                                                                       ("other", "A", 2)}
    assert outbox.audience(shop.store).customer_id.to_pyarrow().to_pylist() == ["C01"]


def test_runs_stored_before_the_outbox_are_published_once(shop):
    write(shop, "value", 1, {"C00": "VIP", "C01": "New"})
    for table in (outbox.OUTBOX, outbox.AUDIENCE):  # a workspace from before the outbox
        shop.store.con.drop_table(table)
    assert outbox.bootstrap(shop.store) == ["value"]
    assert outbox.bootstrap(shop.store) == []
    assert outbox.audience(shop.store).count().to_pyarrow().as_py() == 2
    assert outbox.last_seq(shop.store) == 0
