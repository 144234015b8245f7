"""``segmint campaign plan``: how many customers a holdout test needs, and what it can detect.

The normal approximation of a two-sided test of a difference of means (a rate is a mean
of 0/1 values, its standard deviation ``sqrt(p (1 - p))``):

* minimum detectable effect with ``n`` customers of whom a share ``h`` is held out:
  ``(z_{1-alpha/2} + z_{power}) * sd * sqrt(1 / (n (1 - h)) + 1 / (n h))``;
* customers needed to detect ``mde``: ``(z_{1-alpha/2} + z_{power})^2 sd^2 (1/(1-h) + 1/h) / mde^2``;
* the power of a test with ``n`` customers for an effect ``mde``.

``tests/measure/test_power.py`` checks them against statsmodels' ``NormalIndPower``.

Examples
--------
>>> round(mde(10_000, 0.1, 0.5), 4)
0.0467
>>> needed(0.0467, 0.1, 0.5)
9998
>>> round(power_of(10_000, 0.1, 0.5, 0.0467), 2)
0.8
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats as sps

from segmint.errors import ConfigError

__all__ = ["mde", "needed", "plan", "power_of"]

SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)


def _z(alpha: float, power: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))


def mde(n: float, holdout: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest absolute effect a test of ``n`` customers detects with the given power."""
    return _z(alpha, power) * sd * math.sqrt(1 / (n * (1 - holdout)) + 1 / (n * holdout))


def needed(effect: float, holdout: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers (treatment and holdout together) needed to detect the absolute ``effect``."""
    return int(math.ceil(_z(alpha, power) ** 2 * sd * sd * (1 / (1 - holdout) + 1 / holdout) / effect ** 2 - 1e-9))


def power_of(n: float, holdout: float, sd: float, effect: float, alpha: float = 0.05) -> float:
    """The power of a two-sided test of ``n`` customers for the absolute ``effect``."""
    se = sd * math.sqrt(1 / (n * (1 - holdout)) + 1 / (n * holdout))
    z = sps.norm.ppf(1 - alpha / 2)
    return float(sps.norm.sf(z - abs(effect) / se) + sps.norm.cdf(-z - abs(effect) / se))


def plan(customers: int, holdout: float, mean: float, sd: float, outcome: str, effect: float | None = None,
         alpha: float = 0.05, power: float = 0.8, source: str = "") -> dict[str, Any]:
    """The plan as a JSON-ready dict: MDE at this size, per holdout share, and (given ``effect``) what it needs."""
    if not 0 < holdout < 1:
        raise ConfigError(f"--holdout {holdout}: use a share between 0 and 1, e.g. 0.1")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ConfigError("--alpha and --power are probabilities between 0 and 1 (e.g. 0.05 and 0.8)")
    if customers < 2:
        raise ConfigError(f"{customers} customers: a holdout test needs at least two")
    if not sd > 0:
        raise ConfigError(f"the outcome's standard deviation is {sd}: every customer has the same outcome, so no "
                          "lift can be measured; give --mean and --sd, or pick another outcome")
    out: dict[str, Any] = {
        "outcome": outcome, "customers": int(customers), "holdout": holdout, "baseline_mean": mean,
        "baseline_sd": sd, "baseline_from": source, "alpha": alpha, "power": power,
        "treatment_customers": int(round(customers * (1 - holdout))), "holdout_customers": int(round(customers * holdout)),
        "mde": mde(customers, holdout, sd, alpha, power),
        "mde_relative": (mde(customers, holdout, sd, alpha, power) / mean) if mean else None,
        "by_holdout_share": [{"holdout": h, "mde": mde(customers, h, sd, alpha, power),
                              "mde_relative": (mde(customers, h, sd, alpha, power) / mean) if mean else None}
                             for h in SHARES],
    }
    if effect is not None:
        if not effect > 0:
            raise ConfigError(f"--mde {effect}: give the smallest lift worth detecting as a positive number")
        need = needed(effect, holdout, sd, alpha, power)
        out.update({"effect": effect, "customers_needed": need, "enough": customers >= need,
                    "power_at_effect": power_of(customers, holdout, sd, effect, alpha)})
    return out
