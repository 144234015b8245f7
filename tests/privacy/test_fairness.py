"""The fairness table: shares, disparity ratios against a reference, balance, intervals, small cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.privacy.fairness import attribute_columns, fairness_table


def _shop(n_f=300, n_m=200, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"C{i:05d}" for i in range(n_f + n_m)]
    gender = pd.Series(["F"] * n_f + ["M"] * n_m, index=ids)
    # women land in "A" with probability 0.5, men with 0.3: a disparity ratio of 0.6 for M vs F
    p = np.where(gender == "F", 0.5, 0.3)
    labels = pd.Series(np.where(rng.random(len(ids)) < p, "A", "B"), index=ids)
    return labels, gender


def test_shares_rates_and_ratios_match_a_hand_count():
    labels, gender = _shop()
    t = fairness_table(labels, {"gender": gender}, bootstrap=0, reference={"gender": "F"})
    a = t["attributes"][0]
    seg = {s["segment"]: s for s in a["segments"]}
    cells = {c["group"]: c for c in seg["A"]["cells"]}
    in_a = labels == "A"
    rate_f, rate_m = in_a[gender == "F"].mean(), in_a[gender == "M"].mean()
    assert cells["M"]["selection_rate"] == pytest.approx(rate_m, abs=1e-4)
    assert cells["M"]["disparity_ratio"] == pytest.approx(rate_m / rate_f, abs=1e-3)
    assert cells["M"]["four_fifths"] == "under" and cells["F"]["four_fifths"] == "ok"
    assert cells["F"]["share"] == pytest.approx((in_a & (gender == "F")).sum() / in_a.sum(), abs=1e-4)
    assert cells["F"]["base_share"] == pytest.approx(0.6)
    n_fa, n_ma = (in_a & (gender == "F")).sum(), (in_a & (gender == "M")).sum()
    assert seg["A"]["balance"] == pytest.approx(min(n_fa, n_ma) / max(n_fa, n_ma), abs=1e-4)
    assert a["balance_base"] == pytest.approx(200 / 300, abs=1e-4)


def test_bootstrap_intervals_hold_the_estimate_and_shrink_with_more_customers():
    small_l, small_g = _shop(150, 100)
    big_l, big_g = _shop(3000, 2000)
    widths = []
    for labels, gender in ((small_l, small_g), (big_l, big_g)):
        t = fairness_table(labels, {"gender": gender}, bootstrap=300, reference={"gender": "F"})
        cell = [c for c in t["attributes"][0]["segments"][0]["cells"] if c["group"] == "M"][0]
        lo, hi = cell["disparity_ci"]
        assert lo <= cell["disparity_ratio"] <= hi
        assert cell["share_ci"][0] <= cell["share"] <= cell["share_ci"][1]
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_small_cells_are_suppressed_and_missing_values_are_a_group():
    labels, gender = _shop()
    gender = gender.copy()
    gender.iloc[:5] = "X"  # a group of 5: under the threshold everywhere
    gender.iloc[5:8] = None
    t = fairness_table(labels, {"gender": gender}, min_cell=10, bootstrap=0)
    a = t["attributes"][0]
    groups = {g["group"]: g for g in a["groups"]}
    assert groups["X"]["suppressed"] and groups["X"]["customers"] is None and "(missing)" in groups
    for s in a["segments"]:
        x = [c for c in s["cells"] if c["group"] == "X"][0]
        assert x["suppressed"] and x["members"] is None and "share" not in x
    assert a["reference"] == "F"  # the largest shown group by default


def test_intersectional_groups():
    frame = pd.DataFrame({"gender": ["F", "M", "F", None], "age_band": ["<25", "<25", "65+", "65+"]},
                         index=["a", "b", "c", "d"])
    cols = attribute_columns(frame, ["gender", "religion"], [["gender", "age_band"]])
    assert list(cols) == ["gender", "gender x age_band"]
    assert cols["gender x age_band"].tolist() == ["F | <25", "M | <25", "F | 65+", "(missing) | 65+"]


@pytest.mark.db
def test_workspace_fairness_and_cli(shop, capsys):
    info = shop.fairness("value")
    assert [a["attribute"] for a in info["attributes"]] == ["gender", "age_band", "gender x age_band"]
    assert info["customers"] == shop.store.count("customers")
    one = shop.fairness("value", attribute="gender")
    assert [a["attribute"] for a in one["attributes"]] == ["gender"]
    from segmint.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="no attribute 'gendr'.*did you mean 'gender'"):
        shop.fairness("value", attribute="gendr")


@pytest.mark.db
def test_the_report_has_a_fairness_section(shop):
    path = shop.report("value")
    html = path.read_text(encoding="utf-8")
    assert '<section id="fairness">' in html and "four-fifths" in html and "<h3>gender</h3>" in html


def test_one_group_wholly_in_the_segment_is_a_rate_of_one_not_an_error():
    """A report after two refreshes failed here: every member's attribute missing, one (group, in) cell."""
    import numpy as np

    from segmint.privacy.fairness import _selection_rates

    rates = _selection_rates(np.array([True, True]), np.array([0, 0]), ["(missing)"])
    assert rates.to_dict() == {"(missing)": 1.0}


@pytest.mark.parametrize("n_segments", [1, 3, 12, 64, 70])
def test_row_patterns_match_numpy_unique_in_order(n_segments):
    """The packed keys give np.unique(axis=0)'s patterns in its order (the bootstrap's draws depend on it)."""
    from segmint.privacy.fairness import _patterns

    rng = np.random.default_rng(n_segments)
    matrix = rng.random((2_000, n_segments)) < 0.3
    matrix[:50] = matrix[50:100]  # repeated rows
    want, want_inverse = np.unique(matrix, axis=0, return_inverse=True)
    got, got_inverse = _patterns(matrix)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_inverse, want_inverse.ravel())
