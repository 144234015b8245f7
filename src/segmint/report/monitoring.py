"""The report's "Over time" section: a segmentation's monitoring figures (see :mod:`segmint.monitor`).

It takes the plain dict :meth:`segmint.workspace.Workspace.monitor` returns, so the report does not depend
on the monitoring package: shares per segment over the runs, churn with its interval between the last two,
drift against the reference, and the KPIs of the last run.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

__all__ = ["monitoring_section", "share_lines"]


def _e(x: Any) -> str:
    return html.escape(str(x))


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def _num(v: Any, d: int = 0) -> str:
    return "" if v is None else f"{v:,.{d}f}"


def share_lines(monitoring: dict[str, Any], names: dict[str, str]) -> dict | None:
    """A Plotly figure: one line per segment, its share of customers at each run."""
    by: dict[str, tuple[list, list]] = {}
    for s in monitoring.get("sizes") or []:
        x, y = by.setdefault(s["segment"], ([], []))
        x.append(s["as_of"])
        y.append(s["share"])
    if not by:
        return None
    data = [{"type": "scatter", "mode": "lines+markers", "name": names.get(k, k), "x": x, "y": y}
            for k, (x, y) in by.items()]
    return {"data": data, "layout": {"yaxis": {"title": "share of customers", "tickformat": ".0%"},
                                     "margin": {"t": 10, "r": 10, "b": 40, "l": 60}, "height": 320}}


def monitoring_section(monitoring: dict[str, Any], names: dict[str, str], fig: Callable[[str, dict | None], str]) -> str:
    """The section's HTML; ``fig(id, spec)`` registers a figure and returns its placeholder."""
    out = [f'<p class="lead">{len(monitoring["runs"])} runs, from {_e(monitoring["runs"][0]["as_of"])} to '
           f'{_e(monitoring["runs"][-1]["as_of"])}. <code>segmint monitor {_e(monitoring["name"])}</code> has every '
           "figure.</p>", fig("fig-shares", share_lines(monitoring, names))]
    if monitoring.get("transitions"):
        t = monitoring["transitions"][-1]
        rows = "".join(f"<tr><td>{_e(names.get(s['segment'], s['segment']))}</td><td class='num'>{_num(s['before'])}</td>"
                       f"<td class='num'>{_num(s['stayed'])}</td><td class='num'>{_num(s['entered'])}</td>"
                       f"<td class='num'>{_num(s['exited'])}</td><td class='num'>{_pct(s['churn'])}</td>"
                       f"<td>{_pct(s['churn_low'])} to {_pct(s['churn_high'])}</td></tr>" for s in t["segments"])
        out.append(f"<h3>From {_e(t['from_as_of'])} to {_e(t['to_as_of'])}: {_pct(t['moved_share'])} moved</h3>"
                   "<table><tr><th>segment</th><th>before</th><th>stayed</th><th>entered</th><th>exited</th>"
                   f"<th>churn</th><th>95% interval</th></tr>{rows}</table>")
    d = monitoring.get("drift")
    if d:
        o = d["overall"]
        seg_rows = "".join(
            f"<tr><td>{_e(names.get(s, s))}</td>"
            + ("<td colspan='2'>too few customers</td>" if v.get("suppressed") else
               f"<td class='num'>{_pct(v['drift_share'])}</td><td>{_e(', '.join(v['drifted']))}</td>") + "</tr>"
            for s, v in d["segments"].items())
        out.append(f"<h3>Drift against {_e(d['reference_as_of'])}</h3><p>{len(o['drifted'])} of {len(o['features'])} "
                   f"features drifted for all customers ({_pct(o['drift_share'])}; a feature drifts at "
                   f"{d['threshold']}, a population at {_pct(d['drift_share_threshold'])}).</p>"
                   f"<table><tr><th>segment</th><th>features drifted</th><th>which</th></tr>{seg_rows}</table>")
    last = [k for k in monitoring.get("kpis") or [] if k["as_of"] == monitoring["runs"][-1]["as_of"]]
    if last:
        rows = "".join(f"<tr><td>{_e(names.get(k['segment'], k['segment']))}</td><td class='num'>{_num(k['customers'])}</td>"
                       f"<td class='num'>{_num(k['orders'])}</td><td class='num'>{_num(k['revenue'])}</td>"
                       f"<td class='num'>{_num(k['aov'], 2)}</td><td class='num'>{_pct(k.get('repeat_rate_90d'))}</td>"
                       f"<td class='num'>{_num(k.get('p_alive'), 2)}</td></tr>" for k in last)
        out.append(f"<h3>KPIs from {_e(last[0]['period_start'])} to {_e(last[0]['as_of'])}</h3><p>Orders are "
                   "attributed to the segment the customer was in when they happened.</p><table><tr><th>segment</th>"
                   "<th>customers</th><th>orders</th><th>revenue</th><th>AOV</th><th>repeat 90d</th><th>P(alive)</th>"
                   f"</tr>{rows}</table>")
    return "\n".join(out)
