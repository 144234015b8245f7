"""One pass over the orders for the recency/frequency/monetary, cadence, mix and predictive families.

Those four families all aggregate the same orders per customer. Computing them as four
group-bys (plus a day-level group-by for the model inputs) scanned the orders five
times; here they share one window and one group-by:

* the window, partitioned by ``(customer_id, is_return)`` and ordered by time, adds
  ``_prev_at`` (the previous purchase's instant: cadence's gaps, and whether an order
  starts a new purchase day) and ``_first_at`` (the first purchase's instant: the spend
  of the first purchase day). Partitioning by ``is_return`` keeps returns out of the
  purchases' sequence while they stay in the same rows for the return aggregates;
* each family declares its aggregates over those rows (``aggregates(ctx, rows)``),
  and they are computed in one ``GROUP BY customer_id``;
* the predictive family's inputs are derived from the aggregates (``inputs(t, ctx)``).

Category shares come from their own (customer, category) group-by in :mod:`.mix`,
which also gives the top and distinct categories.

Everything is an Ibis expression (a window, filtered aggregates), so it runs unchanged
on any backend.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from segmint.features import cadence, mix, predictive, rfm
from segmint.features.asof import Context

__all__ = ["features", "rows"]


def rows(ctx: Context) -> ir.Table:
    """The orders before ``as_of`` with the window columns ``_prev_at`` and ``_first_at``."""
    o = ctx.orders
    w = ibis.window(group_by=[o.customer_id, o.is_return], order_by=o.ordered_at)
    return o.mutate(_prev_at=o.ordered_at.lag().over(w), _first_at=o.ordered_at.first().over(w))


def features(ctx: Context) -> ir.Table:
    """Per-customer aggregates of the order families, one row per customer with orders."""
    r = rows(ctx)
    aggs: dict[str, ir.Value] = {}
    for family in (rfm, cadence, mix, predictive):
        aggs.update(family.aggregates(ctx, r))
    out = r.group_by("customer_id").aggregate(**aggs)
    return out.mutate(**predictive.inputs(out, ctx))
