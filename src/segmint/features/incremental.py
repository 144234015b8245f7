"""Incremental snapshots: bring the running state (:mod:`.state`) to ``as_of``, read the order features off it.

The state remembers the ``as_of`` it covers (``A0``) and the newest ``_ingested_at`` of the orders it
read (the watermark). Moving it to a later midnight ``A1``:

1. **invalidated** customers: those with an order loaded (or corrected: an upsert writes the row
   again) after the watermark and dated before ``A0``; their state is rebuilt from all their orders
   before ``A1`` (a late or corrected row touches its customer only);
2. the **batch**: orders dated in ``[A0, A1)`` of the other customers, aggregated and merged with
   their state (:func:`segmint.features.state.merge`);
3. only the touched customers' rows of the three state tables are replaced, and the per-day rows
   older than the windows need are dropped;
4. a **checksum** compares the new state with the orders before ``A1`` (count, exact money sums, sum
   of epoch seconds). A row that left without trace (deleted, or moved to another customer or date by a
   correction) makes them differ: the state is then rebuilt from every order, so the snapshot is
   always that of a full recomputation.

:func:`order_parts` then gives the two per-customer tables the snapshot joins in place of the
order pass of :mod:`.orders` and :func:`segmint.features.mix.categories`: the same columns, the
same values (counts and sums exactly, floats by the same formulas on the same exact sums).
Everything not from orders (attributes, events, surveys, scales, topics) and everything
across customers (RFM scores, the CLV models' fit, category and channel level lists) is
computed as in a full snapshot.

Examples
--------
>>> import tempfile, pandas as pd
>>> from segmint.workspace import Workspace
>>> from segmint.features.snapshot import snapshot
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> _ = ws.ingest("orders", pd.DataFrame({"order_id": ["A1", "A2"], "customer_id": ["C1", "C2"],
...     "ordered_at": ["2024-01-05", "2024-02-01"], "amount": ["10", "30"]}))
>>> snapshot(ws.store, "2024-02-02")["mode"]  # the first: the state made from every order
'rebuilt'
>>> _ = ws.ingest("orders", pd.DataFrame({"order_id": ["A3"], "customer_id": ["C1"],
...     "ordered_at": ["2024-02-10"], "amount": ["5"]}))
>>> snapshot(ws.store, "2024-03-01")["mode"], state_info(ws.store)["as_of"].date().isoformat()
('incremental', '2024-03-01')
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from segmint.features import predictive, rfm
from segmint.features import state as st
from segmint.features.asof import SECONDS_PER_DAY, Context, day_of
from segmint.features.mix import MAX_LEVELS, slugs

__all__ = ["usable", "advance", "order_parts", "from_state", "drop_state", "state_info", "VERSION"]

#: Bumped when the state tables change meaning: an older state is rebuilt.
VERSION = 1
META_SCHEMA = ibis.schema({"version": "int64", "as_of": "timestamp", "watermark": "timestamp",
                           "horizon": "int64", "built_at": "timestamp", "mode": "string"})


def _day(when: dt.datetime) -> int:
    return int((when - dt.datetime(1970, 1, 1)).total_seconds() // SECONDS_PER_DAY)


def state_info(store) -> dict[str, Any] | None:
    """The stored state's ``as_of``, watermark, horizon and version, or None."""
    if st.META not in store.con.list_tables():
        return None
    rows = store.con.table(st.META).to_pyarrow().to_pylist()
    return rows[0] if len(rows) == 1 else None


def usable(store, when: dt.datetime) -> bool:
    """Whether a snapshot at ``when`` may come from the state: a midnight, not before the state's ``as_of``."""
    if when.time() != dt.time():
        return False
    info = state_info(store)
    return info is None or info["as_of"] <= when


def drop_state(store) -> None:
    """Forget the state (the next incremental snapshot rebuilds it)."""
    for name in (st.STATE, st.LEVELS, st.DAYS, st.META):
        store.con.drop_table(name, force=True)


#: One advance at a time per store (the server's threads): path -> lock.
_LOCKS: dict[str, threading.Lock] = {}


