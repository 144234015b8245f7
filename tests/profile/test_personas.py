"""Persona cards are filled from the statistics; actions come from rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from .profile_fixtures import get_planted, get_planted_profile

from segmint.profile import personas, profile
from segmint.profile.personas import ACTION_RULES


def test_cards_describe_planted_segments():
    planted_profile = get_planted_profile()
    cards = {c.segment: c for c in personas(planted_profile)}
    assert set(cards) == {"0", "1", "2", "3", "4"}
    vip = cards["0"]
    assert vip.name == "High-value regulars"
    assert "customers" in vip.who and "of revenue" in vip.who
    assert "times on average" in vip.how and "days ago" in vip.how
    assert "emails" in vip.responds
    assert "VIP programme" in [a.action for a in vip.actions]
    lapsed = [a.action for a in cards["1"].actions]
    assert "Targeted discounts" in lapsed and "Low-cost reactivation" in lapsed
    assert "Onboarding journey" in [a.action for a in cards["2"].actions]
    assert all(c.traits for c in cards.values())
    assert cards["0"].to_dict()["customers"] == vip.customers


def test_win_back_for_valuable_customers_who_are_slipping():
    rng = np.random.default_rng(0)
    n = 400
    slipping = np.arange(n) < 100
    f = pd.DataFrame({"predicted_clv_12m": np.where(slipping, 500.0, 100.0) + rng.normal(0, 5, n),
                      "probability_alive": np.where(slipping, 0.3, 0.9), "frequency": rng.poisson(4, n) + 1.0})
    cards = personas(profile(f, pd.Series(np.where(slipping, "s", "t"))))
    why = {a.action: a.why for a in cards[0].actions}
    assert "Win-back offer" in why and "30%" in why["Win-back offer"]
    assert [a.action for a in cards[1].actions] == ["Regular communication"]


def test_small_segments_get_no_statistics():
    planted = get_planted()
    features, labels = planted
    lab = labels.astype(object).copy()
    lab.iloc[:3] = "tiny"
    card = next(c for c in personas(profile(features, lab)) if c.segment == "tiny")
    assert card.suppressed and not card.actions and "suppressed" in card.who
    assert card.to_dict()["customers"] is None


def test_action_rules_are_data():
    assert all(r.conditions for r in ACTION_RULES)
    assert {c[0] for r in ACTION_RULES for c in r.conditions} <= {"index", "mean", "kpi"}


def test_a_binary_flag_trait_names_a_bounded_measure():
    # Issue 21: the persona page showed "d = +35.33" for a 0/1 flag.
    rng = np.random.default_rng(2)
    n = 600
    inside = np.arange(n) < 150
    f = pd.DataFrame({"is_member": inside.astype(float), "frequency": rng.poisson(4, n) + 1.0,
                      "monetary_total": rng.gamma(2.0, 60.0, n)})
    prof = profile(f, pd.Series(np.where(inside, "members", "others")))
    d = prof.differentiators.set_index(["segment", "feature"])
    row = d.loc[("members", "is_member")]
    assert row["kind"] == "binary" and row["measure"] == "difference in proportions"
    assert row["effect"] == 1.0 and row["direction"] == "higher"
    card = next(c for c in personas(prof) if c.segment == "members")
    trait = next(t for t in card.traits if t.startswith("is member"))
    assert "difference in proportions +1.00" in trait and "d = " not in " ".join(card.traits)
