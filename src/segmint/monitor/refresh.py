"""``segmint refresh``: the next snapshot, every segmentation re-assigned, monitoring figures, alerts.

One command a scheduler runs daily (docs/monitoring.md). Steps:

1. the feature snapshot at ``as_of`` (default: the day after the last order), incremental: the
   running state of the order families brought forward by the new orders, late and corrected rows
   rebuilding their customers only (:mod:`segmint.features.incremental`; the result equals a full
   recomputation);
2. every segmentation (``monitoring.refresh_segmentations``, default all) assigned with its stored
   model, or refitted: when asked (``--refit``), or when a ``monitoring.model_health`` rule says the
   model degraded (cluster models) or the features drifted; the reasons are recorded;
3. the monitoring figures of the last two runs (sizes, transitions, drift against the reference,
   KPIs, model health) and the freshness of every table;
4. the alert rules checked and the alerts stored; the refresh itself recorded in ``monitor_refreshes``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import ibis
import pyarrow as pa

from segmint.errors import DataError
from segmint.features.asof import default_as_of, parse_as_of
from segmint.features.snapshot import list_snapshots, load_features, snapshot
from segmint.monitor import alerts as alerting
from segmint.monitor import figures
from segmint.monitor.drift import compare_frames
from segmint.monitor.freshness import freshness
from segmint.monitor.health import is_cluster, model_health, refit_reasons
from segmint.monitor.monitor import monitor
from segmint.segment import kinds
from segmint.segment import membership as ms
from segmint.segment import runs
from segmint.segment.context import ID, SegmentContext, iso
from segmint.segment.definitions import fingerprint

__all__ = ["REFRESHES_TABLE", "list_refreshes", "refresh"]

REFRESHES_TABLE = "monitor_refreshes"
#: The reason recorded when a definition had no fitted model yet (not a refit).
FIRST_FIT = "first fit of this definition"
SCHEMA = pa.schema([("refresh_id", pa.string()), ("started_at", pa.timestamp("us")),
                    ("finished_at", pa.timestamp("us")), ("as_of", pa.string()), ("snapshot", pa.string()),
                    ("segmentations", pa.string()), ("alerts", pa.int64())])


def _stored_model(ctx: SegmentContext, name: str, defn) -> tuple[dict, Any] | None:
    fp = fingerprint(defn)
    same = [v for v in ms.versions(ctx.store, name) if v["fingerprint"] == fp]
    if not same:
        return None
    return kinds.check_doc(same[-1]["model"]), same[-1]["fitted_as_of"]


def _snapshot_drift_share(ctx, name: str, doc: dict, when, settings) -> float | None:
    """Overall drift of the model's features: the previous run's snapshot against the new one."""
    every = figures.runs(ctx, name) if ms.find_runs(ctx.store, name) else []
    earlier = [r for r in every if r["as_of"] < when]
    if not earlier:
        return None
    cols = dict(ctx.store.table("features").schema().items())
    feats = figures.monitored_features(ctx, name, doc, settings, cols)
    if not feats:
        return None
    a = load_features(ctx.store, earlier[-1]["as_of"]).select(ID, *feats).to_pyarrow().to_pandas()
    b = load_features(ctx.store, when).select(ID, *feats).to_pyarrow().to_pandas()
    if settings.max_rows:
        a = a.sample(min(len(a), settings.max_rows), random_state=0)
        b = b.sample(min(len(b), settings.max_rows), random_state=0)
    return compare_frames(a, b, feats, settings)["drift_share"]


def _decide_refit(ctx, config, name: str, defn, when, refit: bool) -> tuple[list[str], dict | None]:
    """Why this refresh refits ``name`` (empty: the stored model is kept), and the health measured."""
    if refit:
        return ["asked (--refit)"], None
    stored = _stored_model(ctx, name, defn)
    if stored is None:
        return [FIRST_FIT], None
    doc, fitted_as_of = stored
    mh = config.monitoring.model_health
    health = None
    if is_cluster(doc) and (mh.refit_far_share is not None or mh.refit_distance_increase is not None):
        health = model_health(ctx.store, doc, fitted_as_of, when, mh.model_copy(update={"stability": False}))
    share = None
    if mh.refit_drift_share is not None:
        share = _snapshot_drift_share(ctx, name, doc, when, config.monitoring.drift_for(name))
    return refit_reasons(health, share, mh), health


def refresh(ctx: SegmentContext, config, as_of: Any = None, refit: bool = False,
            min_segment_size: int = 10) -> dict[str, Any]:
    """Run one refresh (see the module docstring); returns what it did, the figures' headlines and the alerts."""
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    store = ctx.store
    when = parse_as_of(as_of, ctx.plausible) if as_of is not None else default_as_of(store.table("orders"), ctx.plausible)
    before = {s["as_of"] for s in list_snapshots(store)}
    snap = snapshot(store, when, ctx.features, plausible=ctx.plausible)
    defs = ctx.definitions()
    names = config.monitoring.refresh_segmentations or list(defs)
    unknown = [n for n in names if n not in defs]
    if unknown:
        raise DataError(f"monitoring.refresh_segmentations names {', '.join(unknown)}, which are not defined; "
                        f"defined: {', '.join(defs) or 'none'}")
    done, figs, refits = [], {}, {}
    for name in names:
        s0 = time.perf_counter()
        reasons, _ = _decide_refit(ctx, config, name, defs[name], when, refit)
        result = runs.run_segmentation(ctx, name, when, refit=bool(reasons))
        fig = monitor(ctx, config.monitoring, name, min_segment_size=min_segment_size, last=2, series=False)
        figs[name] = fig
        refits[name] = reasons if result.fitted else []
        done.append({"name": name, "kind": result.kind, "version": result.version, "fitted": result.fitted,
                     "new_version": result.new_version, "refit_reasons": reasons if result.fitted else [],
                     "sizes": result.sizes, "moved_share": fig["transitions"][-1]["moved_share"] if fig["transitions"]
                     else None,
                     "drift_share": fig["drift"]["overall"]["drift_share"] if fig["drift"] else None,
                     "drifted": fig["drift"]["overall"]["drifted"] if fig["drift"] else [],
                     "model_health": fig["model_health"], "seconds": round(time.perf_counter() - s0, 3)})
    fresh = freshness(store, config.monitoring.freshness)
    raised = alerting.evaluate(config.monitoring.alerts, figs, fresh,
                               {k: [r for r in v if r != FIRST_FIT]
                                for k, v in refits.items()})
    refresh_id = uuid.uuid4().hex[:16]
    stored = alerting.store_alerts(store, raised, refresh_id, iso(when))
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    mode = snap["mode"] + (" (replaced)" if iso(when) in before else "")
    _record(store, {"refresh_id": refresh_id, "started_at": started, "finished_at": finished, "as_of": iso(when),
                    "snapshot": mode, "segmentations": json.dumps(done, default=str), "alerts": len(stored)})
    return {"refresh_id": refresh_id, "as_of": iso(when),
            "snapshot": {"mode": mode, "customers": snap["customers"], "seconds": snap["seconds"]},
            "segmentations": done, "freshness": fresh, "alerts": stored,
            "seconds": round(time.perf_counter() - t0, 3)}


def _record(store, row: dict[str, Any]) -> None:
    if REFRESHES_TABLE not in store.con.list_tables():
        store.con.create_table(REFRESHES_TABLE, schema=ibis.Schema.from_pyarrow(SCHEMA))
    store.con.insert(REFRESHES_TABLE, ibis.memtable(pa.Table.from_pylist([row], schema=SCHEMA)))


def list_refreshes(store, limit: int = 50) -> list[dict[str, Any]]:
    """Recorded refreshes, newest first."""
    if REFRESHES_TABLE not in store.con.list_tables():
        return []
    t = store.con.table(REFRESHES_TABLE)
    rows = t.order_by(ibis.desc("started_at")).limit(int(limit)).to_pyarrow().to_pylist()
    return [{**r, "started_at": r["started_at"].isoformat(sep=" ", timespec="seconds"),
             "finished_at": r["finished_at"].isoformat(sep=" ", timespec="seconds"),
             "segmentations": json.loads(r["segmentations"])} for r in rows]
