"""Purchase cadence: mean and spread of the days between consecutive purchases.

Gaps are taken between consecutive purchases (returns excluded) in time order, in
fractional days, with a window ``lag`` per customer. The mean gap is null below two
purchases and the standard deviation (``n - 1`` in the denominator) below three.
Two purchases at the same instant make a gap of 0.
"""

from __future__ import annotations

import ibis.expr.types as ir

from segmint.features.asof import Context, days_between

__all__ = ["features"]


def features(ctx: Context) -> ir.Table:
    """Mean and standard deviation of the gaps between purchases, per customer with purchases."""
    o = ctx.orders.filter(~ctx.orders.is_return)
    previous = o.ordered_at.lag().over(group_by=o.customer_id, order_by=o.ordered_at)
    gaps = o.select("customer_id", gap=days_between(o.ordered_at, previous))
    return gaps.group_by("customer_id").aggregate(
        mean_days_between_orders=gaps.gap.mean(),
        std_days_between_orders=gaps.gap.std(how="sample"),
    )
