"""Above ``max_rows`` a profile's sizes, means and mixes stay exact; only its differentiators use the sample."""

from __future__ import annotations

import pandas as pd

from segmint.evaluate import planted_features
from segmint.profile import profile


def test_sampled_profile_keeps_sizes_means_and_mixes_exact():
    f, labels = planted_features(12_000, seed=4)
    exact = profile(f, labels)
    sampled = profile(f, labels, max_rows=3000)
    assert exact.sample is None and exact.to_dict()["sample"] is None
    assert sampled.sample["of"] == 12_000 and sampled.sample["customers"] <= 3000
    assert sampled.to_dict()["sample"]["note"].startswith("computed on a stratified sample of")
    for name in ("sizes", "means", "mix", "demographics"):
        pd.testing.assert_frame_equal(getattr(sampled, name), getattr(exact, name))
    assert sampled.population == exact.population
    # the differentiators come from the sample: the same feature leads each planted segment (the runners-up
    # can swap: channel_share_online and channel_share_store are one feature's two sides, with equal effects)
    top = lambda p: p.differentiators[p.differentiators["rank"] == 1].set_index("segment")  # noqa: E731
    assert top(sampled)["feature"].to_dict() == top(exact)["feature"].to_dict()
    assert len(top(exact)) == 5


def test_profile_below_the_cap_is_the_exact_profile():
    f, labels = planted_features(900, seed=4)
    exact, capped = profile(f, labels), profile(f, labels, max_rows=900)
    assert capped.sample is None
    for name in ("sizes", "means", "differentiators", "mix", "demographics"):
        pd.testing.assert_frame_equal(getattr(capped, name), getattr(exact, name))


def test_group_means_match_a_pandas_group_by_on_missing_values():
    f, labels = planted_features(600, seed=6)
    f = f.astype({"monetary_mean": float})
    f.loc[f.index[::3], "monetary_mean"] = float("nan")
    p = profile(f, labels, min_segment_size=1)
    expected = f["monetary_mean"].groupby(labels.astype(str)).mean()
    got = p.means[p.means.feature == "monetary_mean"].set_index("segment")["segment_mean"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    mix = p.mix[(p.mix.dimension == "region") & (p.mix.segment == "0")].set_index("value")["share"]
    region = f["region"][labels.to_numpy() == 0].value_counts(normalize=True)
    pd.testing.assert_series_equal(mix.sort_index(), region.loc[mix.index].sort_index(), check_names=False)


def test_overlapping_audiences_mix_is_compared_with_everyone():
    f, labels = planted_features(800, seed=7)
    audiences = pd.DataFrame({"buyers": f["frequency"] > 3, "everyone": True, "lapsed": f["recency_days"] > 200},
                             index=f.index)
    p = profile(f, audiences, min_segment_size=1)
    region = p.mix[(p.mix.dimension == "region") & (p.mix.segment == "everyone")].set_index("value")
    everyone = f["region"].value_counts(normalize=True)
    pd.testing.assert_series_equal(region["population_share"].sort_index(), everyone.loc[region.index].sort_index(),
                                   check_names=False)
    pd.testing.assert_series_equal(region["share"], region["population_share"], check_names=False)
    buyers = p.mix[(p.mix.dimension == "region") & (p.mix.segment == "buyers")].set_index("value")["share"]
    expected = f.loc[audiences["buyers"], "region"].value_counts(normalize=True)
    pd.testing.assert_series_equal(buyers.sort_index(), expected.loc[buyers.index].sort_index(), check_names=False)
