"""Monitoring figures of one segmentation over its stored runs: sizes, movement, churn, drift, KPIs.

Every figure is read from what runs stored (``memberships``, ``segmentation_runs``) and the feature
snapshots, with Ibis expressions; only the drift statistics and the confidence intervals are
computed in memory, on the per-run columns they need (a bounded sample for drift).

A run is one stored ``(version, as_of)``; when a segmentation was run at one date under two
versions (a refit), the later version stands for that date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from segmint.errors import DataError
from segmint.features.snapshot import load_features
from segmint.intervals import wilson  # re-exported: one implementation for every layer
from segmint.monitor.drift import compare_frames
from segmint.segment import kinds
from segmint.segment import membership as ms
from segmint.segment.context import ID, SegmentContext, get_definition, iso
from segmint.store import kept_figures
from segmint.store.runs import MEMBERSHIPS

__all__ = ["drift", "kpis", "runs", "sizes", "transitions", "wilson"]


def runs(ctx: SegmentContext, name: str) -> list[dict[str, Any]]:
    """The runs of ``name`` to monitor, oldest first: ``as_of`` (datetime), ``version``, ``customers``,
    ``rows`` and ``stored_at`` (ISO text or None; with the counts, what
    :func:`segmint.store.kept_figures.run_key` tells a run by).

    One per as_of: the latest version stored there.
    """
    get_definition(ctx, name)
    frame = ms.runs(ctx.store, name)
    if frame.empty:
        raise DataError(f"segmentation {name!r} has not been run yet; run `segmint segment {name}` or "
                        "`segmint refresh`")
    frame = frame.assign(as_of=pd.to_datetime(frame["as_of"])).sort_values(["as_of", "version"])
    last = frame.groupby("as_of", as_index=False).last()
    return [{"as_of": pd.Timestamp(r.as_of).to_pydatetime(), "version": int(r.version),
             "customers": int(r.customers), "rows": int(r.rows),
             "stored_at": None if pd.isna(r.stored_at) else pd.Timestamp(r.stored_at).isoformat()}
            for r in last.itertuples()]


def _members(ctx: SegmentContext, name: str, run: dict[str, Any]) -> ir.Table:
    return ms.memberships(ctx.store, name, run["version"], run["as_of"])


def sizes(ctx: SegmentContext, name: str, every: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customers and share per segment per run (share of the run's customers; audiences may sum above 1)."""
    m = ctx.store.con.table(MEMBERSHIPS)
    m = m.filter(m.segmentation == name)
    counts = m.group_by(["version", "as_of", "segment"]).aggregate(customers=m.count()).to_pyarrow().to_pandas()
    counts["as_of"] = pd.to_datetime(counts["as_of"])
    out = []
    for run in every:
        at = counts[(counts.version == run["version"]) & (counts.as_of == pd.Timestamp(run["as_of"]))]
        for r in at.sort_values("segment").itertuples():
            share = r.customers / run["customers"] if run["customers"] else 0.0
            out.append({"as_of": iso(run["as_of"]), "segment": r.segment, "customers": int(r.customers),
                        "share": share})
    return out


def transitions(ctx: SegmentContext, name: str, before: dict[str, Any], after: dict[str, Any],
                exclusive: bool) -> dict[str, Any]:
    """Entered / exited / stayed between two runs, the matrix, and each segment's churn with its interval."""
    mig = ms.migration(_members(ctx, name, before), _members(ctx, name, after), exclusive=exclusive)
    changes = []
    for r in mig["changes"].itertuples():
        lo, hi = wilson(int(r.left), int(r.before))
        changes.append({"segment": r.segment, "before": int(r.before), "after": int(r.after),
                        "stayed": int(r.stayed), "entered": int(r.entered), "exited": int(r.left),
                        "churn": (r.left / r.before) if r.before else None, "churn_low": lo, "churn_high": hi})
    matrix = None
    if mig["matrix"] is not None:
        matrix = {str(f): {str(t): int(v) for t, v in row.items() if v} for f, row in mig["matrix"].iterrows()}
    return {"from_as_of": iso(before["as_of"]), "to_as_of": iso(after["as_of"]), "from_version": before["version"],
            "to_version": after["version"], "customers": mig["customers"], "moved": mig["moved_count"],
            "moved_share": mig["moved_share"], "matrix": matrix, "segments": changes}