def from_state(store, ctx: Context) -> tuple[ir.Table, ir.Table | None]:
    """Advance the state to ``ctx.as_of`` and take the order parts off it (:func:`order_parts`), as one step.

    The parts are copied to temporary tables (listed in ``ctx.temporary``) under a per-store lock, so a
    thread advancing the state to another date meanwhile cannot change what this snapshot reads.
    """
    with _LOCKS.setdefault(str(store.path), threading.Lock()):
        ctx.memo["state"] = advance(store, ctx.as_of, ctx.settings.windows)
        parts = []
        for part in order_parts(store, ctx):
            if part is None:
                parts.append(None)
                continue
            name = f"_segmint_state_part_{uuid.uuid4().hex[:12]}"
            ctx.temporary.append(name)
            parts.append(store.con.create_table(name, part, temp=True))
    return parts[0], parts[1]


def _orders(store, before: dt.datetime | None = None) -> ir.Table:
    o = store.table("orders")
    if before is not None:
        o = o.filter(o.ordered_at < ibis.literal(before, type="timestamp"))
    return o.mutate(amount=o.amount.cast("float64"), is_return=o.returned.fill_null(False), day=day_of(o.ordered_at))


def _watermark(store) -> dt.datetime | None:
    o = store.table("orders")
    return o._ingested_at.max().to_pyarrow().as_py()


def advance(store, when: dt.datetime, windows: list[int]) -> dict[str, Any]:
    """Bring the state to ``when`` (a midnight); returns ``mode`` (incremental or rebuilt), and counts."""
    info = state_info(store)
    need = st.horizon(windows)
    first_day = _day(when) - need
    if info is None or info["version"] != VERSION or info["horizon"] < need:
        why = "no state yet" if info is None else "the state was made for other settings"
        return _rebuild(store, when, need, first_day, why)
    try:
        with store.transaction():
            out = _update(store, info, when, need, first_day)
            if not _consistent(store, when):
                raise _Mismatch
    except _Mismatch:
        return _rebuild(store, when, need, first_day, "orders were deleted, or moved by a correction, since the "
                        "last snapshot (the state's checksum differed)")
    return out


class _Mismatch(Exception):
    """The updated state does not add up to the stored orders (rolled back, then rebuilt)."""


def _rebuild(store, when: dt.datetime, need: int, first_day: int, why: str) -> dict[str, Any]:
    con = store.con
    with store.transaction():
        mark = _watermark(store)
        s, lev, days = st.aggregate(_orders(store, when), first_day)
        con.create_table(st.STATE, s, overwrite=True)
        con.create_table(st.LEVELS, lev, overwrite=True)
        con.create_table(st.DAYS, days, overwrite=True)
        _write_meta(store, when, mark, need, "rebuilt")
    return {"mode": "rebuilt", "reason": why, "touched": None, "invalidated": None}


def _write_meta(store, when, mark, need, mode) -> None:
    row = pd.DataFrame([{"version": VERSION, "as_of": when, "watermark": mark, "horizon": need,
                         "built_at": dt.datetime.now(dt.UTC).replace(tzinfo=None), "mode": mode}])
    store.con.create_table(st.META, ibis.memtable(row).cast(META_SCHEMA), overwrite=True)


