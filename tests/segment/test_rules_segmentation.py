"""Rule segmentations (exclusive and audiences), attrition and explain."""

from __future__ import annotations

import math

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from segmint.errors import ConfigError, DataError, UnknownNameError
from segmint.segment.rules import RuleSegmentation, attrition, compile, conjuncts, explain, resolver_for

SCHEMA = pa.schema(
    [("id", pa.int64()), ("spend", pa.float64()), ("orders", pa.int64()), ("region", pa.string())]
)
ROWS = [
    {"id": 1, "spend": 1500.0, "orders": 8, "region": "North"},
    {"id": 2, "spend": 1000.0, "orders": 6, "region": "South"},
    {"id": 3, "spend": 999.99, "orders": 12, "region": "North"},
    {"id": 4, "spend": None, "orders": 2, "region": None},
    {"id": 5, "spend": 50.0, "orders": None, "region": "East"},
    {"id": 6, "spend": 3000.0, "orders": 1, "region": "West"},
]


@pytest.fixture
def table():
    return ibis.memtable(pa.Table.from_pylist(ROWS, schema=SCHEMA))


@pytest.fixture
def frame():
    # pandas reference: nullable dtypes so that comparisons with missing values give <NA>.
    return pd.DataFrame(ROWS).astype({"spend": "Float64", "orders": "Int64", "region": "string"})


def as_dict(table_expr, key="id"):
    data = table_expr.to_pyarrow().to_pylist()
    return {r[key]: r for r in data}


def test_exclusive_first_match_wins_in_order(table):
    seg = RuleSegmentation(
        [("VIP", "spend >= 1000 and orders >= 6"), ("Big", "spend >= 1000"), ("Frequent", "orders >= 6")],
        else_="Other",
    )
    got = {k: v["segment"] for k, v in as_dict(seg.assign(table, "id")).items()}
    assert got == {1: "VIP", 2: "VIP", 3: "Frequent", 4: "Other", 5: "Other", 6: "Big"}
    # Reversing the order changes who wins.
    rev = RuleSegmentation([(s.name, s.rule) for s in reversed(seg.segments)], else_="Other")
    got = {k: v["segment"] for k, v in as_dict(rev.assign(table, "id")).items()}
    assert got == {1: "Frequent", 2: "Frequent", 3: "Frequent", 4: "Other", 5: "Other", 6: "Big"}


def test_exclusive_without_else_gives_null(table):
    seg = RuleSegmentation([("Big", "spend > 1000")])
    got = {k: v["seg"] for k, v in as_dict(seg.assign(table, "id", column="seg"), "id").items()}
    assert got == {1: "Big", 2: None, 3: None, 4: None, 5: None, 6: "Big"}


def test_audiences_overlap(table, frame):
    seg = RuleSegmentation(
        {"big": "spend >= 1000", "north": "region = 'North'", "loyal": "orders >= 6"},
        else_="rest",
        exclusive=False,
    )
    got = pd.DataFrame(seg.assign(table, "id").to_pyarrow().to_pylist()).set_index("id").sort_index()
    expected = pd.DataFrame(
        {
            "big": (frame.spend >= 1000).fillna(False).astype(bool).values,
            "north": (frame.region == "North").fillna(False).astype(bool).values,
            "loyal": (frame.orders >= 6).fillna(False).astype(bool).values,
        },
        index=pd.Index(frame.id.values, name="id"),
    )
    expected["rest"] = ~(expected.big | expected.north | expected.loyal)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got.loc[1].tolist() == [True, True, True, False]  # in three audiences at once


