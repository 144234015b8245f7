"""``segmint refresh``, ``segmint monitor`` and ``segmint alerts``: living segments (docs/monitoring.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace


def _pct(v: Any) -> str:
    return "" if v is None else f"{v:.1%}"


def _num(v: Any, digits: int = 3) -> str:
    return "" if v is None else f"{v:,.{digits}f}"


@app.command()
def refresh(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD); default: the day after the "
                                        "last order."),
    refit: bool = typer.Option(False, "--refit", help="Refit every model instead of keeping the fitted ones."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Next feature snapshot, every segmentation re-assigned, monitoring figures and alerts (schedule it daily)."""
    with open_workspace(workspace) as ws:
        with console.status("Refreshing..."):
            info = ws.refresh(as_of, refit=refit)
    if as_json:
        console.print_json(info)
        return
    snap = info["snapshot"]
    console.out.print(f"Refresh as of {info['as_of']}: snapshot {snap['mode']}, "
                      f"{console.fmt_int(snap['customers'])} customers ({info['seconds']:.1f} s).")
    rows = []
    for s in info["segmentations"]:
        fitted = ("fitted: " + "; ".join(s["refit_reasons"])) if s["fitted"] else "model kept"
        rows.append([s["name"], str(s["version"]), fitted, _pct(s["moved_share"]), _pct(s["drift_share"]),
                     ", ".join(s["drifted"][:4])])
    console.out.print(console.table("Segmentations", ["segmentation", "version", "model", "moved", "drift share",
                                                      "drifted features"], rows))
    _print_alerts(info["alerts"], "Alerts raised")
    if info.get("retention") and info["retention"]["rows"]:  # issue 20: retention: periods purged first
        purged = ", ".join(f"{t} {v['rows']:,} (before {v['before']})" for t, v in info["retention"]["tables"].items()
                           if v["rows"])
        console.out.print(f"Retention purged {info['retention']['rows']:,} rows: {purged}.", markup=False)


@app.command()
def monitor(
    name: str = typer.Argument(..., help="Segmentation name."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Drift reference: first, previous or an "
                                            "as-of date (default: monitoring.drift.reference)."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Segment sizes, transitions and churn, drift, KPIs and model health over the runs."""
    with open_workspace(workspace) as ws:
        with console.status(f"Monitoring {name}..."):
            info = ws.monitor(name, reference=reference)
    if as_json:
        console.print_json(info)
        return
    _print_monitor(info)


@app.command()
def alerts(
    segmentation: Optional[str] = typer.Option(None, "--segmentation", help="Only this segmentation's alerts."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many, newest first."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Alerts raised by refreshes, newest first, with their evidence."""
    with open_workspace(workspace) as ws:
        found = ws.alerts(segmentation, limit)
    if as_json:
        console.print_json({"alerts": found})
        return
    _print_alerts(found, "Alerts")


def _print_alerts(found: list[dict[str, Any]], title: str) -> None:
    if not found:
        console.out.print(f"{title}: none")
        return
    rows = [[a["raised_at"], a["as_of"], a["severity"], a["kind"], a["message"]] for a in found]
    console.out.print(console.table(title, ["raised", "as of", "severity", "kind", "message"], rows))


def _print_monitor(info: dict[str, Any]) -> None:
    f = console.fmt_int
    dates = [r["as_of"] for r in info["runs"]]
    segs = sorted({s["segment"] for s in info["sizes"]})
    by = {(s["as_of"], s["segment"]): s for s in info["sizes"]}
    rows = [[seg] + [f"{f(by[(d, seg)]['customers'])} ({by[(d, seg)]['share']:.1%})" if (d, seg) in by else ""
                     for d in dates[-6:]] for seg in segs]
    console.out.print(console.table(f"{info['name']}: customers (share) per run", ["segment", *dates[-6:]], rows))
    if info["transitions"]:
        t = info["transitions"][-1]
        rows = [[s["segment"], f(s["before"]), f(s["stayed"]), f(s["entered"]), f(s["exited"]),
                 f"{_pct(s['churn'])} [{_pct(s['churn_low'])}, {_pct(s['churn_high'])}]"] for s in t["segments"]]
        console.out.print(console.table(f"From {t['from_as_of']} to {t['to_as_of']}: {t['moved_share']:.1%} moved",
                                        ["segment", "before", "stayed", "entered", "exited", "churn [95% CI]"], rows))
    d = info["drift"]
    if d:
        o = d["overall"]
        console.out.print(f"Drift against {d['reference_as_of']}: {len(o['drifted'])} of {len(o['features'])} "
                          f"features drifted overall ({o['drift_share']:.0%}; dataset drift: "
                          f"{'yes' if o['dataset_drift'] else 'no'}, threshold {d['threshold']}, "
                          f"share {d['drift_share_threshold']}).")
        rows = [[x["feature"], x["statistic"], _num(x["value"]), _num(x["psi"]),
                 _num(x.get("ks_p_value", x.get("chi2_p_value")), 4), "yes" if x["drifted"] else ""]
                for x in o["features"]]
        console.out.print(console.table("Drift, all customers", ["feature", "statistic", "value", "psi", "p-value",
                                                                  "drifted"], rows))
        rows = [[s, "suppressed" if v.get("suppressed") else f"{v['drift_share']:.0%}",
                 "" if v.get("suppressed") else ("yes" if v["dataset_drift"] else ""),
                 "" if v.get("suppressed") else ", ".join(v["drifted"][:5])] for s, v in d["segments"].items()]
        console.out.print(console.table("Drift per segment", ["segment", "drift share", "drifted", "features"], rows))
    else:
        console.out.print("Drift: no reference run yet (one run so far).")
    if info["kpis"]:
        last = [k for k in info["kpis"] if k["as_of"] == dates[-1]]
        rows = [[k["segment"], f(k["customers"]), f(k["orders"]), _num(k["revenue"], 0), _num(k["aov"], 2),
                 _pct(k.get("repeat_rate_90d")), _num(k.get("predicted_clv"), 0), _num(k.get("p_alive"), 2),
                 _pct(k.get("consent_share"))] for k in last]
        console.out.print(console.table(f"KPIs, {last[0]['period_start'] if last else ''} to {dates[-1]}",
                                        ["segment", "customers", "orders", "revenue", "AOV", "repeat 90d",
                                         "CLV", "P(alive)", "consent"], rows))
    h = info["model_health"]
    if h and "error" not in h:
        console.out.print(f"Model health (fitted {h['fitted_as_of']}): mean distance {h['mean_distance']:.3f} "
                          f"(fitted {h['mean_distance_fitted']:.3f}), far from every centroid {h['far_share']:.1%}"
                          + (f", stability vs a refit (ARI) {h['stability']:.2f}" if h["stability"] is not None
                             else "") + ".")
