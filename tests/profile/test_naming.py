"""Names come from transparent word rules; given and RFM names are kept."""

from __future__ import annotations

import pandas as pd
from .profile_fixtures import get_planted, get_planted_profile

from segmint.profile import name_segments, profile
from segmint.profile.naming import WORD_RULES, is_given_name


def test_planted_segments_get_telling_names():
    planted_profile = get_planted_profile()
    names = name_segments(planted_profile).set_index("segment")
    assert names.loc["0", "name"] == "High-value regulars"
    assert names.loc["1", "name"] == "Lapsed bargain hunters"
    assert names.loc["2", "name"].startswith("New")
    assert names.loc["3", "name"] == "Books fans"
    assert "returners" in names.loc["4", "name"]
    assert names.name.is_unique
    assert (names.source == "rules").all()
    assert any("recency days index" in r for r in names.loc["1", "reasons"])


def test_rfm_and_given_names_are_kept():
    planted = get_planted()
    features, _ = planted
    rfm = pd.Series(["Champions", "At risk", "Hibernating", "Loyal customers", "Lost"] * 500, index=features.index)
    assert name_segments(profile(features, rfm)).source.eq("rfm").all()
    given = pd.Series(["VIP", "cluster 2"] * 1250, index=features.index)
    names = name_segments(profile(features, given)).set_index("segment")
    assert names.loc["VIP", "name"] == "VIP" and names.loc["cluster 2", "source"] == "rules"
    assert not is_given_name("segment_12") and is_given_name("Weekend shoppers")


def test_colliding_names_are_told_apart():
    planted = get_planted()
    features, labels = planted
    split = labels.astype(str).where(labels != 0, pd.Series(["0", "5"] * 1250, index=labels.index))
    names = name_segments(profile(features, split))
    assert names.name.is_unique


def test_word_rules_are_data():
    slots = {r.slot for r in WORD_RULES}
    assert slots == {"value", "state", "noun"}