@pytest.mark.parametrize(
    ("segments", "kwargs", "message"),
    [
        ([("A", "x > 1"), ("A", "x > 2")], {}, "repeated: 'A'"),
        ([("A", "x > 1")], {"else_": "A"}, "repeated: 'A'"),
        ([("A", "  ")], {}, "segment 'A' has an empty 'where'"),
        ([("A", None)], {}, "empty 'where'"),
        ([("", "x > 1")], {}, "non-empty text"),
        ([], {}, "at least one segment"),
        (["A"], {}, "(name, where) pair"),
        ([("A", "x >")], {}, "segment 'A': invalid rule at column 4"),
        ([("A", "x > 1")], {"else_": 5}, "'else' must be a non-empty segment name"),
    ],
)
def test_segmentation_validation(segments, kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RuleSegmentation(segments, **kwargs)


def test_segmentation_check_and_features_and_dict_round_trip(table):
    seg = RuleSegmentation([("A", "spend > 1 and orders > 2"), ("B", "region = 'x' or spend < 0")], else_="C")
    assert seg.features() == ["spend", "orders", "region"]
    assert seg.names == ["A", "B", "C"]
    with pytest.raises(UnknownNameError, match="segment 'A'.*did you mean 'orderz'"):
        seg.check({"spend": "numeric", "orderz": "numeric", "region": "string"})
    with pytest.raises(ConfigError, match="segment 'B'.*feature 'region' \\(numeric\\)"):
        seg.check({"spend": "numeric", "orders": "numeric", "region": "numeric"})
    again = RuleSegmentation.from_dict(seg.to_dict())
    assert again.to_dict() == seg.to_dict() and again.segments == seg.segments
    with pytest.raises(ConfigError, match="'segments'"):
        RuleSegmentation.from_dict({"segs": []})
    with pytest.raises(UnknownNameError, match="no id column 'idd'"):
        seg.assign(table, "idd")
    with pytest.raises(ConfigError, match="clashes with the id column"):
        RuleSegmentation([("id", "spend > 1")], exclusive=False).assign(table, "id")


def test_resolver_for_other_segmentations_and_cycles(table):
    life = RuleSegmentation([("VIP", "spend >= 1000"), ("Active", "orders >= 2")], else_="Other")
    aud = RuleSegmentation({"north": "region = 'North'"}, exclusive=False)
    segs = {"life": life, "aud": aud}
    resolver = resolver_for(segs, table)
    sel = compile(
        "segment(life) = 'Active' or (in_segment('aud', 'north') and segment(life) = 'VIP')", table, resolver
    )
    assert sorted(table.filter(sel).to_pyarrow()["id"].to_pylist()) == [1, 3, 4]
    with pytest.raises(UnknownNameError, match="did you mean 'VIP'"):
        compile("segment(life) = 'VPI'", table, resolver)
    with pytest.raises(UnknownNameError, match="did you mean 'life'"):
        compile("segment(lif) = 'VIP'", table, resolver)
    loop = {
        "x": RuleSegmentation([("a", "in_segment('y', 'b')")]),
        "y": RuleSegmentation([("b", "segment(x) = 'a'")]),
    }
    with pytest.raises(ConfigError, match="cycle: x -> y -> x"):
        compile("segment(x) = 'a'", table, resolver_for(loop, table))


def test_attrition_matches_pandas_and_runs_one_query(table, frame, monkeypatch):
    rule = "spend >= 1000 and (orders >= 6 and region != 'South') and not spend > 2000"
    assert [c.to_text() for c in conjuncts(rule)] == [
        "spend >= 1000",
        "orders >= 6",
        "region != 'South'",
        "not spend > 2000",
    ]
    masks = [
        (frame.spend >= 1000).fillna(False),
        (frame.orders >= 6).fillna(False),
        (frame.region != "South").fillna(False),
        (~(frame.spend > 2000)).fillna(False),  # not <NA> stays <NA>, then unknown -> not kept
    ]
    calls = []
    original = ibis.expr.types.Table.to_pyarrow

    def counting(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ibis.expr.types.Table, "to_pyarrow", counting)
    df = attrition(rule, table)
    assert len(calls) == 1
    cum = pd.Series(True, index=frame.index)
    for i, mask in enumerate(masks):
        cum = cum & mask.astype(bool)
        assert df.kept_alone[i] == int(mask.astype(bool).sum())
        assert df.kept_cumulative[i] == int(cum.sum())
        assert df.share_of_base[i] == pytest.approx(cum.sum() / len(frame))
    assert df.kept_cumulative.tolist() == [3, 2, 1, 1]
    assert df.dropped.tolist() == [3, 1, 1, 0]
    assert df.attrs["base"] == 6


def test_attrition_single_condition_and_empty_table():
    empty = ibis.memtable(pa.Table.from_pylist([], schema=SCHEMA))
    df = attrition("spend > 1", empty)
    assert df.kept_alone.tolist() == [0] and df.kept_cumulative.tolist() == [0]
    assert math.isnan(df.share_of_base[0])


def test_explain_one_customer(table):
    rule = "spend >= 1000 and (orders >= 10 or region = 'North') and not spend > 2000"
    why = explain(rule, table, "id", 1)
    assert why.condition.tolist() == [
        rule,
        "spend >= 1000",
        "orders >= 10 or region = 'North'",
        "orders >= 10",
        "region = 'North'",
        "not spend > 2000",
        "spend > 2000",
    ]
    assert why.depth.tolist() == [0, 1, 1, 2, 2, 1, 2]
    assert why.held.tolist() == [True, True, True, False, True, True, False]
    assert why["values"][2] == {"orders": 8, "region": "North"}
    assert why["values"][0] == {"spend": 1500.0, "orders": 8, "region": "North"}


def test_explain_unknown_and_errors(table):
    why = explain("spend >= 1000 and orders > 1", table, "id", 4)
    assert why.held.tolist() == [None, None, True]  # unknown: spend is null
    assert why["values"][1] == {"spend": None}
    assert explain("spend > 1", table, "id", "4").held.tolist() == [None]  # ids typed as text (CLI)
    with pytest.raises(UnknownNameError, match="holds whole numbers"):
        explain("spend > 1", table, "id", "abc")
    by_region = explain("spend > 1", table, "region", "East")
    assert by_region.held.tolist() == [True]
    with pytest.raises(UnknownNameError, match="customer 99 not found"):
        explain("spend > 1", table, "id", 99)
    with pytest.raises(UnknownNameError, match="no id column"):
        explain("spend > 1", table, "ident", 1)
    dup = ibis.memtable(pa.Table.from_pylist(ROWS + ROWS[:1], schema=SCHEMA))
    with pytest.raises(DataError, match="more than once"):
        explain("spend > 1", dup, "id", 1)


def test_explain_with_membership(table):
    life = RuleSegmentation([("VIP", "spend >= 1000")], else_="Other")
    why = explain(
        "in_segment('life', 'VIP') and orders > 5", table, "id", 6, resolver_for({"life": life}, table)
    )
    assert why.held.tolist() == [False, True, False]
    assert why["values"][1] == {}
