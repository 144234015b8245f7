"""Confidence intervals shared by every layer that reports a proportion.

One implementation of Wilson's score interval, for the funnels (issue 23), the membership churn
of the monitoring (issue 17) and the campaign read-outs (issue 19): three copies had drifted in
the seventh digit of ``z`` and in how they treated the ends.

Examples
--------
>>> [round(v, 4) for v in wilson(81, 263)]  # Newcombe (1998), table I: 0.2553 to 0.3662
[0.2553, 0.3662]
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["wilson", "z_of"]


def z_of(level: float) -> float:
    """The two-sided standard normal quantile of a confidence ``level`` (1.959964 for 0.95).

    >>> round(z_of(0.95), 6)
    1.959964
    """
    if not 0 < level < 1:
        raise ValueError(f"a confidence level is between 0 and 1, got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(successes: float, n: float, level: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson's score interval of the proportion ``successes / n``; ``(None, None)`` when ``n`` is 0.

    The ends are exact where the data pin them: 0 when nothing succeeded, 1 when everything did
    (the formula gives them only up to rounding), so a funnel step that everyone passes reads 100%.

    Examples
    --------
    >>> [round(v, 4) for v in wilson(8, 10)]
    [0.4902, 0.9433]
    >>> wilson(0, 5)[0], wilson(5, 5)[1]
    (0.0, 1.0)
    >>> wilson(0, 0)
    (None, None)
    """
    if n <= 0:
        return None, None
    z = z_of(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return float(lo), float(hi)
