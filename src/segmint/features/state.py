"""Per-customer running state of the order families, kept in the store for incremental snapshots.

Three tables hold what the order features need, as sums that add up exactly when rows arrive:

* ``feature_state`` (one row per customer with orders): purchase and return counts, exact money
  sums (DECIMAL, whose addition is exact in any order), first and last purchase, the gaps between
  consecutive purchases as their count, sum and sum of squares in whole seconds (the running
  moments :mod:`.cadence` takes its mean and spread from), purchase days and the first day's spend,
  promotion and quantity sums, how many orders carry a category, channel, promotion or quantity,
  and the sum of the orders' epoch seconds (a checksum);
* ``feature_state_levels``: purchases and spend per (customer, category) and (customer, channel):
  the category and channel shares, the top category and the level lists come from it;
* ``feature_state_days``: purchases and spend per (customer, day) over the last
  :func:`horizon` days, for the window features (``orders_last_<w>``, ``spend_last_<w>``, the
  90-day trend).

:func:`aggregate` builds the three from any set of orders (all of them, one day's, or one
customer's); :func:`merge` adds a batch of later orders to a customer's state. The features are
then read off the state by :mod:`.incremental`.

Examples
--------
>>> horizon([30, 90, 365])
365
>>> horizon([7])
180
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from segmint.features.asof import EXACT_MONEY, day_of

__all__ = ["STATE", "LEVELS", "DAYS", "META", "LEVEL_COLUMNS", "FLAGGED", "aggregate", "merge", "horizon"]

STATE, LEVELS, DAYS, META = "feature_state", "feature_state_levels", "feature_state_days", "feature_state_meta"
#: Order columns whose values get per-customer counts (shares, top category).
LEVEL_COLUMNS = ("category", "channel")
#: Optional order columns whose presence (a value in any order) decides whether their features exist.
FLAGGED = ("category", "channel", "promo", "quantity")
#: The 90-day spend trend reads 180 days back (see :mod:`.rfm`).
TREND_SPAN = 180
SQUARES = "decimal(38, 0)"  # squares of gaps of centuries in seconds overflow int64


def horizon(windows: list[int]) -> int:
    """Days of per-day aggregates the window features need."""
    return max([*windows, TREND_SPAN])


def _money(value: ir.NumericValue, where: ir.BooleanValue | None = None) -> ir.NumericValue:
    return value.cast(EXACT_MONEY).sum(where=where)


def _seconds(value: ir.Value) -> ir.IntegerValue:
    # The same whole seconds as cadence's gaps, so the sums match a full recomputation bit for bit.
    return value.epoch_seconds().cast("int64")


def aggregate(rows: ir.Table, first_day: int) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The state, levels and days rows of ``rows`` (orders with float ``amount``, ``is_return``, ``day``).

    ``first_day``: the first day (days since 1970) kept in the days table.
    """
    p = rows.filter(~rows.is_return)
    w = ibis.window(group_by=p.customer_id, order_by=p.ordered_at)
    p = p.mutate(_prev_at=p.ordered_at.lag().over(w), _first_at=p.ordered_at.first().over(w))
    gap = _seconds(p.ordered_at) - _seconds(p._prev_at)
    wide = gap.cast(SQUARES)
    new_day = p._prev_at.isnull() | (day_of(p._prev_at) != p.day)
    optional = set(rows.columns)
    zero = ibis.literal(0, type="int64")
    bought = p.group_by("customer_id").aggregate(
        n_purch=p.count(), sum_amt=_money(p.amount), first_at=p.ordered_at.min(), last_at=p.ordered_at.max(),
        n_gaps=gap.count(), gap_s1=gap.sum(), gap_s2=(wide * wide).sum(),
        n_days=p.day.count(where=new_day), first_spend=_money(p.amount, where=p.day == day_of(p._first_at)),
        promo_n=p.promo.count() if "promo" in optional else zero,
        promo_true=p.promo.cast("int64").sum() if "promo" in optional else zero,
        qty_n=p.quantity.count() if "quantity" in optional else zero,
        qty_sum=p.quantity.cast("float64").sum() if "quantity" in optional else ibis.literal(0.0),
    )
    every = rows.group_by("customer_id").aggregate(
        n_ret=rows.count(where=rows.is_return), ret_amt=_money(rows.amount.abs(), where=rows.is_return),
        ts_sum=_seconds(rows.ordered_at).sum(),
        **{f"any_{c}": (rows[c].count() if c in optional else zero) for c in FLAGGED},
    )
    state = every.left_join(bought, "customer_id").drop("customer_id_right")
    state = _normalised(state)
    levels = [_levels(p, c) for c in LEVEL_COLUMNS if c in optional]
    level_rows = levels[0]
    for more in levels[1:]:
        level_rows = level_rows.union(more, distinct=False)
    recent = p.filter(p.day >= first_day)
    days = recent.group_by(["customer_id", "day"]).aggregate(n=recent.count(), spend=_money(recent.amount))
    return state, level_rows, days


