"""The baseline of a campaign plan, read from the feature snapshot (:mod:`segmint.measure.power` does the sums).

The population is the members of a segmentation's latest run (optionally some segments),
or every customer of the latest snapshot. The baseline is what they did in the last N days
of that snapshot, N the configured feature window closest to the planned campaign length:
the share who ordered (conversion), the mean and standard deviation of their spend
(revenue) or order count (orders). Aggregated in the engine.
"""

from __future__ import annotations

from typing import Any

import ibis

from segmint.errors import ConfigError, DataError
from segmint.measure import power
from segmint.measure.campaigns import OUTCOMES
from segmint.measure.readout import covariate_column

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
    col = covariate_column(f.columns, outcome, days, list(ctx.features.windows))
    if col is None:
        raise DataError(f"the feature snapshot at {as_of.date()} has no orders_last_N / spend_last_N column to "
                        "read a baseline from; give --mean and --sd")
    if pop is not None:
        f = f.semi_join(pop, f.customer_id == pop.customer_id)
    v = f[col].cast("float64").fill_null(0.0)
    if outcome == "conversion":
        v = (v > 0).ifelse(1.0, 0.0)
    agg = f.aggregate(n=f.count(), mean=v.mean(), sd=v.std()).to_pyarrow().to_pylist()[0]
    n = int(agg["n"] or 0)
    if n == 0:
        raise DataError(f"nobody in {segmentation or 'the snapshot'}{' ' + str(segments) if segments else ''} "
                        f"at {as_of.date()}: nothing to plan on")
    what = f"{'share with orders_last' if outcome == 'conversion' else col} in the snapshot of {as_of.date()}"
    return n, float(agg["mean"] or 0.0), float(agg["sd"] or 0.0), what


def plan_for(ctx, segmentation: str | None, segments: list[str] | None, *, holdout: float, outcome: str,
             days: int, effect: float | None, customers: int | None, mean: float | None, sd: float | None,
             alpha: float, power: float) -> dict[str, Any]:
    """The plan (see :func:`segmint.measure.power.plan`) with the baseline given or read from the snapshot."""
    if outcome not in OUTCOMES:
        raise ConfigError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
    if days < 1:
        raise ConfigError(f"--days {days}: the campaign must last at least a day")
    source = "given"
    if mean is None or sd is None or customers is None:
        if outcome == "conversion" and mean is not None and sd is None:
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
