"""Membership history, migrations between dates, and between versions of a definition."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from segmint.errors import DataError
from segmint.segment import runs

from .test_service import AS_OF, set_segmentations, small_shop

EARLIER = dt.date(2024, 6, 1)
RULES = {"kind": "rules", "segments": {"Recent": "recency_days <= 40", "Big": "monetary_total >= 900"},
         "else": "Other"}


@pytest.fixture
def shop(ws):
    small_shop(ws, {"life": RULES})
    return ws


def _labels(ws, as_of):
    return ws.members("life", as_of=as_of).to_pyarrow().to_pandas().set_index("customer_id")["segment"]


def test_history_records_who_entered_and_left(shop):
    shop.segment("life", as_of=EARLIER)
    shop.segment("life", as_of=AS_OF)
    before, after = _labels(shop, EARLIER), _labels(shop, AS_OF)
    hist = shop.history("life").frame.set_index(["as_of", "segment"])
    for seg in ("Recent", "Big", "Other"):
        now = hist.loc[(pd.Timestamp(AS_OF), seg)]
        in_before, in_after = set(before[before == seg].index), set(after[after == seg].index)
        assert (now["size"], now["entered"], now["left"]) == (len(in_after), len(in_after - in_before),
                                                              len(in_before - in_after))
        assert pd.isna(hist.loc[(pd.Timestamp(EARLIER), seg), "entered"])


def test_diff_between_dates_matches_pandas(shop):
    shop.segment("life", as_of=EARLIER)
    shop.segment("life", as_of=AS_OF)
    before, after = _labels(shop, EARLIER), _labels(shop, AS_OF)
    info = shop.diff("life", EARLIER, AS_OF)
    joined = pd.concat([before.rename("a"), after.rename("b")], axis=1).fillna("(not in base)")
    expected = pd.crosstab(joined["a"], joined["b"])
    assert info.matrix.to_dict() == expected.to_dict()
    moved = info.moved.to_pyarrow().to_pandas()
    assert set(moved["customer_id"]) == set(joined.index[joined.a != joined.b])
    assert info.moved_count == len(moved) and info.customers == len(joined)
    assert info.summary.startswith(f"{len(moved)} of {len(joined)} customers")
    with pytest.raises(DataError, match="no run as of 2024-01-01"):
        shop.diff("life", "2024-01-01", AS_OF)


def test_diff_between_versions_at_one_date(shop):
    shop.segment("life", as_of=AS_OF)
    set_segmentations(shop, {"life": {**RULES, "segments": {"Recent": "recency_days <= 40",
                                                            "Big": "monetary_total >= 2000"}}})
    v2 = shop.segment("life", as_of=AS_OF)
    assert v2.version == 2
    info = shop.diff_versions("life", 1, 2)
    # Big needs 2000 instead of 900: C06..C08 (900..1600) leave Big for Other.
    assert info.matrix.loc["Big", "Other"] == 3 and info.moved_count == 3
    changes = info.changes.set_index("segment")
    assert (changes.loc["Big", "left"], changes.loc["Other", "entered"]) == (3, 3)
    assert "3 of 13 customers (23.1%) change segment; Big: 3 leave, 0 enter" in info.summary
    # A version without a run at a date is applied on the fly, nothing stored.
    shop.segment("life", as_of=EARLIER)
    rows = shop.store.count("memberships")
    info = shop.diff_versions("life", 1, 2, as_of=EARLIER)
    assert info.as_of == "2024-06-01" and shop.store.count("memberships") == rows


def test_exclusive_runs_store_the_rows_the_join_back_stores(shop):
    # Exclusive runs store each customer's segments straight from the labels (ms.write_run with
    # exclusive=True); they must be the rows the general path (memberships read back, collected
    # and joined to the reasons) stores. No "else" here, so some customers have no segment.
    from segmint.segment import membership as ms
    from segmint.segment.reasons import reasons_table
    from segmint.segment.context import features_at
    from segmint.segment.kinds import check_doc
    from segmint.segment.runs import label_table

    set_segmentations(shop, {"life": {k: v for k, v in RULES.items() if k != "else"}})
    shop.segment("life", as_of=AS_OF)
    version, when = runs.run_of(shop.segment_context(), "life", AS_OF)
    doc = check_doc(ms.model_text(shop.store, "life", version))
    table = features_at(shop.segment_context(), AS_OF)[0]
    con = shop.store.con.con
    query = ('SELECT customer_id, segments, reasons FROM membership_reasons WHERE segmentation = ? '
             'ORDER BY customer_id')
    fast = con.execute(query, ["life"]).fetchall()
    # Both tables are written in customer order (block statistics narrow a look-up), the exclusive path
    # by sorting its temporary table once and keeping that order in both inserts.
    for stored in ("memberships", "membership_reasons"):
        ids = [r[0] for r in con.execute(f"SELECT customer_id FROM {stored} WHERE segmentation = ? ORDER BY rowid",
                                         ["life"]).fetchall()]
        assert len(ids) > 1 and ids == sorted(ids), stored
    ms.write_run(shop.store, "life", version, when, label_table(doc, table), reasons=reasons_table(doc, table))
    assert con.execute(query, ["life"]).fetchall() == fast
    assert any(segments is None for _, segments, _ in fast)  # customers in no segment: stored as null
    assert {tuple(s) for _, s, _ in fast if s is not None} == {("Recent",), ("Big",)}
    stored_runs = con.execute("SELECT reasons, customers FROM segmentation_runs WHERE segmentation = ?", ["life"])
    assert stored_runs.fetchall() == [(True, sum(s is not None for _, s, _ in fast))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exclusive_migration_counts_equal_the_general_joins(seed):
    """The exclusive path reads every per-segment figure off the (from, to) matrix; the general path (one
    join per figure, for audiences) must give the same table on exclusive runs, customers new and gone included."""
    import ibis
    import numpy as np

    from segmint.segment.membership import migration

    rng = np.random.default_rng(seed)
    segs = np.array(["A", "B", "C", "D"])

    def run(n, shift):
        ids = rng.choice(300, n, replace=False) + shift
        return ibis.memtable(pd.DataFrame({"customer_id": [f"c{i}" for i in ids],
                                           "segment": segs[rng.integers(0, 3 + seed % 2, n)]}))

    before, after = run(200, 0), run(220, 40)
    fast = migration(before, after, exclusive=True)
    slow = migration(before, after, exclusive=False)
    pd.testing.assert_frame_equal(fast["changes"], slow["changes"])
    assert fast["changes"]["left"].sum() > 0 and fast["changes"]["entered"].sum() > 0
    empty = ibis.memtable(pd.DataFrame({"customer_id": pd.Series([], dtype=str), "segment": pd.Series([], dtype=str)}))
    for a, b in ((empty, after), (before, empty)):
        pd.testing.assert_frame_equal(migration(a, b, exclusive=True)["changes"],
                                      migration(a, b, exclusive=False)["changes"])