def _levels(p: ir.Table, column: str) -> ir.Table:
    q = p.filter(p[column].notnull())
    return q.group_by(["customer_id", q[column].cast("string").name("level")]).aggregate(
        n=q.count(), spend=_money(q.amount)).mutate(column=ibis.literal(column)).select(
        "customer_id", "column", "level", "n", "spend")


#: Columns of the state table with their types (sums are 0, never null; times are null without purchases).
COLUMNS = {
    "customer_id": "string", "n_purch": "int64", "sum_amt": EXACT_MONEY, "first_at": "timestamp",
    "last_at": "timestamp", "n_gaps": "int64", "gap_s1": "int64", "gap_s2": SQUARES, "n_days": "int64",
    "first_spend": EXACT_MONEY, "promo_n": "int64", "promo_true": "int64", "qty_n": "int64", "qty_sum": "float64",
    "n_ret": "int64", "ret_amt": EXACT_MONEY, "ts_sum": "int64",
    **{f"any_{c}": "int64" for c in FLAGGED},
}
_NULLABLE = ("customer_id", "first_at", "last_at")


def _normalised(t: ir.Table) -> ir.Table:
    """Every column typed as :data:`COLUMNS` says, sums as 0 instead of null."""
    out = {}
    for c, typ in COLUMNS.items():
        v = t[c].cast(typ)
        out[c] = v if c in _NULLABLE else v.fill_null(ibis.literal(0, type=typ) if typ != "float64" else 0.0)
    return t.select(**out)


def merge(old: ir.Table, new: ir.Table) -> ir.Table:
    """A customer's state after the orders of ``new`` (all later than every order of ``old``).

    The gap between the last purchase of ``old`` and the first of ``new`` joins the running moments;
    purchase days add up because a batch starts at a midnight after every earlier order.
    """
    o = old.select(*[old[c].name(f"o_{c}") for c in COLUMNS])
    j = o.outer_join(new, o.o_customer_id == new.customer_id)

    def both(c: str) -> ir.Value:
        return j[f"o_{c}"].fill_null(0) + j[c].fill_null(0)

    link = (j.o_n_purch.fill_null(0) > 0) & (j.n_purch.fill_null(0) > 0)
    gap = _seconds(j.first_at) - _seconds(j.o_last_at)
    wide = gap.cast(SQUARES)
    sums = [c for c, typ in COLUMNS.items() if c not in ("customer_id", "first_at", "last_at", "first_spend",
                                                           "n_gaps", "gap_s1", "gap_s2")]
    out = {c: both(c) for c in sums}
    out.update(
        customer_id=ibis.coalesce(j.o_customer_id, j.customer_id),
        first_at=ibis.coalesce(j.o_first_at, j.first_at),
        last_at=ibis.coalesce(j.last_at, j.o_last_at),
        n_gaps=both("n_gaps") + ibis.ifelse(link, 1, 0),
        gap_s1=both("gap_s1") + ibis.ifelse(link, gap, 0),
        gap_s2=both("gap_s2") + ibis.ifelse(link, wide * wide, ibis.literal(0).cast(SQUARES)),
        first_spend=ibis.ifelse(j.o_n_purch.fill_null(0) > 0, j.o_first_spend, j.first_spend),
    )
    return _normalised(j.select(**out))
