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

from segmint.features.asof import Context, exact_sum

__all__ = ["aggregates", "categories", "derive", "slugs", "MAX_LEVELS", "present_columns"]

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
    """Optional order columns with at least one value before ``as_of`` (asked once per context)."""
    if "present_columns" not in ctx.memo:
        o = ctx.orders
        cols = [c for c in ("category", "channel", "promo", "quantity") if c in o.columns]
        present: set[str] = set()
        if cols:
            counts = o.aggregate(**{c: o[c].count() for c in cols}).to_pyarrow().to_pylist()[0]
            present = {c for c, n in counts.items() if n}
        ctx.memo["present_columns"] = present
    return ctx.memo["present_columns"]


def _levels(ctx: Context, column: str) -> list[str]:
    o = ctx.orders.filter(~ctx.orders.is_return & ctx.orders[column].notnull())
    top = o.group_by(column).aggregate(n=o.count()).order_by([ibis.desc("n"), column]).limit(MAX_LEVELS)
    return [str(v) for v in top[column].to_pyarrow().to_pylist()]


def aggregates(ctx: Context, o: ir.Table) -> dict[str, ir.Value]:
    """Per-customer channel counts, promotion share and basket size over the purchases (see :mod:`.orders`).

    Channels are counted with one filtered count per level in the shared group-by: there are
    few of them, and a filtered count is cheaper than a group-by of its own. ``return_share``
    is derived from the purchase and return counts (:func:`derive`).
    """
    present = present_columns(ctx)
    aggs: dict[str, ir.Value] = {}
    if "channel" in present:
        levels = _levels(ctx, "channel")
        for level, slug in zip(levels, slugs(levels)):
            aggs[f"_n_channel_share_{slug}"] = o.count(where=o.channel == level)
    if "promo" in present:
        aggs["promo_share"] = o.promo.cast("float64").mean()  # mean skips unknown promo
    if "quantity" in present:
        aggs["mean_quantity"] = o.quantity.cast("float64").mean()
    return aggs


def categories(ctx: Context) -> ir.Table | None:
    """Per-customer category counts, distinct categories and top category; None without categories.

    All three come from one (customer, category) group-by of the purchases: the per-level
    counts are pivoted from its few rows per customer instead of one filtered count per level
    over every order, and distinct categories is its row count (no COUNT DISTINCT).
    The top category is the most bought, ties to the larger spend, then the first name.
    """
    if "category" not in present_columns(ctx):
        return None
    levels = _levels(ctx, "category")
    o = ctx.orders.filter(~ctx.orders.is_return & ctx.orders.category.notnull())
    per = o.group_by(["customer_id", "category"]).aggregate(n=o.count(), spend=exact_sum(o.amount))
    rank = ibis.row_number().over(group_by=per.customer_id,
                                  order_by=[ibis.desc(per.n), ibis.desc(per.spend), per.category])
    per = per.mutate(rank=rank)
    aggs: dict[str, ir.Value] = {
        f"_n_category_share_{slug}": per.n.sum(where=per.category == level)
        for level, slug in zip(levels, slugs(levels))
    }
    return per.group_by("customer_id").aggregate(
        **aggs,
        distinct_categories=per.count(),
        top_category=per.category.max(where=per.rank == 0),
    )


def derive(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
    """Turn the per-level counts into shares (null without purchases), and the return share (null without orders)."""
    counts = [c for c in t.columns if c.startswith(("_n_category_share_", "_n_channel_share_"))]
    returns = t._n_returns.fill_null(0)
    orders = (t.frequency.fill_null(0) + returns).nullif(0).cast("float64")
    out: dict[str, ir.Value] = {"return_share": returns.cast("float64") / orders}
    if counts:
        denominator = t.frequency.nullif(0).cast("float64")
        out.update({c[len("_n_"):]: t[c].fill_null(0).cast("float64") / denominator for c in counts})
    if "distinct_categories" in t.columns:
        # 0 distinct categories means "no categorised purchase": unknown, not zero variety.
        out["distinct_categories"] = t.distinct_categories.nullif(0)
    return out
