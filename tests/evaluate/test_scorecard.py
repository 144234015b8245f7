"""The scorecard tells a planted segmentation from random labels, and reports in tidy, JSON-ready tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from .evaluate_fixtures import get_planted, get_planted_card, get_random_card

from segmint.errors import ConfigError, DataError
from segmint.evaluate import Thresholds, scorecard
from segmint.evaluate.scorecard import COLUMNS, CRITERIA, SEGMENT_COLUMNS


def _verdict(card, metric):
    return card.segmentation.set_index("metric").loc[metric, "verdict"]


def test_planted_segments_pass_distinct_stable_explainable():
    planted_card = get_planted_card()
    v = planted_card.verdicts
    assert v["distinct"] == "pass"
    assert v["stable"] == "pass"
    assert v["explainable"] == "pass"
    assert v["substantial"] == "pass"
    assert v["profitable"] == "pass"
    seg = planted_card.segmentation.set_index("metric")["value"]
    assert seg["silhouette"] > 0.4
    assert seg["bootstrap_ari"] > 0.9
    assert seg["separability"] > 0.9


def test_random_labels_fail_distinct_and_stable():
    random_card = get_random_card()
    v = random_card.verdicts
    assert v["distinct"] == "fail"
    assert v["stable"] == "fail"
    for metric in ("min_effect", "silhouette", "separability", "bootstrap_ari", "min_jaccard", "value_effect"):
        assert _verdict(random_card, metric) == "fail", metric
    seg = random_card.segmentation.set_index("metric")["value"]
    assert abs(seg["bootstrap_ari"]) < 0.05
    assert seg["separability"] < 0.1
    # Size does not depend on what the labels mean: random segments are still substantial.
    assert v["substantial"] == "pass"


def test_tables_are_tidy_and_json_ready():
    planted_card = get_planted_card()
    planted = get_planted()
    features, labels = planted
    assert list(planted_card.segmentation.columns) == COLUMNS
    assert list(planted_card.segments.columns) == SEGMENT_COLUMNS
    assert set(planted_card.segmentation.criterion) == set(CRITERIA)
    assert set(planted_card.segments.segment) == {str(s) for s in labels.unique()}
    assert planted_card.segmentation.verdict.isin(["pass", "warn", "fail", "info", "n/a"]).all()
    d = planted_card.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN would not be valid JSON
    assert d["overall"] in ("pass", "warn", "fail")
    assert "NaN" not in text
    assert planted_card.n_customers == len(features)


def test_segment_rows_carry_sizes_and_value_intervals():
    planted_card = get_planted_card()
    planted = get_planted()
    _, labels = planted
    seg = planted_card.segments
    sizes = seg[seg.metric == "size"].set_index("segment")["value"]
    assert sizes.to_dict() == {str(k): float(v) for k, v in labels.value_counts().items()}
    clv = seg[seg.metric == "mean_predicted_clv_12m"]
    assert (clv.ci_low < clv.value).all() and (clv.value < clv.ci_high).all()
    revenue = seg[seg.metric == "revenue_share"]["value"]
    assert revenue.sum() == pytest.approx(1.0)


def test_rules_read_in_plain_words():
    planted_card = get_planted_card()
    rules = planted_card.rules
    assert len(rules) >= 5
    assert rules.text.str.contains(r" -> ").all()
    assert rules.text.str.contains(r"(?:<=|>|is) ").all()


def test_thresholds_are_data_and_change_verdicts():
    planted = get_planted()
    features, labels = planted
    strict = Thresholds(min_size=10_000, min_size_warn=5_000)
    card = scorecard(features.iloc[:800], labels.iloc[:800], thresholds=strict, n_bootstrap=3, sample_size=800)
    assert _verdict(card, "min_size") == "fail"
    assert "10000" in card.segmentation.set_index("metric").loc["min_size", "threshold"]
    assert Thresholds.from_dict({"min_size": 5}).min_size == 5
    with pytest.raises(ConfigError, match="did you mean 'min_share'"):
        Thresholds.from_dict({"min_shares": 0.1})


def test_temporal_stability():
    planted = get_planted()
    features, labels = planted
    f, lab = features.iloc[:1000], labels.iloc[:1000]
    same = scorecard(f, lab, labels_later=lab, n_bootstrap=3, sample_size=1000)
    assert _verdict(same, "temporal_ari") == "pass"
    shuffled = pd.Series(np.random.default_rng(3).permutation(lab.to_numpy()), index=lab.index)
    moved = scorecard(f, lab, labels_later=shuffled, n_bootstrap=3, sample_size=1000)
    assert _verdict(moved, "temporal_ari") == "fail"
    retention = moved.segments[moved.segments.metric == "retention"]
    assert len(retention) == lab.nunique() and (retention.value < 0.5).all()


def test_reach_uses_consent_and_contact_columns():
    planted = get_planted()
    features, labels = planted
    f = features.iloc[:1000].copy()
    f["marketing_consent"] = True
    f["has_email"] = False
    card = scorecard(f, labels.iloc[:1000], n_bootstrap=3, sample_size=1000)
    assert _verdict(card, "min_reachable_share") == "fail"
    card = scorecard(f.drop(columns="has_email"), labels.iloc[:1000], n_bootstrap=3, sample_size=1000)
    assert _verdict(card, "min_reachable_share") == "pass"
    assert "consent alone" in card.segmentation.set_index("metric").loc["min_reachable_share", "sentence"]


def test_small_segments_are_suppressed():
    planted = get_planted()
    features, labels = planted
    lab = labels.iloc[:1000].astype(object).copy()
    lab.iloc[:4] = "tiny"
    card = scorecard(features.iloc[:1000], lab, n_bootstrap=3, sample_size=1000, min_segment_size=10)
    tiny = card.segments[card.segments.segment == "tiny"]
    assert tiny.value.isna().all()
    assert (tiny.loc[tiny.criterion != "substantial", "verdict"] == "n/a").all()
    assert (tiny.loc[tiny.criterion == "substantial", "verdict"] == "fail").all()
    row = card.segmentation.set_index("metric").loc["min_size"]
    assert np.isnan(row["value"]) and row["verdict"] == "fail" and "fewer than 10" in row["sentence"]
    assert "4 customers" not in " ".join(card.segmentation.sentence)


def test_overlapping_audiences():
    planted = get_planted()
    features, _ = planted
    audiences = pd.DataFrame({"vip": features.monetary_total > 800, "deal_seekers": features.promo_share > 0.5},
                             index=features.index)
    card = scorecard(features, audiences, n_bootstrap=3)
    assert card.verdicts["distinct"] == "pass"
    assert _verdict(card, "bootstrap_ari") == "n/a"
    assert set(card.segments.segment) == {"vip", "deal_seekers"}


def test_unaligned_inputs_raise_a_clear_error():
    planted = get_planted()
    features, labels = planted
    with pytest.raises(DataError, match="no customer id is in both"):
        scorecard(features, labels.set_axis([f"X{i}" for i in range(len(labels))]))
    with pytest.raises(DataError, match="Series"):
        scorecard(features, labels.to_numpy())


def test_same_seed_same_scorecard():
    planted = get_planted()
    features, labels = planted
    a = scorecard(features.iloc[:600], labels.iloc[:600], n_bootstrap=3, sample_size=600, random_state=4)
    b = scorecard(features.iloc[:600], labels.iloc[:600], n_bootstrap=3, sample_size=600, random_state=4)
    pd.testing.assert_frame_equal(a.segmentation, b.segmentation)
    pd.testing.assert_frame_equal(a.segments, b.segments)


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_nullable_and_arrow_columns(backend):
    features, labels = get_planted()
    f = features.iloc[:600].convert_dtypes(dtype_backend=backend)
    f.loc[f.index[:20], ["age", "region", "marketing_consent"]] = None
    rfm = labels.iloc[:600].map({0: "Champions", 1: "At risk", 2: "New customers", 3: "Loyal", 4: "Lost"})
    card = scorecard(f, rfm.astype("category"), n_bootstrap=3, sample_size=600)
    assert card.verdicts["distinct"] == "pass" and card.verdicts["stable"] == "pass"
    assert set(card.segments.segment) == {"Champions", "At risk", "New customers", "Loyal", "Lost"}


@pytest.mark.slow
def test_fifty_thousand_customers_in_seconds():
    import time

    from segmint.evaluate import planted_features

    features, labels = planted_features(50_000, seed=1)
    start = time.perf_counter()
    card = scorecard(features, labels)
    assert time.perf_counter() - start < 60  # about 5 s on a busy 2-core machine
    assert card.verdicts["distinct"] == "pass" and card.n_customers == 50_000


def test_the_card_does_not_depend_on_the_refits_running_beside_it(monkeypatch):
    # The bootstrap refits run on a second thread while the effect sizes are computed; run inline,
    # they must give the same card, row for row.
    import importlib
    from concurrent.futures import Future

    module = importlib.import_module("segmint.evaluate.scorecard")  # the package exports the function by that name

    class Inline:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *args, **kwargs):
            done = Future()
            done.set_result(fn(*args, **kwargs))
            return done

    features, labels = get_planted()
    threaded = scorecard(features, labels, n_bootstrap=5, sample_size=1000)
    monkeypatch.setattr(module, "ThreadPoolExecutor", Inline)
    inline = scorecard(features, labels, n_bootstrap=5, sample_size=1000)
    pd.testing.assert_frame_equal(threaded.segmentation, inline.segmentation)
    pd.testing.assert_frame_equal(threaded.segments, inline.segments)
    assert threaded.segmentation.metric.tolist().index("bootstrap_ari") > \
        threaded.segmentation.metric.tolist().index("separability")


def test_max_effect_is_bounded_and_names_its_measure():
    # Issue 21: a segment defined by region == 'north' (Cramer's V = 1) showed a "d-equivalent" of 63,245.55,
    # and a binary flag "d = +35.33".
    rng = np.random.default_rng(21)
    n = 2000
    region = rng.choice(["north", "south", "east", "west"], n)
    labels = pd.Series(np.where(region == "north", "north", "elsewhere"), index=[f"C{i}" for i in range(n)])
    flag = (labels == "north").to_numpy().astype(float)
    features = pd.DataFrame({"region": region, "is_north": flag, "spend": rng.gamma(2.0, 50.0, n)},
                            index=labels.index)
    card = scorecard(features, labels, n_bootstrap=5, random_state=0)
    rows = card.segments.set_index(["segment", "metric"])
    for s in ("north", "elsewhere"):
        assert rows.loc[(s, "max_effect"), "value"] == pytest.approx(1.0)
        assert rows.loc[(s, "max_effect"), "verdict"] == "pass"
    effects = card.effects.set_index(["segment", "feature"])
    assert effects.loc[("north", "region"), "measure"] == "Cramer's V"
    assert effects.loc[("north", "is_north"), "measure"] == "difference in proportions"
    assert effects.loc[("north", "spend"), "measure"] == "Cliff's delta"
    assert (effects["abs_effect"] <= 1 + 1e-12).all()
    sentences = " ".join(card.segments["sentence"]) + " ".join(card.segmentation["sentence"])
    assert "d = " not in sentences and "d-equivalent" not in sentences
    assert "difference in proportions +1.00" in sentences or "Cramer's V 1.00" in sentences
    minimum = card.segmentation.set_index("metric").loc["min_effect"]
    assert minimum["value"] == pytest.approx(1.0) and "bounded effect" in minimum["sentence"]