def _update(store, info: dict, when: dt.datetime, need: int, first_day: int) -> dict[str, Any]:
    con = store.con
    a0 = ibis.literal(info["as_of"], type="timestamp")
    mark = _watermark(store)
    o = _orders(store, when)
    late = o.filter(o.ordered_at < a0)
    if info["watermark"] is not None:
        late = late.filter(late._ingested_at > ibis.literal(info["watermark"], type="timestamp"))
    tmp = "_segmint_state_"
    con.create_table(tmp + "inval", late.select("customer_id").distinct(), temp=True, overwrite=True)
    inval = con.table(tmp + "inval")
    batch = o.filter(o.ordered_at >= a0).anti_join(inval, "customer_id")
    con.create_table(tmp + "batch", batch, temp=True, overwrite=True)
    batch = con.table(tmp + "batch")
    b_state, b_levels, b_days = st.aggregate(batch, first_day)
    r_state, r_levels, r_days = st.aggregate(o.semi_join(inval, "customer_id"), first_day)
    grown = batch.select("customer_id").distinct()
    con.create_table(tmp + "touched", grown.union(inval, distinct=True), temp=True, overwrite=True)
    touched = con.table(tmp + "touched")
    old_state = con.table(st.STATE).semi_join(grown, "customer_id")
    levels = con.table(st.LEVELS)
    old_levels = levels.semi_join(grown, "customer_id")
    merged_levels = old_levels.union(b_levels, distinct=False)
    merged_levels = merged_levels.group_by(["customer_id", "column", "level"]).aggregate(
        n=merged_levels.n.sum(), spend=merged_levels.spend.sum())
    days = con.table(st.DAYS)
    new_days = days.semi_join(grown, "customer_id").filter(lambda d: d.day >= first_day).union(b_days, distinct=False)
    # Computed before the deletes below change what these expressions read.
    staged = {}
    for name, rows in ((st.STATE, st.merge(old_state, b_state).union(r_state, distinct=False)),
                       (st.LEVELS, merged_levels.select(levels.columns).union(r_levels.select(levels.columns),
                                                                               distinct=False)),
                       (st.DAYS, new_days.select(days.columns).union(r_days.select(days.columns), distinct=False))):
        con.create_table(tmp + name, rows, temp=True, overwrite=True)
        staged[name] = con.table(tmp + name)
    for name, rows in staged.items():
        store.delete_keys(name, ["customer_id"], touched)
        con.insert(name, rows.select(con.table(name).columns).cast(con.table(name).schema()))
    store.delete_before(st.DAYS, "day", first_day)
    counts = {"touched": _count(touched), "invalidated": _count(inval)}
    _write_meta(store, when, mark if mark is not None else info["watermark"], max(need, info["horizon"]),
                "incremental")
    for name in ("inval", "batch", "touched", *staged):
        con.drop_table(tmp + name, force=True)
    return {"mode": "incremental", "reason": None, **counts}


def _count(t: ir.Table) -> int:
    return int(t.count().to_pyarrow().as_py())


def _consistent(store, when: dt.datetime) -> bool:
    """Whether the state adds up to the orders before ``when`` (rows, money, seconds)."""
    s = store.con.table(st.STATE)
    mine = s.aggregate(rows=(s.n_purch + s.n_ret).sum(), money=(s.sum_amt + s.ret_amt).sum(),
                       seconds=s.ts_sum.cast("decimal(38, 0)").sum()).to_pyarrow().to_pylist()[0]
    o = _orders(store, when)
    money = ibis.ifelse(o.is_return, o.amount.abs(), o.amount).cast(st.EXACT_MONEY).sum()
    theirs = o.aggregate(rows=o.count(), money=money,
                         seconds=o.ordered_at.epoch_seconds().cast("int64").cast("decimal(38, 0)").sum()
                         ).to_pyarrow().to_pylist()[0]
    return all((mine[k] or 0) == (theirs[k] or 0) for k in ("rows", "money", "seconds"))


# --- the order features off the state ---------------------------------------------------------------


def present(store, orders_columns) -> set[str]:
    """Optional order columns with a value in some order before the state's ``as_of`` (as mix.present_columns)."""
    s = store.con.table(st.STATE)
    cols = [c for c in st.FLAGGED if c in orders_columns]
    if not cols:
        return set()
    counts = s.aggregate(**{c: s[f"any_{c}"].sum() for c in cols}).to_pyarrow().to_pylist()[0]
    return {c for c, n in counts.items() if n}


def _top_levels(levels: ir.Table, column: str) -> list[str]:
    lv = levels.filter(levels.column == column)
    top = lv.group_by("level").aggregate(n=lv.n.sum()).order_by([ibis.desc("n"), "level"]).limit(MAX_LEVELS)
    return [str(v) for v in top.level.to_pyarrow().to_pylist()]


