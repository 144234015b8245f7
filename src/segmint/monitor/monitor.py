"""``segmint monitor NAME``: every monitoring figure of one segmentation over its runs, in one dict.

See :mod:`segmint.monitor.figures` for the figures and docs/monitoring.md for what they mean.
"""

from __future__ import annotations

from typing import Any

from segmint.errors import DataError
from segmint.monitor import figures
from segmint.monitor.health import is_cluster, model_health
from segmint.segment import kinds
from segmint.segment import membership as ms
from segmint.segment.context import SegmentContext, get_definition, iso
from segmint.segment.runs import model

__all__ = ["monitor"]

#: At most this many runs get a drift figure in the time series (each reads two snapshots' columns).
DRIFT_SERIES_RUNS = 12


def _fitted_as_of(ctx: SegmentContext, name: str, version: int):
    row = next((v for v in ms.versions(ctx.store, name) if int(v["version"]) == version), None)
    return None if row is None else row["fitted_as_of"]


def monitor(ctx: SegmentContext, settings, name: str, *, reference: str | None = None, min_segment_size: int = 10,
            last: int | None = None, health: bool = True, series: bool = True) -> dict[str, Any]:
    """The monitoring figures of ``name``: runs, sizes, transitions (with churn), drift, KPIs, model health.

    Parameters
    ----------
    ctx : SegmentContext
    settings : segmint.monitor.settings.MonitoringConfig
    name : str
        The segmentation.
    reference : str, optional
        ``first``, ``previous`` or an as-of date; default: the segmentation's ``drift.reference``.
    min_segment_size : int
        Segments smaller than this (either side) get no drift figures (``privacy.min_segment_size``).
    last : int, optional
        Only the last ``last`` runs for sizes, transitions and KPIs (a refresh needs two).
    health, series : bool
        Compute the model health (cluster models) and the drift time series.
    """
    defn = get_definition(ctx, name)
    every = figures.runs(ctx, name)
    shown = every[-last:] if last else every
    exclusive = kinds.get(defn.kind).exclusive
    drift_settings = settings.drift_for(name)
    if reference is not None:
        drift_settings = drift_settings.model_copy(update={"reference": reference})
    current = every[-1]
    doc = model(ctx, name, current["version"])
    columns = dict(ctx.store.table("features").schema().items())
    feats = figures.monitored_features(ctx, name, doc, drift_settings, columns)
    out: dict[str, Any] = {
        "name": name, "kind": defn.kind, "exclusive": exclusive,
        "runs": [{"as_of": iso(r["as_of"]), "version": r["version"], "customers": r["customers"]} for r in shown],
        "sizes": figures.sizes(ctx, name, shown),
        "transitions": figures.transitions_over(ctx, name, shown, exclusive),
        "drift_settings": drift_settings.model_dump(),
        "drift": None, "drift_series": [], "kpis": figures.kpis(ctx, name, every, settings.kpi_window_days, last),
        "model_health": None,
    }
    ref = figures.reference_run(every, current, drift_settings.reference)
    if ref is not None and feats:
        out["drift"] = figures.drift_kept(ctx, name, ref, current, feats, drift_settings, min_segment_size)
    if series and feats:
        for run in shown[-DRIFT_SERIES_RUNS:]:
            r = figures.reference_run(every, run, drift_settings.reference)
            if r is None:
                continue
            d = out["drift"] if run is current and out["drift"] is not None else \
                figures.drift_kept(ctx, name, r, run, feats, drift_settings, min_segment_size)
            out["drift_series"].append({
                "as_of": iso(run["as_of"]), "reference_as_of": d["reference_as_of"],
                "drift_share": d["overall"]["drift_share"], "dataset_drift": d["overall"]["dataset_drift"],
                "drifted": d["overall"]["drifted"],
                "segments": {s: {"drift_share": v["drift_share"], "dataset_drift": v["dataset_drift"],
                                 "drifted": v["drifted"]} for s, v in d["segments"].items() if not v.get("suppressed")},
                "values": {f["feature"]: f["value"] for f in d["overall"]["features"]}})
    if health and is_cluster(doc):
        fitted = _fitted_as_of(ctx, name, current["version"])
        try:
            out["model_health"] = model_health(ctx.store, doc, fitted or current["as_of"], current["as_of"],
                                               settings.model_health)
        except DataError as exc:  # the snapshot the model was fitted on is gone
            out["model_health"] = {"error": str(exc)}
    return out