def transitions_over(ctx: SegmentContext, name: str, shown: list[dict[str, Any]], exclusive: bool) -> list[dict]:
    """:func:`transitions` between each pair of consecutive runs, each pair computed once and kept
    (:mod:`segmint.store.kept_figures`): a segmentation refreshed daily would otherwise join every pair again."""
    pairs = list(zip(shown, shown[1:]))
    keys = [f"{kept_figures.run_key(a)}>{kept_figures.run_key(b)}|{exclusive}" for a, b in pairs]
    return kept_figures.remember_many(ctx.store, name, "transitions", keys,
                                      lambda i: transitions(ctx, name, pairs[i][0], pairs[i][1], exclusive))


# ------------------------------------------------------------------------------------ drift
def monitored_features(ctx: SegmentContext, name: str, doc: dict[str, Any], settings, columns) -> list[str]:
    """The features drift is measured on: the settings' list, else those the model uses, else the numeric ones."""
    if settings.features:
        missing = [f for f in settings.features if f not in columns]
        if missing:
            raise DataError(f"monitoring of {name!r}: features {', '.join(missing)} are not in the feature "
                            f"snapshot; known features include {', '.join(list(columns)[:12])}")
        return list(settings.features)
    used = [f for f in kinds.for_model(doc).reason_features(doc) if f in columns]
    if used:
        return used
    return [c for c, d in columns.items() if c not in (ID, "as_of") and (d.is_numeric() or d.is_string())
            and not d.is_boolean()]


def _frame(ctx: SegmentContext, name: str, run: dict[str, Any], features: list[str], max_rows: int | None,
           seed: int = 0) -> pd.DataFrame:
    """``customer_id``, ``segment`` and ``features`` of one run (a customer per audience held)."""
    f = load_features(ctx.store, run["as_of"]).select(ID, *features)
    m = _members(ctx, name, run)
    if max_rows is not None:
        # The sample is drawn in the engine, so that only it travels: the customers first in the order of a
        # hash of their id (a pseudo-random order, the same in every run: a customer in both runs is in both
        # samples or in neither). Reading every member and sampling in pandas took 2.6 s a run at 900,000.
        ids = m.select(ID).distinct()
        key = (ids[ID] + ibis.literal(f":{seed}")).hash()
        ids = ids.order_by([key, ids[ID]]).limit(int(max_rows))
        m = m.semi_join(ids, ID)
    joined = m.inner_join(f, m[ID] == f[ID]).select(m[ID], m.segment, *[f[c] for c in features])
    return joined.to_pyarrow().to_pandas()


def reference_run(every: list[dict[str, Any]], current: dict[str, Any], reference: str) -> dict[str, Any] | None:
    """The run ``current`` is compared with: ``first``, ``previous`` or the run at a named as_of date."""
    earlier = [r for r in every if r["as_of"] < current["as_of"]]
    if reference == "first":
        return every[0] if every[0]["as_of"] < current["as_of"] else None
    if reference == "previous":
        return earlier[-1] if earlier else None
    try:
        when = pd.Timestamp(reference).to_pydatetime()
    except (ValueError, TypeError) as exc:
        raise DataError(f"drift reference {reference!r}: write first, previous or an as-of date YYYY-MM-DD") from exc
    match = [r for r in every if r["as_of"] == when]
    if not match:
        dates = ", ".join(iso(r["as_of"]) for r in every)
        raise DataError(f"drift reference {reference!r}: no run at that date; runs: {dates}")
    return match[0]