def order_parts(store, ctx: Context) -> tuple[ir.Table, ir.Table | None]:
    """The per-customer order aggregates and the category table, as :mod:`.orders` and ``mix.categories`` make them."""
    con = store.con
    s, levels, days = con.table(st.STATE), con.table(st.LEVELS), con.table(st.DAYS)
    found = present(store, ctx.orders.columns)
    ctx.memo["present_columns"] = found
    as_of_day = _day(ctx.as_of)
    window_aggs: dict[str, ir.Value] = {}
    for w in ctx.settings.windows:
        recent = days.day >= as_of_day - w
        window_aggs[f"orders_last_{w}"] = days.n.sum(where=recent)
        window_aggs[f"spend_last_{w}"] = days.spend.sum(where=recent).cast("float64")
    t90 = rfm.TREND_DAYS
    window_aggs["_spend_recent"] = days.spend.sum(where=days.day >= as_of_day - t90).cast("float64")
    window_aggs["_spend_before"] = days.spend.sum(
        where=(days.day >= as_of_day - 2 * t90) & (days.day < as_of_day - t90)).cast("float64")
    windowed = days.group_by("customer_id").aggregate(**window_aggs)
    channel: dict[str, ir.Value] = {}
    if "channel" in found:
        ch = levels.filter(levels.column == "channel")
        names = _top_levels(levels, "channel")
        channel = {f"_n_channel_share_{slug}": ch.n.sum(where=ch.level == level)
                   for level, slug in zip(names, slugs(names))}
    j = s.left_join(windowed, "customer_id").drop("customer_id_right")
    if channel:
        per = ch.group_by("customer_id").aggregate(**channel)
        j = j.left_join(per, "customer_id").drop("customer_id_right")
    buyer = j.n_purch > 0

    def bought(value: ir.Value) -> ir.Value:
        return ibis.ifelse(buyer, value, ibis.null(value.type()))

    n = j.n_gaps.cast("float64")
    s1, s2 = j.gap_s1.cast("float64"), j.gap_s2.cast("float64")
    spread = ibis.greatest(n * s2 - s1 * s1, 0.0)
    cols: dict[str, ir.Value] = {
        "customer_id": j.customer_id,
        "frequency": bought(j.n_purch), "monetary_total": bought(j.sum_amt.cast("float64")),
        "first_order_at": j.first_at, "last_order_at": j.last_at,
    }
    for w in ctx.settings.windows:
        cols[f"orders_last_{w}"] = bought(j[f"orders_last_{w}"].fill_null(0))
        cols[f"spend_last_{w}"] = bought(j[f"spend_last_{w}"])
    cols["_spend_recent"], cols["_spend_before"] = j._spend_recent, j._spend_before
    cols["mean_days_between_orders"] = ibis.ifelse(n >= 1, s1 / n / SECONDS_PER_DAY, ibis.null("float64"))
    cols["std_days_between_orders"] = ibis.ifelse(n >= 2, (spread / (n * (n - 1))).sqrt() / SECONDS_PER_DAY,
                                                  ibis.null("float64"))
    cols.update({c: bought(j[c].fill_null(0)) for c in channel})
    if "promo" in found:
        cols["promo_share"] = j.promo_true.cast("float64") / j.promo_n.nullif(0).cast("float64")
    if "quantity" in found:
        cols["mean_quantity"] = j.qty_sum / j.qty_n.nullif(0).cast("float64")
    cols["_n_days"] = bought(j.n_days)
    cols["_first_spend"] = bought(j.first_spend.cast("float64"))
    cols["_n_returns"] = j.n_ret.nullif(0)
    cols["returned_amount"] = ibis.ifelse(j.n_ret > 0, j.ret_amt.cast("float64"), ibis.null("float64"))
    out = j.select(**cols)
    out = out.mutate(**predictive.inputs(out, ctx))
    return out, _categories(levels, found)


def _categories(levels: ir.Table, found: set[str]) -> ir.Table | None:
    """As :func:`segmint.features.mix.categories`, from the per-(customer, category) state rows."""
    if "category" not in found:
        return None
    names = _top_levels(levels, "category")
    per = levels.filter(levels.column == "category").select("customer_id", category=levels.level, n=levels.n,
                                                            spend=levels.spend.cast("float64"))
    rank = ibis.row_number().over(group_by=per.customer_id,
                                  order_by=[ibis.desc(per.n), ibis.desc(per.spend), per.category])
    per = per.mutate(rank=rank)
    aggs = {f"_n_category_share_{slug}": per.n.sum(where=per.category == level)
            for level, slug in zip(names, slugs(names))}
    return per.group_by("customer_id").aggregate(**aggs, distinct_categories=per.count(),
                                                 top_category=per.category.max(where=per.rank == 0))
