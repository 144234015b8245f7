"""Effect sizes and tests against plain scipy / numpy references on small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segmint.evaluate import cluster_quality, effect_sizes, feature_tests, separability


@pytest.fixture
def small():
    rng = np.random.default_rng(5)
    n = 300
    labels = pd.Series(rng.choice(["a", "b", "c"], n, p=[0.3, 0.3, 0.4]), index=[f"C{i}" for i in range(n)])
    shift = labels.map({"a": 0.0, "b": 1.0, "c": -0.5}).to_numpy()
    f = pd.DataFrame({
        "spend": rng.normal(shift, 1.0),
        "visits": rng.poisson(3, n).astype(float),  # ties, no signal
        "region": np.where(labels == "a", rng.choice(["N", "S"], n, p=[0.8, 0.2]), rng.choice(["N", "S"], n)),
    }, index=labels.index)
    f.loc[f.index[:7], "spend"] = np.nan
    return f, labels


def test_numeric_effects_match_scipy(small):
    f, labels = small
    e = effect_sizes(f, labels).set_index(["segment", "feature"])
    for s in ("a", "b", "c"):
        for col in ("spend", "visits"):
            x = f[col].to_numpy()
            ok = ~np.isnan(x)
            inside, rest = x[ok & (labels == s).to_numpy()], x[ok & (labels != s).to_numpy()]
            # Both groups' variances weigh alike, floored at a quarter of the base's variance.
            spread = max((inside.var(ddof=1) + rest.var(ddof=1)) / 2, x[ok].var(ddof=1) / 4)
            row = e.loc[(s, col)]
            assert row["smd"] == pytest.approx((inside.mean() - rest.mean()) / np.sqrt(spread))
            assert row["measure"] == "Cliff's delta" and row["effect"] == row["cliffs_delta"]
            mw = stats.mannwhitneyu(inside, rest, method="asymptotic", use_continuity=False)
            assert row["cliffs_delta"] == pytest.approx(2 * mw.statistic / (len(inside) * len(rest)) - 1)
            assert row["p_value"] == pytest.approx(mw.pvalue, rel=1e-6)
            assert row["segment_mean"] == pytest.approx(inside.mean())


def test_categorical_effect_is_cramers_v(small):
    f, labels = small
    e = effect_sizes(f, labels).set_index(["segment", "feature"])
    table = pd.crosstab(labels == "a", f["region"]).to_numpy()
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    row = e.loc[("a", "region")]
    assert row["cramers_v"] == pytest.approx(np.sqrt(chi2 / table.sum()))
    assert row["p_value"] == pytest.approx(p)
    assert row["top_value"] == "N"


def test_q_values_are_benjamini_hochberg(small):
    f, labels = small
    e = effect_sizes(f, labels)
    assert np.allclose(e["q_value"], stats.false_discovery_control(e["p_value"]))
    assert (e.loc[e.feature == "visits", "significant"] == False).all()
    assert e.loc[(e.feature == "spend") & (e.segment == "b"), "significant"].item()


def test_feature_tests_match_kruskal_and_chi_square(small):
    f, labels = small
    t = feature_tests(f, labels).set_index("feature")
    ok = f.spend.notna()
    h, p = stats.kruskal(*[f.spend[ok & (labels == s)] for s in ("a", "b", "c")])
    assert t.loc["spend", "statistic"] == pytest.approx(h)
    assert t.loc["spend", "p_value"] == pytest.approx(p)
    chi2, p, _, _ = stats.chi2_contingency(pd.crosstab(labels, f.region).to_numpy(), correction=False)
    assert t.loc["region", "statistic"] == pytest.approx(chi2)
    assert t.loc["region", "effect"] == pytest.approx(np.sqrt(chi2 / len(f)))


def test_cluster_quality_and_separability_on_blobs():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (200, 3)), rng.normal(8, 1, (200, 3))]
    y = np.repeat(["x", "y"], 200)
    q = cluster_quality(X, y)
    assert q["silhouette"] > 0.7 and q["davies_bouldin"] < 0.5
    sep = separability(X, y)
    assert sep["balanced_accuracy"] > 0.99 and sep["chance"] == 0.5
    noise = separability(X, rng.permutation(y))
    assert noise["separability"] < 0.2


def test_tests_over_other_columns_of_a_prepared_segmentation_match_a_fresh_preparation(small):
    # Segmented.over reuses the alignment and segment codes (the scorecard's value test at a million
    # customers); the answer must be the one of preparing the column with the labels from scratch.
    from segmint.evaluate.inputs import prepare

    f, labels = small
    value = pd.DataFrame({"spend_x2": f["spend"].to_numpy() * 2}, index=f.index)
    seg = prepare(f, labels)
    seg.codes()
    via_over = feature_tests(prepared=seg.over(value))
    fresh = feature_tests(value, labels)
    pd.testing.assert_frame_equal(via_over, fresh)
    assert via_over.loc[0, "feature"] == "spend_x2" and via_over.loc[0, "significant"]


def test_duplicate_ids_are_counted_once_per_index_and_forgotten_with_it():
    import gc

    from segmint.evaluate import inputs

    unique = pd.Index([f"C{i:06d}" for i in range(20_000)], dtype="str")
    twice = pd.Index([f"C{i % 10_000:06d}" for i in range(20_000)], dtype="str")
    numbers = pd.Index(np.r_[np.arange(15_000), [3]])
    for index, expected in ((unique, False), (twice, True), (numbers, True)):
        assert inputs.has_duplicates(index) is expected
        assert inputs._DUPLICATES[id(index)][1] is expected
        assert inputs.has_duplicates(index) is expected  # remembered
    held = len(inputs._DUPLICATES)
    del unique, twice, numbers, index
    gc.collect()
    assert len(inputs._DUPLICATES) == held - 3


# -- issue 21: effect sizes that stay bounded and defined in degenerate cases ------------------------
def _flag_frame(n_in=300, n_out=700, jitter=0.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = pd.Series(["in"] * n_in + ["out"] * n_out)
    flag = np.r_[np.ones(n_in), np.zeros(n_out)] + jitter * rng.standard_normal(n_in + n_out)
    return pd.DataFrame({"flag": flag, "noise": rng.normal(size=n_in + n_out)}), labels


def test_flag_constant_within_groups_is_a_perfect_bounded_effect():
    # The pooled-sd d read 0 ("negligible") here while Cliff's delta is 1.
    f, labels = _flag_frame()
    e = effect_sizes(f, labels).set_index(["segment", "feature"])
    row = e.loc[("in", "flag")]
    assert row["kind"] == "binary" and row["measure"] == "difference in proportions"
    assert row["effect"] == pytest.approx(1.0) and row["cliffs_delta"] == pytest.approx(1.0)
    assert row["cramers_v"] == pytest.approx(1.0)
    assert row["magnitude"] == "large"
    assert e.loc[("out", "flag"), "effect"] == pytest.approx(-1.0)
    # The floored SMD is finite: |d| <= 2 / sqrt(share (1 - share)).
    assert row["smd"] == pytest.approx(1.0 / np.sqrt(f.flag.var(ddof=1) / 4))
    assert abs(row["smd"]) <= 2 / np.sqrt(0.3 * 0.7)


def test_binary_effect_matches_a_two_by_two_table():
    rng = np.random.default_rng(3)
    labels = pd.Series(rng.choice(["a", "b"], 500))
    flag = np.where(labels == "a", rng.random(500) < 0.6, rng.random(500) < 0.2).astype(float)
    e = effect_sizes(pd.DataFrame({"flag": flag}), labels).set_index(["segment", "feature"])
    inside, rest = flag[labels == "a"], flag[labels != "a"]
    chi2, _, _, _ = stats.chi2_contingency(pd.crosstab(labels == "a", flag).to_numpy(), correction=False)
    row = e.loc[("a", "flag")]
    assert row["effect"] == pytest.approx(inside.mean() - rest.mean())
    assert row["cliffs_delta"] == pytest.approx(row["effect"])  # the same quantity for a flag
    assert row["cramers_v"] == pytest.approx(np.sqrt(chi2 / len(flag)))


def test_jitter_does_not_blow_the_effect_up():
    # A 1e-6 jitter made the flag "numeric" and the pooled-sd d 1e6.
    f, labels = _flag_frame(jitter=1e-6)
    row = effect_sizes(f, labels).set_index(["segment", "feature"]).loc[("in", "flag")]
    assert row["kind"] == "numeric" and row["measure"] == "Cliff's delta"
    assert row["effect"] == pytest.approx(1.0)
    assert abs(row["smd"]) < 5


def test_a_tiny_segment_against_zeros_is_standardised_by_both_groups():
    # 9,990 zeros against 10 draws of N(1, 1): the pooled sd is the zeros' (d = 63); both groups weigh alike now.
    rng = np.random.default_rng(7)
    x = np.r_[np.zeros(9990), rng.normal(1, 1, 10)]
    labels = pd.Series(["rest"] * 9990 + ["few"] * 10)
    row = effect_sizes(pd.DataFrame({"x": x}), labels).set_index(["segment", "feature"]).loc[("few", "x")]
    inside = x[9990:]
    assert row["smd"] == pytest.approx(inside.mean() / np.sqrt(max(inside.var(ddof=1) / 2, x.var(ddof=1) / 4)))
    assert abs(row["smd"]) < 3
    assert -1 <= row["effect"] <= 1 and row["measure"] == "Cliff's delta"
    assert row["effect"] == pytest.approx(((inside > 0).sum() - (inside < 0).sum()) / 10)
