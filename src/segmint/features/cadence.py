"""Purchase cadence: mean and spread of the days between consecutive purchases.

Gaps are taken between consecutive purchases (returns excluded) in time order, in
fractional days; the previous purchase comes from the window of :mod:`.orders`. The
mean gap is null below two purchases and the standard deviation (``n - 1`` in the
denominator) below three. Two purchases at the same instant make a gap of 0.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from segmint.features.asof import SECONDS_PER_DAY, Context

__all__ = ["aggregates"]


def aggregates(ctx: Context, o: ir.Table) -> dict[str, ir.Value]:
    """Mean and standard deviation of the gaps between purchases (``o``: the purchases, with ``_prev_at``)."""
    # The first purchase has no previous one: its gap is null and the aggregates skip it.
    # Gaps in whole seconds, summed as integers: integer sums are exact in any order, where the
    # engine's parallel float mean and standard deviation changed in the last bits from run to run.
    gap = o.ordered_at.epoch_seconds().cast("int64") - o._prev_at.epoch_seconds().cast("int64")
    n = gap.count().cast("float64")
    s1 = gap.sum().cast("float64")
    wide = gap.cast("decimal(38, 0)")  # squares of gaps of centuries (in seconds) overflow int64
    s2 = (wide * wide).sum().cast("float64")
    # n S2 - S1^2 (>= 0 in exact arithmetic; float rounding may leave a hair below 0 for equal gaps).
    spread = ibis.greatest(n * s2 - s1 * s1, 0.0)
    return {
        "mean_days_between_orders": ibis.ifelse(n >= 1, s1 / n / SECONDS_PER_DAY, ibis.null("float64")),
        "std_days_between_orders": ibis.ifelse(n >= 2, (spread / (n * (n - 1))).sqrt() / SECONDS_PER_DAY,
                                               ibis.null("float64")),
    }
