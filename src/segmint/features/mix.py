"""Category and channel mix, promotions, returns and basket size.

Shares are fractions of the customer's *purchases* (orders that are not returns):
``category_share_<c>`` is the share of purchases in category ``c`` and
``channel_share_<c>`` the share through channel ``c``; a purchase without a category
counts in the denominator, so shares may sum to less than 1. ``return_share`` is
returns / all orders. One column is made per category (channel) seen in purchases
before ``as_of``, the :data:`MAX_LEVELS` most frequent at most; names are slugs
(``"Home & Garden"`` -> ``category_share_home_garden``).

A source column that is empty in every order before ``as_of`` (Online Retail has no
channel or promotion) makes its features absent rather than columns of nulls.

Examples
--------
>>> slugs(["Home & Garden", "home garden", "Électronique", ""])
['home_garden', 'home_garden_2', 'lectronique', 'blank']
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from segmint.features.asof import Context

__all__ = ["features", "derive", "slugs", "MAX_LEVELS", "present_columns"]

#: Most share columns made per categorical source column.
MAX_LEVELS = 30


def slugs(values: list[str]) -> list[str]:
    """Column-name slugs of ``values``: lower case, ``_`` between words, unique, at most 40 chars."""
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        base = re.sub(r"[^a-z0-9]+", "_", str(v).lower()).strip("_")[:40] or "blank"
        name, i = base, 2
        while name in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name)
        out.append(name)
    return out


def present_columns(ctx: Context) -> set[str]:
    """Optional order columns with at least one value before ``as_of``."""
    o = ctx.orders
    cols = [c for c in ("category", "channel", "promo", "quantity") if c in o.columns]
    if not cols:
        return set()
    counts = o.aggregate(**{c: o[c].count() for c in cols}).to_pyarrow().to_pylist()[0]
    return {c for c, n in counts.items() if n}


def _levels(ctx: Context, column: str) -> list[str]:
    o = ctx.orders.filter(~ctx.orders.is_return & ctx.orders[column].notnull())
    top = o.group_by(column).aggregate(n=o.count()).order_by([ibis.desc("n"), column]).limit(MAX_LEVELS)
    return [str(v) for v in top[column].to_pyarrow().to_pylist()]


def features(ctx: Context) -> ir.Table:
    """Per-customer mix aggregates, and the top category when categories are known."""
    o = ctx.orders
    buy = ~o.is_return
    present = present_columns(ctx)
    aggs: dict[str, ir.Value] = {
        "_purchases": o.order_id.count(where=buy),
        "return_share": o.is_return.cast("float64").mean(),
    }
    for column in ("category", "channel"):
        if column in present:
            levels = _levels(ctx, column)
            for level, slug in zip(levels, slugs(levels)):
                aggs[f"_n_{column}_share_{slug}"] = o.order_id.count(where=buy & (o[column] == level))
    if "category" in present:
        aggs["distinct_categories"] = o.category.nunique(where=buy)
    if "promo" in present:
        aggs["promo_share"] = o.promo.cast("float64").mean(where=buy)  # mean skips unknown promo
    if "quantity" in present:
        aggs["mean_quantity"] = o.quantity.cast("float64").mean(where=buy)
    out = o.group_by("customer_id").aggregate(**aggs)
    if "category" in present:
        out = out.left_join(_top_category(ctx), "customer_id").drop("customer_id_right")
    return out


def _top_category(ctx: Context) -> ir.Table:
    o = ctx.orders.filter(~ctx.orders.is_return & ctx.orders.category.notnull())
    per = o.group_by(["customer_id", "category"]).aggregate(n=o.count(), spend=o.amount.sum())
    rank = ibis.row_number().over(group_by=per.customer_id,
                                  order_by=[ibis.desc(per.n), ibis.desc(per.spend), per.category])
    per = per.mutate(rank=rank)
    return per.filter(per.rank == 0).select("customer_id", top_category=per.category)


def derive(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
    """Turn the per-level counts into shares (null without purchases)."""
    counts = [c for c in t.columns if c.startswith(("_n_category_share_", "_n_channel_share_"))]
    out: dict[str, ir.Value] = {}
    if counts:
        denominator = t._purchases.nullif(0).cast("float64")
        out = {c[len("_n_"):]: t[c].fill_null(0).cast("float64") / denominator for c in counts}
    if "distinct_categories" in t.columns:
        # 0 distinct categories means "no categorised purchase": unknown, not zero variety.
        out["distinct_categories"] = t.distinct_categories.nullif(0)
    return out
