"""Every feature column of a snapshot is in the catalog, and docs/features.md is current."""

from __future__ import annotations

import pytest
from .conftest import AS_OF

from segmint.errors import UnknownNameError
from segmint.features import CATALOG, FAMILIES, KINDS, catalog_for, load_features, resolve, snapshot
from segmint.features.catalog import TYPES
from segmint.features.docs import DOC_PATH, render


def test_every_snapshot_column_has_an_entry(shop):
    snapshot(shop.store, AS_OF)
    table = load_features(shop.store)
    catalog = catalog_for(table)  # raises on a column without an entry
    assert set(catalog) == set(table.columns) - {"as_of", "customer_id"}
    for name, feature in catalog.items():
        assert feature.description and "{" not in feature.description, name
        assert feature.family in FAMILIES and feature.kind in KINDS and feature.type in TYPES, name
    assert catalog["loyalty_tier"].family == "attribute"  # the extra customer attribute
    assert catalog["category_share_home_garden"].kind == "share"
    assert catalog["survey_nps"].type == "numeric" and catalog["survey_favourite_colour"].type == "string"
    assert catalog["survey_favourite_colour"].kind == "category"
    assert catalog["rfm_score"].kind == "category" and catalog["is_business"].kind == "flag"


def test_unknown_column_is_refused_with_a_suggestion():
    with pytest.raises(UnknownNameError, match="did you mean 'recency_days'"):
        catalog_for({"customer_id": "string", "recency_dayz": "float64"})
    with pytest.raises(UnknownNameError):
        resolve("loyalty_tier")  # an attribute only when the customers table has it
    assert resolve("loyalty_tier", ["loyalty_tier"]).family == "attribute"


def test_patterns_fill_their_placeholder():
    f = resolve("spend_last_45")
    assert f.description == "Amount of purchases in the 45 days before as_of." and f.kind == "amount"
    assert resolve("channel_share_web").description.endswith("channel 'web'.")


def test_entries_are_well_formed():
    for name, f in CATALOG.items():
        assert f.name == name and f.description.endswith(".") and not f.pattern


def test_docs_page_is_current():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run `python -m segmint.features.docs`"
