"""segmint.measure.power against statsmodels' NormalIndPower, and the plan's refusals."""

from __future__ import annotations

import pytest

from segmint.errors import ConfigError
from segmint.measure import power

pytest.importorskip("statsmodels")
from statsmodels.stats.power import NormalIndPower  # noqa: E402


@pytest.mark.parametrize("n,h,sd", [(10_000, 0.1, 0.5), (2_000, 0.3, 40.0), (250_000, 0.05, 1.2)])
def test_mde_needed_and_power_match_statsmodels(n, h, sd):
    nt, nh = n * (1 - h), n * h
    es = NormalIndPower().solve_power(effect_size=None, nobs1=nt, alpha=0.05, power=0.8, ratio=nh / nt)
    # statsmodels also counts the far tail (a lift in the wrong direction); it moves the MDE by < 0.01%
    assert power.mde(n, h, sd) == pytest.approx(es * sd, rel=1e-4)
    effect = 1.3 * power.mde(n, h, sd)
    ref = NormalIndPower().power(effect_size=effect / sd, nobs1=nt, alpha=0.05, ratio=nh / nt)
    assert power.power_of(n, h, sd, effect) == pytest.approx(ref, rel=1e-6)
    need = power.needed(effect, h, sd)
    nobs1 = NormalIndPower().solve_power(effect_size=effect / sd, nobs1=None, alpha=0.05, power=0.8, ratio=h / (1 - h))
    assert need == pytest.approx(nobs1 / (1 - h), rel=1e-3)
    assert power.power_of(need, h, sd, effect) >= 0.8 - 1e-6


def test_plan_reports_every_holdout_share_and_refuses_nonsense():
    p = power.plan(20_000, 0.1, 0.08, (0.08 * 0.92) ** 0.5, "conversion", effect=0.01)
    assert [r["holdout"] for r in p["by_holdout_share"]] == list(power.SHARES)
    mdes = [r["mde"] for r in p["by_holdout_share"]]
    assert mdes == sorted(mdes, reverse=True)  # a larger holdout detects smaller lifts
    assert p["enough"] == (p["customers"] >= p["customers_needed"])
    with pytest.raises(ConfigError, match="standard deviation"):
        power.plan(1000, 0.1, 1.0, 0.0, "conversion")
    with pytest.raises(ConfigError, match="holdout"):
        power.plan(1000, 1.0, 0.1, 0.3, "conversion")
