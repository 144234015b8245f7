"""Tokenizer and parser of the rule language: precedence, literals, errors, round trips."""

from __future__ import annotations

import datetime as dt

import pytest

from segmint.errors import ConfigError
from segmint.segment.rule_parser import (
    And,
    Between,
    BinOp,
    Compare,
    InList,
    IsNull,
    Literal,
    Membership,
    Name,
    Neg,
    Not,
    Or,
    parse,
    tokenize,
)

a, b, c = Name("a"), Name("b"), Name("c")


def gt(x, v):
    return Compare(">", x, Literal(v))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a > 1 or b > 1 and c > 1", Or((gt(a, 1), And((gt(b, 1), gt(c, 1)))))),
        ("not a > 1 and b > 1", And((Not(gt(a, 1)), gt(b, 1)))),
        ("not (a > 1 and b > 1)", Not(And((gt(a, 1), gt(b, 1))))),
        ("a > 1 and b > 1 and c > 1", And((gt(a, 1), gt(b, 1), gt(c, 1)))),
        ("(a > 1 and b > 1) and c > 1", And((And((gt(a, 1), gt(b, 1))), gt(c, 1)))),
        ("a + b * c > 1", gt(BinOp("+", a, BinOp("*", b, c)), 1)),
        ("(a + b) * c > 1", gt(BinOp("*", BinOp("+", a, b), c), 1)),
        ("a - b - c > 1", gt(BinOp("-", BinOp("-", a, b), c), 1)),
        ("a / b / c > 1", gt(BinOp("/", BinOp("/", a, b), c), 1)),
        ("-a * b > 1", gt(BinOp("*", Neg(a), b), 1)),
        ("a > -5", gt(a, -5)),
        ("a > - 2.5", gt(a, -2.5)),
        ("a between 1 and 2 and b > 1", And((Between(a, Literal(1), Literal(2)), gt(b, 1)))),
        ("a not between 1 and 2", Between(a, Literal(1), Literal(2), negated=True)),
        ("a between b - 1 and b + 1", Between(a, BinOp("-", b, Literal(1)), BinOp("+", b, Literal(1)))),
        ("a in (1, 2.5, -3)", InList(a, (Literal(1), Literal(2.5), Literal(-3)))),
        ("a not in ('x')", InList(a, (Literal("x"),), negated=True)),
        ("a is null", IsNull(a)),
        ("a is not null", IsNull(a, negated=True)),
        ("not a is null", Not(IsNull(a))),
        ("flag", Name("flag")),
        ("not flag or a = true", Or((Not(Name("flag")), Compare("=", a, Literal(True))))),
    ],
)
def test_precedence_and_shapes(text, tree):
    assert parse(text) == tree


def test_comparison_operators_are_normalised():
    assert parse("a == 1") == parse("a = 1")
    assert parse("a <> 1") == parse("a != 1")
    for op in ("<", "<=", ">", ">="):
        assert parse(f"a {op} 1").op == op


def test_keywords_are_case_insensitive():
    assert parse("A > 1 AND NOT b IS NULL Or c BETWEEN 1 aNd 2") == parse(
        "A > 1 and not b is null or c between 1 and 2"
    )
    assert parse("x = TRUE or y IS NOT NULL") == parse("x = true or y is not null")
    assert parse("d >= DATE '2024-01-31'").right == Literal(dt.date(2024, 1, 31))
    # Identifiers keep their case: they name columns.
    assert parse("Spend > 1").left == Name("Spend")


def test_literals():
    assert parse("s = 'it''s'").right == Literal("it's")
    assert parse('s = "say ""hi"""').right == Literal('say "hi"')
    assert parse('s = "it\'s"').right == Literal("it's")
    assert parse("x = 1.5e3").right == Literal(1500.0)
    assert parse("x = .5").right == Literal(0.5)
    assert parse("x = 10").right == Literal(10)
    assert parse("t > timestamp '2024-01-31 10:30:00'").right == Literal(dt.datetime(2024, 1, 31, 10, 30))
    assert parse("x is null or y = null").items[1].right == Literal(None)


def test_literal_equality_respects_type():
    assert Literal(1) != Literal(1.0)
    assert Literal(1) != Literal(True)
    assert parse("x = 1") != parse("x = true")


def test_membership_syntaxes():
    assert parse("in_segment('lifecycle', 'VIP')") == Membership("lifecycle", "VIP")
    assert parse("segment(lifecycle) = 'VIP'") == Membership("lifecycle", "VIP")
    assert parse("SEGMENT('lifecycle') != 'VIP'") == Not(Membership("lifecycle", "VIP"))
    assert parse("segment(lifecycle) in ('VIP', 'Loyal')") == Or(
        (Membership("lifecycle", "VIP"), Membership("lifecycle", "Loyal"))
    )
    assert parse("segment(lifecycle) not in ('VIP')") == Not(Membership("lifecycle", "VIP"))
    # A feature called "segment" still works when not called like a function.
    assert parse("segment = 'x'") == Compare("=", Name("segment"), Literal("x"))
    assert parse("in_segment('life', 'VIP') and a > 1").memberships() == [("life", "VIP")]


