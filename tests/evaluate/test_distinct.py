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
            pooled = np.sqrt(((len(inside) - 1) * inside.var(ddof=1) + (len(rest) - 1) * rest.var(ddof=1))
                             / (len(inside) + len(rest) - 2))
            row = e.loc[(s, col)]
            assert row["smd"] == pytest.approx((inside.mean() - rest.mean()) / pooled)
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
