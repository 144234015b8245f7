"""Checking rules against a feature catalog: unknown names and type mismatches."""

from __future__ import annotations

import ibis
import pytest

from segmint.errors import ConfigError, UnknownNameError
from segmint.segment.rule_compile import catalog_from_schema
from segmint.segment.rules import check, parse

CATALOG = {
    "monetary_total": "numeric",
    "frequency": "int",
    "region": "string",
    "is_active": "boolean",
    "first_order": "date",
    "last_seen": "timestamp",
}


@pytest.mark.parametrize(
    "rule",
    [
        "monetary_total >= 1000 and frequency >= 6",
        "monetary_total / frequency > 50 and -frequency < 0",
        "region in ('North', 'South') or region is null",
        "is_active and not is_active = false",
        "first_order >= date '2024-01-01' and last_seen < first_order",
        "last_seen between date '2024-01-01' and timestamp '2024-06-01 12:00:00'",
        "region < 'M'",
        "monetary_total + null > 1",
        "in_segment('lifecycle', 'VIP')",
    ],
)
def test_valid_rules_pass(rule):
    assert check(rule, CATALOG) == parse(rule)


def test_unknown_feature_suggests_close_name():
    with pytest.raises(
        UnknownNameError, match="unknown feature 'monetary_totl'.*did you mean 'monetary_total'"
    ):
        check("monetary_totl > 5", CATALOG)
    with pytest.raises(KeyError):  # UnknownNameError is also a KeyError
        check("zzz > 5", CATALOG)
    with pytest.raises(UnknownNameError, match="known names: "):
        check("zzz > 5", CATALOG)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("region > 5", "cannot compare feature 'region' (string) with 5 (numeric)"),
        ("region + 1 > 5", "arithmetic needs numbers but feature 'region' (string) is not one"),
        ("-region = 'x'", "arithmetic needs numbers but feature 'region' (string)"),
        (
            "monetary_total in ('a', 'b')",
            "cannot compare feature 'monetary_total' (numeric) with 'a' (string)",
        ),
        ("first_order > '2024-01-01'", "write dates as date '2024-01-31'"),
        ("frequency between 1 and 'x'", "cannot compare feature 'frequency' (numeric)"),
        ("is_active > true", "feature 'is_active' (boolean) has no order"),
        ("monetary_total", "expected a condition (true/false) but feature 'monetary_total' (numeric)"),
        ("monetary_total and is_active", "feature 'monetary_total' (numeric) is not one"),
        ("not region", "feature 'region' (string) is not one"),
        ("region = null", "use 'is null'"),
        ("monetary_total + 1", "expected a condition"),
    ],
)
def test_type_mismatches_name_the_feature_and_kind(rule, message):
    with pytest.raises(ConfigError) as err:
        check(rule, CATALOG)
    assert message in str(err.value)
    assert rule in str(err.value) or parse(rule).to_text() in str(err.value)


def test_unknown_kind_in_catalog():
    with pytest.raises(ConfigError, match="unknown kind 'blob'"):
        check("x > 1", {"x": "blob"})


def test_memberships_checked_when_segmentations_given():
    segs = {"lifecycle": ["VIP", "Loyal"]}
    check("in_segment('lifecycle', 'VIP')", CATALOG, segs)
    with pytest.raises(UnknownNameError, match="did you mean 'lifecycle'"):
        check("in_segment('lifecycl', 'VIP')", CATALOG, segs)
    with pytest.raises(UnknownNameError, match="has no segment 'Loyl'.*did you mean 'Loyal'"):
        check("segment(lifecycle) = 'Loyl'", CATALOG, segs)


def test_catalog_from_schema():
    schema = ibis.schema(
        {
            "a": "int32",
            "b": "float64",
            "c": "decimal(10, 2)",
            "s": "string",
            "f": "boolean",
            "d": "date",
            "t": "timestamp",
            "arr": "array<int64>",
        }
    )
    assert catalog_from_schema(schema) == {
        "a": "numeric",
        "b": "numeric",
        "c": "numeric",
        "s": "string",
        "f": "boolean",
        "d": "date",
        "t": "timestamp",
        "arr": "other",
    }
    with pytest.raises(ConfigError, match="cannot be compared"):
        check("arr = 1", catalog_from_schema(schema))
