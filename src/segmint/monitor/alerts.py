"""Declarative alerts (``monitoring.alerts`` in segmint.yaml): checked by each refresh, stored with evidence.

Each rule is checked against the figures a refresh computed (:func:`evaluate`); every alert raised
is stored in the ``monitor_alerts`` table with its evidence as JSON (:func:`store_alerts`) and
listed by ``segmint alerts`` (:func:`list_alerts`).

Kinds: ``share_move`` (a segment's share moved more than ``points`` percentage points since the
previous run), ``drift`` (a population drifted: its share of drifted features reached the
segmentation's ``drift_share``; with ``threshold``, any feature whose statistic reaches it),
``stale`` (a table's freshness is warn or error), ``kpi_drop`` (a segment's ``kpi`` fell by more
than ``percent`` since the previous run), ``churn`` (a segment lost more than ``threshold`` of its
members) and ``refit`` (a refresh refitted a model because a rule said so).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

import ibis
import pyarrow as pa

__all__ = ["ALERTS_TABLE", "evaluate", "list_alerts", "store_alerts"]

ALERTS_TABLE = "monitor_alerts"
SCHEMA = pa.schema([("alert_id", pa.string()), ("raised_at", pa.timestamp("us")), ("refresh_id", pa.string()),
                    ("as_of", pa.string()), ("rule", pa.string()), ("kind", pa.string()),
                    ("severity", pa.string()), ("segmentation", pa.string()), ("segment", pa.string()),
                    ("message", pa.string()), ("evidence", pa.string())])


def _applies(rule, name: str | None, segment: str | None = None) -> bool:
    return (rule.segmentation is None or rule.segmentation == name) and \
        (rule.segment is None or segment is None or rule.segment == segment)


def _alert(rule, message: str, evidence: dict[str, Any], name: str | None = None,
           segment: str | None = None) -> dict[str, Any]:
    return {"rule": rule.label(), "kind": rule.kind, "severity": rule.severity, "segmentation": name,
            "segment": segment, "message": message, "evidence": evidence}


def _share_moves(rule, name: str, fig: dict[str, Any]) -> Iterable[dict[str, Any]]:
    sizes = fig.get("sizes") or []
    dates = sorted({s["as_of"] for s in sizes})
    if len(dates) < 2:
        return
    prev = {s["segment"]: s["share"] for s in sizes if s["as_of"] == dates[-2]}
    cur = {s["segment"]: s["share"] for s in sizes if s["as_of"] == dates[-1]}
    for seg in sorted(set(prev) | set(cur)):
        moved = (cur.get(seg, 0.0) - prev.get(seg, 0.0)) * 100
        if abs(moved) > rule.points and _applies(rule, name, seg):
            yield _alert(rule, f"{name}/{seg}: share moved {moved:+.1f} points ({prev.get(seg, 0):.1%} on "
                               f"{dates[-2]} -> {cur.get(seg, 0):.1%} on {dates[-1]})",
                         {"from_as_of": dates[-2], "to_as_of": dates[-1], "share_before": prev.get(seg, 0.0),
                          "share_after": cur.get(seg, 0.0), "points": moved}, name, seg)


def _drifts(rule, name: str, fig: dict[str, Any]) -> Iterable[dict[str, Any]]:
    d = fig.get("drift")
    if not d:
        return
    pops = [("(all customers)", d["overall"])] + [(s, v) for s, v in d["segments"].items() if not v.get("suppressed")]
    for seg, res in pops:
        if not _applies(rule, name, None if seg == "(all customers)" else seg):
            continue
        if rule.threshold is not None:
            hit = [f for f in res["features"] if f["value"] is not None and f["value"] >= rule.threshold]
        else:
            hit = [f for f in res["features"] if f["drifted"]] if res["dataset_drift"] else []
        if hit:
            names = ", ".join(f"{f['feature']} ({f['statistic']} {f['value']:.3f})" for f in hit[:6])
            yield _alert(rule, f"{name}/{seg}: drift against {d['reference_as_of']} in {len(hit)} of "
                               f"{len(res['features'])} features: {names}",
                         {"reference_as_of": d["reference_as_of"], "as_of": d["as_of"],
                          "drift_share": res["drift_share"],
                          "features": [{k: f[k] for k in ("feature", "statistic", "value")} for f in hit]},
                         name, None if seg == "(all customers)" else seg)


def _kpi_drops(rule, name: str, fig: dict[str, Any]) -> Iterable[dict[str, Any]]:
    rows = fig.get("kpis") or []
    dates = sorted({r["as_of"] for r in rows})
    if len(dates) < 2:
        return
    prev = {r["segment"]: r for r in rows if r["as_of"] == dates[-2]}
    for r in (r for r in rows if r["as_of"] == dates[-1]):
        p = prev.get(r["segment"])
        if p is None or not _applies(rule, name, r["segment"]):
            continue
        before, after = p.get(rule.kpi), r.get(rule.kpi)
        if before is None or after is None or before <= 0:
            continue
        drop = (before - after) / before * 100
        if drop > rule.percent:
            yield _alert(rule, f"{name}/{r['segment']}: {rule.kpi} fell {drop:.1f}% ({before:,.2f} -> {after:,.2f}) "
                               f"from {dates[-2]} to {dates[-1]}",
                         {"kpi": rule.kpi, "before": before, "after": after, "drop_percent": drop,
                          "from_as_of": dates[-2], "to_as_of": dates[-1]}, name, r["segment"])


def _churns(rule, name: str, fig: dict[str, Any]) -> Iterable[dict[str, Any]]:
    trans = fig.get("transitions") or []
    if not trans:
        return
    last = trans[-1]
    for s in last["segments"]:
        if s["churn"] is not None and s["churn"] > rule.threshold and _applies(rule, name, s["segment"]):
            yield _alert(rule, f"{name}/{s['segment']}: {s['exited']:,} of {s['before']:,} members left "
                               f"({s['churn']:.1%}, 95% CI {s['churn_low']:.1%}-{s['churn_high']:.1%})",
                         {k: last[k] for k in ("from_as_of", "to_as_of")} | s, name, s["segment"])


def evaluate(rules, figures: dict[str, dict[str, Any]], freshness: list[dict[str, Any]],
             refits: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Alerts raised by ``rules`` on a refresh's ``figures`` (per segmentation), ``freshness`` and ``refits``."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        if rule.kind == "stale":
            for t in freshness:
                if t["status"] in ("warn", "error"):
                    sev = "error" if t["status"] == "error" else rule.severity
                    age = t["age_seconds"]
                    out.append({**_alert(rule, f"table {t['table']} is stale ({t['status']}): newest row "
                                               f"{t['newest_row']}, last load {t['last_load']}"
                                               + (f", {age / 86400:.1f} days old" if age is not None else ""),
                                         t), "severity": sev})
            continue
        if rule.kind == "refit":
            for name, why in refits.items():
                if why and _applies(rule, name):
                    out.append(_alert(rule, f"{name}: refitted because " + "; ".join(why), {"reasons": why}, name))
            continue
        check = {"share_move": _share_moves, "drift": _drifts, "kpi_drop": _kpi_drops, "churn": _churns}[rule.kind]
        for name, fig in figures.items():
            if _applies(rule, name):
                out.extend(check(rule, name, fig))
    return out


def _ensure(store) -> None:
    if ALERTS_TABLE not in store.con.list_tables():
        store.con.create_table(ALERTS_TABLE, schema=ibis.Schema.from_pyarrow(SCHEMA))


def store_alerts(store, alerts: list[dict[str, Any]], refresh_id: str, as_of: str) -> list[dict[str, Any]]:
    """Store ``alerts`` (from :func:`evaluate`) with an id and the time; returns them as stored."""
    _ensure(store)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [{"alert_id": uuid.uuid4().hex[:16], "raised_at": now, "refresh_id": refresh_id, "as_of": as_of,
             **{k: a[k] for k in ("rule", "kind", "severity", "segmentation", "segment", "message")},
             "evidence": json.dumps(a["evidence"], default=str, sort_keys=True)} for a in alerts]
    if rows:
        with store.transaction():
            store.con.insert(ALERTS_TABLE, ibis.memtable(pa.Table.from_pylist(rows, schema=SCHEMA)))
    return [{**r, "raised_at": r["raised_at"].isoformat(sep=" ", timespec="seconds"),
             "evidence": json.loads(r["evidence"])} for r in rows]


def list_alerts(store, segmentation: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Stored alerts, newest first (at most ``limit``), optionally of one segmentation."""
    if ALERTS_TABLE not in store.con.list_tables():
        return []
    t = store.con.table(ALERTS_TABLE)
    if segmentation is not None:
        t = t.filter(t.segmentation == segmentation)
    rows = t.order_by([ibis.desc("raised_at"), "alert_id"]).limit(int(limit)).to_pyarrow().to_pylist()
    return [{**r, "raised_at": r["raised_at"].isoformat(sep=" ", timespec="seconds"),
             "evidence": json.loads(r["evidence"])} for r in rows]
