"""Profiles against a plain pandas reference; small-cell protection; overlapping audiences."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from .profile_fixtures import get_planted, get_planted_profile

from segmint.profile import profile


def test_sizes_and_kpis_match_pandas():
    planted = get_planted()
    planted_profile = get_planted_profile()
    features, labels = planted
    ref = features.groupby(labels.astype(str)).agg(customers=("frequency", "size"), revenue=("monetary_total", "sum"),
                                                   mean_frequency=("frequency", "mean"),
                                                   mean_clv=("predicted_clv_12m", "mean"))
    sizes = planted_profile.sizes.set_index("segment")
    for col in ref.columns:
        assert np.allclose(sizes.loc[ref.index, col], ref[col]), col
    assert sizes["share"].sum() == pytest.approx(1.0)
    assert sizes["revenue_share"].sum() == pytest.approx(1.0)
    assert not sizes["suppressed"].any()


def test_index_is_segment_mean_over_population_mean():
    planted = get_planted()
    planted_profile = get_planted_profile()
    features, labels = planted
    means = planted_profile.means.set_index(["segment", "feature"])
    for s in ("0", "3"):
        for col in ("recency_days", "promo_share", "marketing_consent"):
            seg_mean = features.loc[labels.astype(str) == s, col].astype(float).mean()
            pop = features[col].astype(float).mean()
            assert means.loc[(s, col), "segment_mean"] == pytest.approx(seg_mean)
            assert means.loc[(s, col), "index"] == pytest.approx(100 * seg_mean / pop)
    heat = planted_profile.heatmap()
    assert heat.shape[0] == labels.nunique() and "recency_days" in heat.columns


def test_differentiators_are_ranked_by_effect():
    planted_profile = get_planted_profile()
    d = planted_profile.differentiators
    assert set(d.columns) >= {"segment", "rank", "feature", "direction", "effect", "index"}
    for _, g in d.groupby("segment"):
        assert list(g["rank"]) == list(range(1, len(g) + 1))
        assert (g["effect"].abs().diff().dropna() <= 1e-9).all() or g["kind"].eq("categorical").any()
    lapsed = d[(d.segment == "1") & (d["rank"] == 1)].iloc[0]
    assert lapsed["feature"] == "recency_days" and lapsed["direction"] == "higher"


def test_mix_and_demographics():
    planted_profile = get_planted_profile()
    mix = planted_profile.mix
    assert set(mix.dimension) == {"category", "channel", "region"}
    books = mix[(mix.segment == "3") & (mix.dimension == "category") & (mix["rank"] == 1)].iloc[0]
    assert books["value"] == "books" and books["index"] > 150
    region = mix[(mix.dimension == "region") & (mix.segment == "0")]
    assert region["share"].sum() == pytest.approx(1.0)
    demo = planted_profile.demographics
    assert set(demo.dimension) == {"gender", "age band"}
    ages = demo[(demo.segment == "3") & (demo.dimension == "age band")]
    assert ages.loc[ages["share"].idxmax(), "value"] in ("55-64", "65+")


def test_small_segments_and_cells_are_suppressed():
    planted = get_planted()
    features, labels = planted
    lab = labels.astype(object).copy()
    lab.iloc[:6] = "tiny"
    p = profile(features, lab, min_segment_size=10)
    tiny = p.sizes.set_index("segment").loc["tiny"]
    assert tiny["suppressed"] and np.isnan(tiny["customers"]) and np.isnan(tiny["revenue"])
    assert p.means[p.means.segment == "tiny"]["segment_mean"].isna().all()
    assert p.means[p.means.segment == "tiny"]["suppressed"].all()
    assert "tiny" not in set(p.differentiators.segment)
    assert p.mix[p.mix.segment == "tiny"]["share"].isna().all()
    # a shown segment's rare category count is held back too
    rare = p.demographics[(p.demographics.segment != "tiny") & p.demographics.suppressed]
    assert rare["share"].isna().all()
    assert "fewer than 10" in p.note and "tiny" in p.note
    assert "tiny" not in p.heatmap().index


def test_overlapping_audiences_get_an_overlap_matrix():
    planted = get_planted()
    features, _ = planted
    aud = pd.DataFrame({"vip": features.monetary_total > 800, "consented": features.marketing_consent.astype(bool),
                        "handful": features.index.isin(features.index[:3])}, index=features.index)
    p = profile(features, aud, min_segment_size=10)
    ov = p.overlap
    assert ov.loc["vip", "vip"] == aud.vip.sum()
    assert ov.loc["vip", "consented"] == (aud.vip & aud.consented).sum()
    assert np.isnan(ov.loc["handful", "handful"])  # 3 customers: suppressed
    assert p.suppressed == ["handful"]


def test_to_dict_is_json():
    planted_profile = get_planted_profile()
    d = planted_profile.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["min_segment_size"] == 10 and "sizes" in d and "NaN" not in text


def test_missing_kpi_columns_are_skipped():
    f = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    p = profile(f, pd.Series(["a", "a", "b", "b"]), min_segment_size=1)
    assert "revenue" not in p.sizes and p.means["index"].notna().all()