def drift(ctx: SegmentContext, name: str, ref: dict[str, Any], cur: dict[str, Any], features: list[str],
          settings, min_segment_size: int) -> dict[str, Any]:
    """Overall and per-segment drift of ``cur`` against ``ref`` on ``features``."""
    a = _frame(ctx, name, ref, features, settings.max_rows)
    b = _frame(ctx, name, cur, features, settings.max_rows)
    overall = compare_frames(a.drop_duplicates(ID), b.drop_duplicates(ID), features, settings)
    segments = {}
    for seg in sorted(set(a.segment) | set(b.segment)):
        sa, sb = a[a.segment == seg], b[b.segment == seg]
        if len(sa) < min_segment_size or len(sb) < min_segment_size:
            segments[seg] = {"suppressed": True, "n_ref": int(len(sa)), "n_cur": int(len(sb)),
                             "reason": f"fewer than {min_segment_size} customers (privacy.min_segment_size)"}
            continue
        segments[seg] = compare_frames(sa, sb, features, settings)
    return {"reference_as_of": iso(ref["as_of"]), "as_of": iso(cur["as_of"]), "features": features,
            "threshold": settings.threshold, "drift_share_threshold": settings.drift_share,
            "overall": overall, "segments": segments}


def _digest(value: Any) -> str:
    """A short stable text for settings in a kept figure's key (their JSON, hashed)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def drift_kept(ctx: SegmentContext, name: str, ref: dict[str, Any], cur: dict[str, Any], features: list[str],
               settings, min_segment_size: int) -> dict[str, Any]:
    """:func:`drift`, computed once per pair of runs and kept (:mod:`segmint.store.kept_figures`).

    The key holds both runs, the features, the drift settings and the size under which segments are
    suppressed; a feature snapshot stored again at a date clears the kept drift (it compares snapshots). The
    report, ``segmint monitor`` and the dashboard show up to :data:`segmint.monitor.monitor.DRIFT_SERIES_RUNS`
    pairs, each two samples of 200,000 customers and a comparison per segment: 1.7 s a pair at 1M customers,
    computed once instead of on every view.
    """
    # the reference is the run ``ref`` itself: "previous" and the date of that run are the same figure
    what = _digest([features, settings.model_dump(exclude={"reference"}), int(min_segment_size)])
    key = f"{kept_figures.run_key(ref)}>{kept_figures.run_key(cur)}|{what}"
    return kept_figures.remember_many(ctx.store, name, "drift", [key],
                                      lambda _: drift(ctx, name, ref, cur, features, settings, min_segment_size))[0]


# ------------------------------------------------------------------------------------- KPIs
#: The order columns the KPIs read: what a period's orders are fingerprinted by.
KPI_ORDER_COLUMNS = ("order_id", "customer_id", "ordered_at", "amount", "returned")

#: Snapshot features averaged per segment at each run, under the KPI's name.
STATE_KPIS = {"predicted_clv": "predicted_clv_12m", "p_alive": "probability_alive",
              "consent_share": "marketing_consent", "email_open_rate": "email_open_rate",
              "email_click_rate": "email_click_rate"}


def kpis(ctx: SegmentContext, name: str, every: list[dict[str, Any]], window_days: int,
         last: int | None = None) -> list[dict[str, Any]]:
    """KPIs per segment per run (of the ``last`` runs only, when given; ``every`` is the whole history).

    Activity (``orders``, ``buyers``, ``revenue``, ``aov``, ``revenue_per_customer``) covers the period
    since the previous run (the first run: ``window_days`` before it), each order attributed to the
    segment its customer was in when it happened: their segment at the period's start run, or, for a
    customer not yet in the base then, the segment they entered at its end. State figures are means over
    the members at the run: ``repeat_rate_90d`` (share with two or more orders in the 90 days before),
    ``predicted_clv``, ``p_alive``, ``consent_share``, ``email_open_rate``, ``email_click_rate``
    (response rates from the events).

    Each run's rows are computed once and kept (:mod:`segmint.store.kept_figures`) under the two runs, the
    orders of its period and the feature settings: a day's new orders leave every past period's rows as
    they are, a late or corrected order recomputes its period's. A run's period is the same whether all
    runs or the last few are shown (a refresh shows two): the one since the run before it in ``every``.
    """
    shown = range(max(len(every) - last, 0) if last else 0, len(every))
    snap_cols = set(ctx.store.table("features").columns) if "features" in ctx.store.tables() else set()
    settings = _digest([window_days, sorted(snap_cols), ctx.features.model_dump()])
    periods = [(every[i - 1]["as_of"] if i else every[i]["as_of"] - dt.timedelta(days=window_days),
                every[i]["as_of"]) for i in shown]
    orders = kept_figures.period_fingerprints(ctx.store, "orders", "ordered_at", KPI_ORDER_COLUMNS, periods)
    if orders is None:  # boundaries too fine to tell apart in one pass: the whole table's state
        orders = [kept_figures.data_state(ctx.store)] * len(periods)
    keys = [f"{kept_figures.run_key(every[i - 1] if i else every[i])}>{kept_figures.run_key(every[i])}|{orders[j]}|"
            f"{settings}" for j, i in enumerate(shown)]
    per_run = kept_figures.remember_many(ctx.store, name, "kpis", keys,
                                         lambda j: _run_kpis(ctx, name, every, shown[j], window_days, snap_cols))
    return [row for rows in per_run for row in rows]


def _run_kpis(ctx: SegmentContext, name: str, every: list[dict[str, Any]], i: int, window_days: int,
              snap_cols: set[str]) -> list[dict[str, Any]]:
    """The KPI rows of ``every[i]`` (see :func:`kpis`)."""
    o = ctx.store.table("orders")
    o = o.filter(~o.returned.fill_null(False))
    run = every[i]
    end = run["as_of"]
    start_run = every[i - 1] if i else run
    start = start_run["as_of"] if i else end - dt.timedelta(days=window_days)
    at_end = _members(ctx, name, run)
    at_start = _members(ctx, name, start_run)
    period = o.filter((o.ordered_at >= ibis.literal(start, type="timestamp"))
                      & (o.ordered_at < ibis.literal(end, type="timestamp")))
    # the segment the customer was in: at the start run, else (new customers) at this run
    first = at_start.select(ID, "segment")
    newcomers = at_end.anti_join(first, ID).select(ID, "segment")
    home = first.union(newcomers)
    j = period.inner_join(home, period[ID] == home[ID])
    activity = j.group_by("segment").aggregate(orders=j.count(), buyers=j[ID].nunique(),
                                               revenue=j.amount.cast("float64").sum())
    act = activity.to_pyarrow().to_pandas().set_index("segment")
    state = _state_kpis(ctx, at_end, end, snap_cols)
    members = at_end.group_by("segment").aggregate(customers=at_end.count()).to_pyarrow().to_pandas()
    out = []
    for r in members.sort_values("segment").itertuples():
        seg = r.segment
        n_orders = int(act["orders"].get(seg, 0)) if len(act) else 0
        revenue = float(act["revenue"].get(seg, 0.0)) if len(act) else 0.0
        row = {"as_of": iso(end), "period_start": iso(start), "segment": seg, "customers": int(r.customers),
               "orders": n_orders, "buyers": int(act["buyers"].get(seg, 0)) if len(act) else 0,
               "revenue": revenue, "aov": revenue / n_orders if n_orders else None,
               "revenue_per_customer": revenue / r.customers if r.customers else None}
        row.update(state.get(seg, {}))
        out.append(row)
    return out


def _state_kpis(ctx: SegmentContext, members: ir.Table, as_of: dt.datetime, columns: set[str]) -> dict[str, dict]:
    try:
        f = load_features(ctx.store, as_of)
    except DataError:
        return {}
    j = members.inner_join(f, members[ID] == f[ID])
    aggs: dict[str, ir.Value] = {}
    if "orders_last_90" in columns:
        aggs["repeat_rate_90d"] = (j.orders_last_90.fill_null(0) >= 2).cast("float64").mean()
    for kpi, col in STATE_KPIS.items():
        if col in columns:
            aggs[kpi] = j[col].cast("float64").mean()
    if not aggs:
        return {}
    t = j.group_by("segment").aggregate(**aggs).to_pyarrow().to_pandas()
    return {r["segment"]: {k: (None if pd.isna(v) else float(v)) for k, v in r.items() if k != "segment"}
            for r in t.to_dict("records")}
