"""Drift statistics: the definitions (Evidently's) and the reference's fixed bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from segmint.monitor.drift import EMPTY_SHARE, categorical_drift, compare_frames, numeric_drift, psi
from segmint.monitor.settings import DriftSettings


def test_wasserstein_is_normalised_by_the_reference_std():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(10, 4, 3000), rng.normal(11, 4, 3000)
    got = numeric_drift(ref, cur)["wasserstein"]
    assert got == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)
    # a constant reference is normalised by 0.001, as Evidently does
    assert numeric_drift(np.zeros(10), np.full(10, 0.01))["wasserstein"] == pytest.approx(10.0)


def test_psi_uses_the_reference_deciles():
    ref = np.arange(1000, dtype=float)
    # the current sample all in the reference's top decile: shares (0.0001 x 9, 1) against 0.1 each
    cur = np.full(500, 950.0)
    r, c = np.full(10, 0.1), np.array([EMPTY_SHARE] * 9 + [1.0])
    assert numeric_drift(ref, cur)["psi"] == pytest.approx(psi(r, c))
    assert numeric_drift(ref, cur)["jensenshannon"] == pytest.approx(distance.jensenshannon(r, c))
    # the same sample compared with itself does not drift
    same = numeric_drift(ref, ref.copy())
    assert same["psi"] == pytest.approx(0.0) and same["wasserstein"] == 0.0 and same["ks_p_value"] == 1.0


def test_missing_values_are_counted_not_compared():
    got = numeric_drift(np.array([1.0, 2.0, np.nan, np.nan]), np.array([1.0, 2.0, 3.0, np.nan]))
    assert got["missing_ref"] == 0.5 and got["missing_cur"] == 0.25 and got["n_ref"] == 4
    empty = numeric_drift(np.array([np.nan]), np.array([1.0]))
    assert empty["wasserstein"] is None and empty["psi"] is None


def test_categorical_drift_treats_missing_as_a_category():
    ref = np.array(["a", "b", None, None], dtype=object)
    cur = np.array(["a", "a", "a", "b"], dtype=object)
    got = categorical_drift(ref, cur)
    assert got["missing_ref"] == 0.5 and got["top_ref"] == "(missing)" and got["top_cur"] == "a"
    r = np.array([0.5, 0.25, 0.25])
    c = np.array([EMPTY_SHARE, 0.75, 0.25])
    assert got["jensenshannon"] == pytest.approx(distance.jensenshannon(r, c))
    assert got["psi"] == pytest.approx(psi(r, c))
    assert 0 <= got["chi2_p_value"] <= 1


def test_compare_frames_thresholds_and_drift_share():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 2000), "y": rng.normal(0, 1, 2000),
                        "c": rng.choice(["u", "v"], 2000), "flag": rng.random(2000) < 0.5})
    cur = ref.assign(x=ref.x + 1.0)  # only x moves
    out = compare_frames(ref, cur, ["x", "y", "c", "flag", "not_there"], DriftSettings())
    assert out["drifted"] == ["x"] and out["drift_share"] == 0.25 and not out["dataset_drift"]
    kinds = {f["feature"]: (f["type"], f["statistic"]) for f in out["features"]}
    assert kinds == {"x": ("numeric", "wasserstein"), "y": ("numeric", "wasserstein"),
                     "c": ("categorical", "jensenshannon"), "flag": ("categorical", "jensenshannon")}
    strict = compare_frames(ref, cur, ["x", "y"], DriftSettings(drift_share=0.5, numeric="psi"))
    assert strict["dataset_drift"] and strict["features"][0]["statistic"] == "psi"
    assert compare_frames(ref, cur, ["x"], DriftSettings(threshold=5.0))["drifted"] == []


@pytest.mark.parametrize("sizes", [(40, 60), (3_000, 9_000), (30_000, 25), (60_000, 45_000)])
@pytest.mark.parametrize("shift", [0.0, 0.02, 0.3])
def test_numeric_drift_matches_scipy(sizes, shift):
    """One sort per side gives SciPy's Wasserstein distance and KS p-value (ties, exact and asymptotic regimes)."""
    rng = np.random.default_rng(sum(sizes))
    ref = np.round(rng.gamma(2.0, 3.0, sizes[0]), 1)
    cur = np.round(rng.gamma(2.0, 3.0, sizes[1]) + shift * 6, 1)
    got = numeric_drift(ref, cur)
    assert got["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    expected = stats.ks_2samp(ref, cur).pvalue
    if sizes[0] * sizes[1] / sum(sizes) <= 10_000:  # SciPy's own figure
        assert got["ks_p_value"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    else:  # large samples: the corrected asymptotic distribution
        assert got["ks_p_value"] == pytest.approx(expected, rel=0.02, abs=1e-4)


def test_ks_p_value_falls_back_without_a_warning(monkeypatch):
    """Where SciPy's exact distribution overflows, the asymptotic one, as SciPy does, but with no warning:
    a warnings filter is process-wide, so one set around the call could be undone by another thread."""
    import segmint.monitor.drift as drift

    rng = np.random.default_rng(3)
    ref, cur = rng.normal(0, 1, 900), rng.normal(0.1, 1, 700)
    monkeypatch.setattr(drift._scipy_stats_py, "_attempt_exact_2kssamp", lambda n1, n2, g, d, alt: (False, d, np.nan))
    got = numeric_drift(ref, cur)["ks_p_value"]  # warnings are errors in this suite
    d = stats.ks_2samp(ref, cur, method="asymp").statistic  # (the exact path is patched to fail)
    assert got == pytest.approx(stats.kstwo.sf(d, np.round(900 * 700 / 1600)), rel=1e-12)