@pytest.mark.parametrize(
    "text",
    [
        "monetary_total >= 1000 and orders_last_365 >= 6",
        "recency_days between 90 and 180 and frequency >= 3",
        "region in ('North', 'South')",
        "industry is null",
        "not promo_share > 0.5",
        "monetary_total / frequency > 50",
        "segment(lifecycle) = 'VIP' or in_segment('x y', 'it''s')",
        "(a > 1 or b > 1) and not (c > 1 and a < 2)",
        "a - (b - c) > 1 and a / (b * c) < 2 and -(a + b) >= -(5) and - -a > 0",
        "(a > 1) = (b > 2) and (a > 1) is null",
        "(a and b) and (c or d) or not not e",
        "d between date '2024-01-01' and date '2024-12-31' and t < timestamp '2024-01-01 00:00:00'",
        "a > 1e-07 and b < 1e+20 and c = -0.5",
    ],
)
def test_round_trip(text):
    tree = parse(text)
    assert parse(tree.to_text()) == tree
    assert tree.to_text() == parse(tree.to_text()).to_text()


def test_backtick_names_allow_keywords_and_odd_characters():
    assert parse("`date` > 1").left == Name("date")
    assert parse("`order count` >= 2 and `segment` = 'x'").features() == ["order count", "segment"]
    for name in ("date", "order count", "Null", "x-y"):
        tree = Compare(">", Name(name), Literal(1))
        assert tree.to_text().startswith("`") and parse(tree.to_text()) == tree
    assert Name("plain_name").to_text() == "plain_name"
    with pytest.raises(ConfigError, match="unterminated `name`"):
        parse("`abc > 1")


def test_to_text_is_canonical():
    assert parse("A>1 AND  b<>'x'").to_text() == "A > 1 and b != 'x'"
    assert parse("(a > 1)").to_text() == "a > 1"
    assert parse("a > 1 and (b > 1 or c > 1)").to_text() == "a > 1 and (b > 1 or c > 1)"


def test_features_in_order_without_repeats():
    tree = parse("b > 1 and (a + b > c or a is null) and in_segment('s', 'x')")
    assert tree.features() == ["b", "a", "c"]


def _caret_column(message: str) -> int:
    lines = message.splitlines()
    return lines[-1].index("^") - 4  # the rule and the caret are indented by four spaces


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("a >", 3, "expected a feature name, a value or '('"),
        ("a > 1 and", 9, "expected a feature name"),
        ("a > 1 b < 2", 6, "expected 'and', 'or' or the end of the rule"),
        ("(a > 1", 6, "expected ')'"),
        ("a between 1 or 2", 12, "'and' between the two bounds"),
        ("a in 1, 2", 5, "'(' to start the list"),
        ("a in (1, b)", 9, "a constant value"),
        ("a in (1, null)", 9, "use 'is null'"),
        ("a is 5", 5, "'null' after 'is'"),
        ("a > 'open", 4, "unterminated string"),
        ("a $ 1", 2, "unexpected character '$'"),
        ("", 0, "expected a condition"),
        ("d > date '2024-13-01'", 9, "not a valid date"),
        ("foo(a) > 1", 3, "the only functions are in_segment"),
        ("a < b < c", 6, "expected 'and', 'or'"),
        ("1abc > 1", 1, "a name cannot start with a digit"),
        ("segment(life) > 'x'", 14, "'=', '!=' or 'in' after segment"),
    ],
)
def test_syntax_errors_show_caret_and_expectation(text, column, expected):
    with pytest.raises(ConfigError) as err:
        parse(text)
    message = str(err.value)
    assert expected in message
    assert f"column {column + 1}" in message
    assert message.splitlines()[-2].strip() == text.strip()
    assert _caret_column(message) == column


def test_non_text_rule_is_rejected():
    with pytest.raises(ConfigError, match="must be text"):
        parse(5)


def test_tokenizer_positions():
    toks = tokenize("ab >= 'x y'")
    assert [(t.kind, t.pos) for t in toks] == [("ident", 0), ("op", 3), ("string", 6), ("eof", 11)]


# ---------------------------------------------------------------------------- limits (issue 15, Low)
@pytest.mark.parametrize("rule, message", [
    ("(" * 300 + "x > 1" + ")" * 300, "nests more than 64 levels"),
    ("not " * 995 + "x > 1", "nests more than 64 levels"),
    ("-" * 200 + "x > 1", "nests more than 64 levels"),
    (" + ".join(["x"] * 100) + " > 0", "nests more than 64 levels"),
    ("x > 12345678901234567890123456789012345", "too large: at most 9,223,372,036,854,775,807"),
    ("x > 1e999999", "1e999999 is too large"),
    ("x < -1e999999", "1e999999 is too large"),
    (" and ".join(["x > 0"] * 1000), "rule too large"),
    ("x" * 30_000, "at most 20,000 characters"),
])
def test_rules_past_the_limits_are_refused_with_a_clear_error(rule, message):
    with pytest.raises(ConfigError, match=message):
        parse(rule)


def test_rules_within_the_limits_parse_and_compile():
    import ibis
    import pandas as pd

    from segmint.segment.rule_compile import compile as compile_rule
    from segmint.segment.rule_parser import MAX_DEPTH, MAX_NODES

    t = ibis.memtable(pd.DataFrame({"customer_id": ["a", "b"], "x": [1.0, 2.0]}))
    deepest = "(" * (MAX_DEPTH - 1) + "x > 1" + ")" * (MAX_DEPTH - 1)
    longest_chain = " + ".join(["x"] * MAX_DEPTH) + " > 100"
    widest = " and ".join(["x > 0"] * ((MAX_NODES - 1) // 3))  # And + (Compare, Name, Literal) per condition
    nots = "not " * (MAX_DEPTH - 1) + "x > 1"  # an odd number of nots: x <= 1
    for rule, expected in [(deepest, [False, True]), (longest_chain, [False, True]), (widest, [True, True]),
                           (nots, [True, False]), ("x > 9223372036854775807", [False, False])]:
        out = t.select(held=compile_rule(rule, t)).to_pandas()["held"].tolist()
        assert out == expected, rule[:40]
