"""Purchase cadence: mean and spread of the days between consecutive purchases.

Gaps are taken between consecutive purchases (returns excluded) in time order, in
fractional days; the previous purchase comes from the window of :mod:`.orders`. The
mean gap is null below two purchases and the standard deviation (``n - 1`` in the
denominator) below three. Two purchases at the same instant make a gap of 0.
"""

from __future__ import annotations

import ibis.expr.types as ir

from segmint.features.asof import Context, days_between

__all__ = ["aggregates"]


def aggregates(ctx: Context, o: ir.Table) -> dict[str, ir.Value]:
    """Mean and standard deviation of the gaps between purchases (``o``: the purchases, with ``_prev_at``)."""
    # The first purchase has no previous one: its gap is null and the aggregates skip it.
    gap = days_between(o.ordered_at, o._prev_at)
    return {
        "mean_days_between_orders": gap.mean(),
        "std_days_between_orders": gap.std(how="sample"),
    }
