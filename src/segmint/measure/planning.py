"""The baseline of a campaign plan, read from the feature snapshot (:mod:`segmint.measure.power` does the sums).

The population is the members of a segmentation's latest run (optionally some segments),
or every customer of the latest snapshot. The baseline is each customer's own rate over the
longest feature window (``orders_last_365`` by default), scaled to the campaign's length
``d``: conversion is the chance of at least one order in ``d`` days (orders as a Poisson
process at that rate), orders the scaled count (standard deviation: Poisson around each
customer's rate), revenue the scaled spend (spread growing as the root of the length). A
short window would say nothing about segments defined by not having bought lately.
An event outcome (``event:NAME``, ``event_count:NAME``) reads its baseline from the events
table instead: each customer's own outcome over the ``d`` days before the snapshot date.
Aggregated in the engine.
"""

from __future__ import annotations

from typing import Any

import ibis

from segmint.errors import ConfigError, DataError
from segmint.measure import power
from segmint.measure import campaigns as cp

__all__ = ["baseline", "plan_for"]


def baseline(ctx, segmentation: str | None, segments: list[str] | None, outcome: str,
             days: int) -> tuple[int, float, float, str]:
    """(customers, mean, sd, where it came from) of ``outcome`` over ``days`` days in the population."""
    from segmint.features.snapshot import FEATURES_TABLE, list_snapshots
    from segmint.segment import membership as ms
    from segmint.segment import runs

    store = ctx.store
    if segmentation:
        version, as_of = runs.run_of(ctx, segmentation)
        pop = ms.memberships(store, segmentation, version, as_of)
        if segments:
            pop = pop.filter(pop.segment.isin(segments))
        pop = pop.select("customer_id").distinct()
    else:
        snaps = list_snapshots(store)
        if not snaps:
            raise DataError("no feature snapshot is stored; run `segmint features` (or give --customers, --mean "
                            "and --sd)")
        from segmint.features.asof import parse_as_of

        as_of, pop = parse_as_of(snaps[-1]["as_of"]), None
    f = store.con.table(FEATURES_TABLE)
    f = f.filter(f.as_of == ibis.literal(as_of, type="timestamp"))
    if cp.parse_outcome(outcome)[1] is not None:
        return _event_baseline(store, f, pop, outcome, days, as_of, segmentation, segments)
    # The longest window, scaled to the campaign's length: a short window says nothing about segments defined
    # by not having bought lately (their last 30 or 90 days are empty by definition).
    windows = sorted(w for w in ctx.features.windows if f"orders_last_{w}" in f.columns)
    if not windows:
        raise DataError(f"the feature snapshot at {as_of.date()} has no orders_last_N column to read a baseline "
                        "from; give --mean and --sd")
    w = windows[-1]
    if pop is not None:
        f = f.semi_join(pop, f.customer_id == pop.customer_id)
    scale = days / w
    rate = f[f"orders_last_{w}"].cast("float64").fill_null(0.0) * scale  # expected orders in the campaign
    if outcome == "conversion":
        v = 1 - (-rate).exp()  # P(at least one order), orders as a Poisson process at the customer's own rate
        agg = f.aggregate(n=f.count(), mean=v.mean()).to_pyarrow().to_pylist()[0]
        agg["sd"] = (float(agg["mean"] or 0) * (1 - float(agg["mean"] or 0))) ** 0.5
        what = f"P(an order in {days} days) from orders_last_{w}"
    elif outcome == "orders":
        agg = f.aggregate(n=f.count(), mean=rate.mean(), var=rate.var()).to_pyarrow().to_pylist()[0]
        agg["sd"] = (float(agg["mean"] or 0) + float(agg["var"] or 0)) ** 0.5  # Poisson around each own rate
        what = f"orders_last_{w} x {days}/{w}"
    else:
        spend = f[f"spend_last_{w}"].cast("float64").fill_null(0.0) if f"spend_last_{w}" in f.columns else rate * 0
        agg = f.aggregate(n=f.count(), mean=(spend * scale).mean(), sd=spend.std()).to_pyarrow().to_pylist()[0]
        agg["sd"] = float(agg["sd"] or 0) * scale ** 0.5  # (a sum over days: its spread grows as the root)
        what = f"spend_last_{w} x {days}/{w}"
    n = int(agg["n"] or 0)
    if n == 0:
        raise DataError(f"nobody in {segmentation or 'the snapshot'}{' ' + str(segments) if segments else ''} "
                        f"at {as_of.date()}: nothing to plan on")
    what += f", snapshot of {as_of.date()}"
    return n, float(agg["mean"] or 0.0), float(agg["sd"] or 0.0), what


def _event_baseline(store, f, pop, outcome: str, days: int, as_of, segmentation, segments):
    """The baseline of an event outcome: each customer's outcome over the ``days`` days before ``as_of``."""
    import datetime as dt

    from segmint.measure.readout import outcomes

    people = (pop if pop is not None else f.select("customer_id")).distinct()
    y = outcomes(store, outcome, as_of - dt.timedelta(days=days), as_of)
    j = people.left_join(y, people.customer_id == y.customer_id)
    v = j.y.fill_null(0.0)
    agg = j.aggregate(n=j.count(), mean=v.mean(), sd=v.std()).to_pyarrow().to_pylist()[0]
    if not int(agg["n"] or 0):
        raise DataError(f"nobody in {segmentation or 'the snapshot'}{' ' + str(segments) if segments else ''} "
                        f"at {as_of.date()}: nothing to plan on")
    what = f"{outcome} in the {days} days before {as_of.date()} (events table)"
    return int(agg["n"]), float(agg["mean"] or 0.0), float(agg["sd"] or 0.0), what


def plan_for(ctx, segmentation: str | None, segments: list[str] | None, *, holdout: float, outcome: str,
             days: int, effect: float | None, customers: int | None, mean: float | None, sd: float | None,
             alpha: float, power: float) -> dict[str, Any]:
    """The plan (see :func:`segmint.measure.power.plan`) with the baseline given or read from the snapshot."""
    cp.check_outcome(outcome, ctx.store)
    if days < 1:
        raise ConfigError(f"--days {days}: the campaign must last at least a day")
    source = "given"
    if mean is None or sd is None or customers is None:
        if cp.is_rate(outcome) and mean is not None and sd is None:
            sd = (mean * (1 - mean)) ** 0.5
        if mean is None or sd is None or customers is None:
            n, m, s, source = baseline(ctx, segmentation, segments, outcome, days)
            customers = customers if customers is not None else n
            if mean is None:
                mean, sd = m, (s if sd is None else sd)
            elif sd is None:
                sd = s
    return _plan(customers, holdout, mean, sd, outcome, effect, alpha, power, source)


def _plan(customers, holdout, mean, sd, outcome, effect, alpha, power_, source):
    return power.plan(int(customers), holdout, float(mean), float(sd), outcome, effect, alpha, power_, source)
