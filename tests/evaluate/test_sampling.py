"""Above ``max_rows`` the scorecard works on a stratified sample and reaches the exact verdicts; below, nothing changes."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from segmint.evaluate import planted_features, prepare, scorecard
from segmint.evaluate.sampling import stratified_sample

SAMPLED = "computed on a stratified sample of"


@cache
def _planted_large() -> tuple[pd.DataFrame, pd.Series]:
    """20,000 planted customers, with a sixth segment of 60 customers carved out of one persona."""
    f, labels = planted_features(20_000, seed=5, noise=0.3)
    labels = labels.copy()
    labels.iloc[np.flatnonzero(labels.to_numpy() == 2)[:60]] = 5
    return f, labels


@cache
def _cards(kind: str):
    f, labels = _planted_large()
    if kind == "random":
        labels = pd.Series(np.random.default_rng(2).integers(0, 4, len(f)), index=f.index)
    exact = scorecard(f, labels, n_bootstrap=5, sample_size=2000)
    sampled = scorecard(f, labels, n_bootstrap=5, sample_size=2000, max_rows=4000)
    return exact, sampled


@pytest.mark.parametrize("kind", ["planted", "random"])
def test_sampled_scorecard_reaches_the_exact_verdicts(kind):
    exact, sampled = _cards(kind)
    assert sampled.verdicts == exact.verdicts
    assert sampled.overall == exact.overall
    # every measure of the segmentation, and every segment's, is judged the same
    pd.testing.assert_series_equal(sampled.segmentation.set_index("metric")["verdict"],
                                   exact.segmentation.set_index("metric")["verdict"])


@pytest.mark.parametrize("kind", ["planted", "random"])
def test_sampled_scorecard_judges_every_segment_the_same(kind):
    exact, sampled = _cards(kind)
    keys = ["segment", "metric"]
    pd.testing.assert_series_equal(sampled.segments.set_index(keys)["verdict"],
                                   exact.segments.set_index(keys)["verdict"])


def test_planted_and_random_verdicts_differ_so_the_comparison_can_fail():
    planted, _ = _cards("planted")
    random, _ = _cards("random")
    assert planted.verdicts["explainable"] == "pass" and random.verdicts["explainable"] == "fail"
    assert planted.verdicts["profitable"] == "pass" and random.verdicts["profitable"] == "fail"
    # the planted card mixes verdicts (the 60 carved-out customers are neither distinct nor stable)
    assert {"pass", "warn", "fail"} <= set(planted.segmentation.verdict)


def test_sampled_scorecard_records_the_sample_and_keeps_counts_exact():
    exact, sampled = _cards("planted")
    assert exact.sample is None and exact.sample_note == ""
    s = sampled.sample
    assert s["of"] == 20_000 and 4000 <= s["customers"] < 4200 and s["max_rows"] == 4000
    assert s["note"] == f"{SAMPLED} {s['customers']:,} of 20,000 customers"
    assert SAMPLED in sampled.sample_note and "validation.max_rows" in sampled.sample_note
    assert json.loads(json.dumps(sampled.to_dict()))["sample"]["customers"] == s["customers"]
    assert sampled.n_customers == exact.n_customers == 20_000
    # sizes, reach and value count every customer: those rows are the exact ones
    for criterion in ("substantial", "reachable"):
        a = exact.segments[exact.segments.criterion == criterion].reset_index(drop=True)
        b = sampled.segments[sampled.segments.criterion == criterion].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
    rev = lambda c: c.segments[c.segments.metric == "revenue_share"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(rev(exact), rev(sampled))
    # the tests ran on the sample: every feature still tested, with smaller statistics
    assert set(sampled.tests.feature) == set(exact.tests.feature)
    assert sampled.tests["statistic"].sum() < exact.tests["statistic"].sum() / 3  # a fifth of the customers
    # the model-based measures fit on the same 2,000 customers with or without the cap: the explaining tree
    # (raw features) is the same tree
    value = lambda c, m: c.segmentation.set_index("metric").loc[m, "value"]  # noqa: E731
    assert value(sampled, "fidelity") == value(exact, "fidelity")
    pd.testing.assert_frame_equal(sampled.rules, exact.rules)


def test_small_segments_are_kept_whole_and_every_segment_is_represented():
    f, labels = _planted_large()
    seg = prepare(f, labels)
    sub = stratified_sample(seg, max_rows=4000, min_per_segment=500)
    sizes, sub_sizes = seg.members.sum(), sub.members.sum()
    assert sub_sizes["5"] == sizes["5"] == 60
    assert (sub_sizes >= np.minimum(sizes, 500)).all()
    assert sub.sample.rows == len(sub.features) and sub.sample.of == 20_000
    # the labels and memberships of the sample belong to the sampled customers
    assert (labels.loc[sub.features.index].astype(str).to_numpy() == sub.labels.to_numpy()).all()


def test_same_seed_same_sample_other_seed_other_sample():
    f, labels = _planted_large()
    a = stratified_sample(prepare(f, labels), 4000, random_state=1)
    b = stratified_sample(prepare(f, labels), 4000, random_state=1)
    c = stratified_sample(prepare(f, labels), 4000, random_state=2)
    assert a.features.index.equals(b.features.index)
    assert not a.features.index.equals(c.features.index)


def test_below_the_cap_nothing_is_sampled():
    f, labels = planted_features(1500, seed=3)
    exact = scorecard(f, labels, n_bootstrap=3, sample_size=1000)
    capped = scorecard(f, labels, n_bootstrap=3, sample_size=1000, max_rows=1500)
    assert capped.sample is None and capped.to_dict()["sample"] is None
    for name in ("segmentation", "segments", "effects", "tests", "rules"):
        pd.testing.assert_frame_equal(getattr(capped, name), getattr(exact, name))
    seg = prepare(f, labels)
    assert stratified_sample(seg, 1500) is seg and stratified_sample(seg, None) is seg


def test_a_cap_every_segment_fits_under_whole_samples_nothing():
    f, labels = planted_features(1500, seed=3)
    seg = prepare(f, labels)
    assert stratified_sample(seg, 1000, min_per_segment=2000) is seg  # each segment is under 2,000: kept whole
    assert len(stratified_sample(seg, 1000).features) <= 1000  # by default the minima make room for the cap


def test_overlapping_audiences_are_sampled_by_combination():
    f, labels = _planted_large()
    audiences = pd.DataFrame({"big spenders": f["monetary_total"] > f["monetary_total"].quantile(0.9),
                              "lapsed": f["recency_days"] > 200, "rare": labels == 5}, index=f.index)
    seg = prepare(f, audiences)
    sub = stratified_sample(seg, 3000, min_per_segment=200)
    assert sub.overlapping and list(sub.members.columns) == list(seg.members.columns)
    assert sub.members["rare"].sum() == 60
    assert sub.members["big spenders"].sum() >= 200 and sub.members["lapsed"].sum() >= 200
    card = scorecard(f, audiences, n_bootstrap=3, max_rows=3000)
    assert SAMPLED in card.sample_note
