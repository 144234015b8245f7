"""``segmint campaign measure``: treatment against holdout, overall and per segment.

The outcome of each member is computed in the engine from the orders in the campaign's
window ``[start, end)``:

``conversion``
    1 when the customer placed an order (not a return) in the window, else 0;
``revenue``
    the net amount of their orders in the window (returns count negative);
``orders``
    how many orders (not returns) they placed in the window;
``event:NAME``
    1 when the customer had an event ``NAME`` (e.g. ``email_click``, ``web_visit``) in the
    window, else 0: a rate, measured like conversion;
``event_count:NAME``
    how many ``NAME`` events they had in the window: a mean, measured like orders.

The CUPED covariate is a pre-period feature of the stored feature snapshot at the
campaign's start (computed and stored when missing): the spend (revenue) or order count
(conversion, orders) in the last N days before the start, N the configured feature window
closest to the campaign's length. Members the snapshot does not know (no orders before)
count 0. For an event outcome it is the same outcome over as many days just before the start
(``pre_period``: the snapshot has no count per event type), unless ``--covariate`` names a
snapshot column.

The engine aggregates per (segment, group) the sums the statistics need
(:class:`~segmint.measure.stats.GroupStats`); only the bootstrap check reads the
per-customer outcomes (two columns).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from segmint.errors import ConfigError
from segmint.measure import campaigns as cp
from segmint.measure import stats

__all__ = ["covariate_column", "measure", "outcomes"]


#: The covariate of an event outcome by default: the same outcome over the days just before the start.
PRE_PERIOD = "pre_period"


def outcomes(store, outcome: str, start: dt.datetime, end: dt.datetime) -> ir.Table:
    """Per customer with an order (or the outcome's event) in ``[start, end)``: ``customer_id``, ``y``."""
    kind, event = cp.parse_outcome(outcome)
    if event is not None:
        e = store.table("events")
        e = e.filter((e.event == event) & (e.occurred_at >= ibis.literal(start, type="timestamp"))
                     & (e.occurred_at < ibis.literal(end, type="timestamp")))
        n = e.count().cast("float64")
        return e.group_by("customer_id").aggregate(y=n if kind == "event_count" else ibis.literal(1.0))
    o = store.table("orders")
    o = o.filter((o.ordered_at >= ibis.literal(start, type="timestamp"))
                 & (o.ordered_at < ibis.literal(end, type="timestamp")))
    bought = ~o.returned.fill_null(False) & (o.amount > 0)
    if outcome == "revenue":
        agg = o.group_by("customer_id").aggregate(y=o.amount.cast("float64").sum())
    else:
        n = bought.ifelse(1, 0).sum().cast("float64")
        agg = o.group_by("customer_id").aggregate(y=n if outcome == "orders" else (n > 0).ifelse(1.0, 0.0))
    return agg


def covariate_column(columns: list[str], outcome: str, days: float, windows: list[int]) -> str | None:
    """The snapshot column CUPED uses for ``outcome`` over a campaign of ``days`` days (None: none fits)."""
    ordered = sorted(windows, key=lambda w: (abs(w - days), w))
    stem = "spend_last_" if outcome == "revenue" else "orders_last_"
    for w in ordered:
        if f"{stem}{w}" in columns:
            return f"{stem}{w}"
    fallback = "monetary_total" if outcome == "revenue" else "frequency"
    return fallback if fallback in columns else None


def _snapshot_at(store, features_settings, plausible, when: dt.datetime) -> ir.Table:
    from segmint.features.snapshot import FEATURES_TABLE, snapshot

    if FEATURES_TABLE in store.con.list_tables():
        f = store.con.table(FEATURES_TABLE)
        at = f.filter(f.as_of == ibis.literal(when, type="timestamp"))
        if int(at.count().to_pyarrow().as_py()):
            return at
    snapshot(store, when, features_settings, plausible=plausible)
    f = store.con.table(FEATURES_TABLE)
    return f.filter(f.as_of == ibis.literal(when, type="timestamp"))


def customer_frame(ctx, key: bytes, campaign: cp.Campaign, covariate: str | None = None) -> tuple[ir.Table, dict]:
    """Per member: ``customer_id``, ``segment``, ``group``, ``y`` and ``x`` (the covariate, 0 when none)."""
    store = ctx.store
    end = cp.window_end(store, campaign, ctx.plausible)
    if end <= campaign.start:
        raise ConfigError(f"campaign {campaign.name!r} starts on {campaign.start.date()}, after the last order "
                          f"({end.date()}): there is nothing to measure yet")
    m = cp.members(ctx, key, campaign)
    y = outcomes(store, campaign.outcome, campaign.start, end)
    j = m.left_join(y, m.customer_id == y.customer_id)
    rows = j.select(customer_id=m.customer_id, segment=m.segment, group=m.group, y=y.y.fill_null(0.0))
    info: dict[str, Any] = {"start": campaign.start, "end": end, "covariate": None}
    is_event = cp.parse_outcome(campaign.outcome)[1] is not None
    if covariate == PRE_PERIOD or (is_event and covariate is None):
        length = end - campaign.start  # the same outcome over as many days just before the start
        info["pre_period_start"] = campaign.start - length
        x = outcomes(store, campaign.outcome, campaign.start - length, campaign.start)
        x = x.select(_xid=x.customer_id, x=x.y)
        rows = rows.left_join(x, rows.customer_id == x._xid).drop("_xid")
        rows = rows.mutate(x=rows.x.fill_null(0.0))
        info["covariate"] = PRE_PERIOD
    elif covariate != "none":
        snap = _snapshot_at(store, ctx.features, ctx.plausible, campaign.start)
        days = (end - campaign.start).total_seconds() / 86400
        col = covariate or covariate_column(snap.columns, campaign.outcome, days, list(ctx.features.windows))
        if col is not None and col not in snap.columns:
            from segmint.errors import did_you_mean

            raise ConfigError(f"--covariate {col!r} is not a column of the feature snapshot at "
                              f"{campaign.start.date()}; {did_you_mean(col, snap.columns)}")
        if col is not None and not snap[col].type().is_numeric() and not snap[col].type().is_boolean():
            raise ConfigError(f"--covariate {col!r} is not numeric; CUPED needs a number per customer")
        if col is not None:
            x = snap.select(_xid=snap.customer_id, x=snap[col].cast("float64"))
            rows = rows.left_join(x, rows.customer_id == x._xid).drop("_xid")
            rows = rows.mutate(x=rows.x.fill_null(0.0))
            info["covariate"] = col
    if "x" not in rows.columns:
        rows = rows.mutate(x=ibis.literal(0.0))
    return rows, info


def _group_stats(rows: ir.Table) -> dict[tuple[str, str], stats.GroupStats]:
    agg = rows.group_by(["segment", "group"]).aggregate(
        n=rows.count().cast("float64"), sy=rows.y.sum(), syy=(rows.y * rows.y).sum(), sx=rows.x.sum(),
        sxx=(rows.x * rows.x).sum(), sxy=(rows.x * rows.y).sum())
    out = {}
    for r in agg.to_pyarrow().to_pylist():
        out[(r["segment"], r["group"])] = stats.GroupStats(*(float(r[k] or 0.0) for k in
                                                             ("n", "sy", "syy", "sx", "sxx", "sxy")))
    return out


def _side(g: stats.GroupStats) -> dict[str, Any]:
    return {"customers": int(g.n), "outcome": None if not g.n else float(g.mean), "total": float(g.sy)}


def _block(t: stats.GroupStats, h: stats.GroupStats, kind: str, with_cuped: bool) -> dict[str, Any]:
    c = stats.compare(t, h, kind)
    d = c.to_dict()
    out = {"treatment": _side(t), "holdout": _side(h), "lift": d["lift"], "lift_ci": d["lift_ci"],
           "relative_lift": d["relative_lift"], "relative_lift_ci": d["relative_lift_ci"], "p_value": d["p_value"],
           "method": d["method"]}
    if with_cuped and t.n >= 2 and h.n >= 2:
        cu = stats.cuped(t, h).to_dict()
        out["cuped"] = {k: cu[k] for k in ("lift", "lift_ci", "relative_lift", "relative_lift_ci", "p_value",
                                           "theta", "variance_reduction")}
    return out


def measure(ctx, key: bytes, campaign: cp.Campaign, covariate: str | None = None, bootstrap: int = 200,
            seed: int = 0) -> dict[str, Any]:
    """The read-out of ``campaign`` as a JSON-ready dict (see docs/measurement.md)."""
    t0 = time.perf_counter()
    rows, info = customer_frame(ctx, key, campaign, covariate)
    per = _group_stats(rows)
    zero = stats.GroupStats(0.0, 0.0, 0.0)
    segments = sorted({s for s, _ in per})
    total_t = sum((per.get((s, cp.TREATMENT), zero) for s in segments), zero)
    total_h = sum((per.get((s, cp.HOLDOUT), zero) for s in segments), zero)
    cp.require_members(int(total_t.n + total_h.n), campaign)
    kind = "rate" if cp.is_rate(campaign.outcome) else "mean"
    with_cuped = info["covariate"] is not None
    overall = _block(total_t, total_h, kind, with_cuped)
    overall["sample_ratio"] = stats.sample_ratio_mismatch(int(total_t.n), int(total_h.n), campaign.holdout)
    if bootstrap and total_t.n >= 2 and total_h.n >= 2:
        arrow = rows.select("group", "y").to_pyarrow()
        y = arrow["y"].to_numpy().astype(float)
        held = np.asarray(arrow["group"].to_numpy(zero_copy_only=False) == cp.HOLDOUT)
        overall["bootstrap_lift_ci"] = stats.bootstrap_diff(y[~held], y[held], reps=int(bootstrap), seed=seed)
    seg_blocks = []
    for s in segments:
        t, h = per.get((s, cp.TREATMENT), zero), per.get((s, cp.HOLDOUT), zero)
        b = {"segment": s, **_block(t, h, kind, with_cuped)}
        b["sample_ratio"] = stats.sample_ratio_mismatch(int(t.n), int(h.n), campaign.holdout)
        seg_blocks.append(b)
    adjusted = stats.holm([b["p_value"] if b["p_value"] is not None else math.nan for b in seg_blocks])
    for b, p in zip(seg_blocks, adjusted):
        b["p_value_adjusted"] = None if math.isnan(p) else p
        b["significant"] = bool(not math.isnan(p) and p < 0.05)
    return {
        "campaign": campaign.name, "segmentation": campaign.segmentation, "segments_targeted": campaign.segments,
        "outcome": campaign.outcome, "holdout_share": campaign.holdout,
        "window": {"start": cp._day(info["start"]), "end": cp._day(info["end"]),
                   **({"pre_period_start": cp._day(info["pre_period_start"])} if "pre_period_start" in info else {})},
        "covariate": info["covariate"], "confidence": stats.LEVEL,
        "multiple_comparisons": "holm (p_value_adjusted, significant at 0.05, across segments)",
        "overall": overall, "segments": seg_blocks, "seconds": round(time.perf_counter() - t0, 3),
    }
