"""One self-contained HTML report of a segmentation: works offline, opens in any browser.

:func:`render_report` writes a single file with the overview and sizes, the scorecard,
the profile heatmap, persona cards, a 2-D projection of customers, distributions of
the main KPIs, the k-selection plot (clusterings), a migration Sankey (when history
exists) and the small-cell note. Plotly.js is inlined, so nothing is fetched when the
file is opened: a partial bundle of the trace types the report draws (1.4 MB, shipped with
segmint), or the whole library of the installed ``plotly`` package when a figure needs another.

The file is deterministic: the same inputs and ``random_state`` give the same bytes
(no timestamp is written unless ``subtitle`` carries one).
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd

from segmint.evaluate.inputs import Segmented, prepare
from segmint.evaluate.scorecard import CRITERIA, Scorecard
from segmint.evaluate.thresholds import METRICS
from segmint.profile.personas import Persona
from segmint.profile.profiles import Profile
from segmint.report import plots

#: Number of surrogate-tree rules shown per segment.
RULES_PER_SEGMENT = 2


#: Trace types in the partial Plotly.js bundle shipped for reports (scripts/build-report-plotly.sh builds it).
BUNDLE_TRACES = frozenset({"bar", "box", "heatmap", "sankey", "scatter"})


@functools.cache
def plotly_js(full: bool = False) -> str:
    """Minified Plotly.js to inline in a report (read once per process).

    By default the partial bundle shipped with segmint (the trace types in :data:`BUNDLE_TRACES`,
    ~1.4 MB); ``full=True`` gives the whole library of the installed ``plotly`` package (~4.8 MB),
    for a figure of another type.
    """
    if not full:
        return resources.files("segmint.report").joinpath("static", "plotly-report.min.js").read_text(encoding="utf-8")
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - plotly is a dependency of the report
        raise ImportError("the HTML report needs plotly: pip install plotly") from exc
    return get_plotlyjs()


def trace_types(figures: dict[str, dict[str, Any]]) -> set[str]:
    """The trace types the figures draw (Plotly's default type is scatter)."""
    return {trace.get("type", "scatter") for fig in figures.values() for trace in fig.get("data", [])}


def _template(name: str) -> str:
    return resources.files("segmint.report").joinpath("templates", name).read_text(encoding="utf-8")


def e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return ""
    return fmt.format(v) if np.isfinite(v) else "&ndash;"


def _badge(verdict: str) -> str:
    return f'<span class="badge {e(verdict)}">{e(verdict)}</span>'


def render_report(path: str | os.PathLike, title: str, features: pd.DataFrame | None, labels, scorecard: Scorecard,
                  profile: Profile, personas: Sequence[Persona], selection: pd.DataFrame | None = None,
                  migrations: pd.DataFrame | None = None, projection: pd.DataFrame | None = None,
                  notes: str | Sequence[str] = (), subtitle: str = "", chosen_k: int | None = None,
                  random_state: int = 0, *, prepared: Segmented | None = None,
                  campaigns: Sequence[dict] | None = None, monitoring: dict | None = None,
                  journeys: dict[str, dict] | None = None, fairness: dict | None = None) -> Path:
    """Write the report to ``path`` and return the path.

    Parameters
    ----------
    path : path-like
        The HTML file to write (folders are created).
    title : str
        Heading of the report.
    features, labels :
        The inputs the scorecard and profile were computed from (for the projection and distributions).
    scorecard, profile, personas :
        Results of :func:`~segmint.evaluate.scorecard`, :func:`~segmint.profile.profile` and
        :func:`~segmint.profile.personas`.
    selection : DataFrame, optional
        A clustering's k-selection table (``k`` and criteria columns).
    migrations : DataFrame, optional
        Customers moving between segments: a matrix (from x to) or ``from, to, customers``.
    projection : DataFrame, optional
        Two columns of coordinates per customer; default: PCA of a sample.
    notes : str or list of str
        Extra paragraphs shown at the end (data sources, as_of, caveats).
    subtitle : str
        A line under the title (e.g. the as_of date).
    chosen_k : int, optional
        The k the clustering chose, marked on the k-selection plot.
    random_state : int
        Seed of the projection's sample.
    journeys : dict, optional
        Segment -> the Sankey of its session paths (:meth:`Workspace.journeys`), shown as "Journeys".
    prepared : Segmented, optional
        ``features`` and ``labels`` already aligned by :func:`~segmint.evaluate.inputs.prepare` (give
        None for both): the workspace passes the run its scorecard and profile used.
    campaigns : list of dict, optional
        Campaign read-outs (:func:`segmint.measure.readout.measure`) on this segmentation: a section with
        the lift per segment and its 95% interval; with an ``uplift`` entry
        (:func:`segmint.measure.uplift.run`, or ``{"error": ...}``), who responds: the Qini curve, the
        uplift among the top k and the segments where acting pays most.
    monitoring : dict, optional
        :meth:`segmint.workspace.Workspace.monitor`'s figures: an "Over time" section (two runs or more).
    fairness : dict, optional
        The run's fairness table (:meth:`segmint.workspace.Workspace.fairness`): a "Fairness" section.
    """
    names = {p.segment: p.name for p in personas}
    hidden = list(profile.suppressed)
    figures: dict[str, dict] = {}
    sections: list[tuple[str, str, str]] = []

    def fig(fid: str, spec: dict | None) -> str:
        if spec is None:
            return ""
        figures[fid] = spec
        return f'<div id="{fid}" class="plot"></div>'

    sections.append(("overview", "Overview", _overview(scorecard, profile, names) + fig("fig-sizes",
                     plots.sizes_bar(profile, names))))
    if profile.overlap is not None:
        sections.append(("overlap", "Overlap", _overlap(profile, names)))
    sections.append(("scorecard", "Scorecard", _scorecard(scorecard, names)))
    sections.append(("profile", "Profile", '<p class="lead">How each segment compares with the whole base: '
                     "index = segment mean / population mean x 100. Blue is above average, red below.</p>"
                     + fig("fig-heatmap", plots.profile_heatmap(profile, names))))
    sections.append(("personas", "Personas", _personas(personas)))
    # align features and labels once for both plots: each alignment copies the features (GBs at 1M customers)
    aligned = prepared if prepared is not None else prepare(features, labels)
    proj = plots.projection_scatter(None, None, names, hidden, projection, random_state=random_state, prepared=aligned)
    if proj:
        sections.append(("projection", "Map of customers", fig("fig-projection", proj)))
    dists = plots.distributions(None, None, names, hidden, prepared=aligned)
    if dists:
        sections.append(("distributions", "Distributions",
                         '<p class="lead">Boxes span the middle half of each segment, the line is the median, '
                         "whiskers reach the 5th and 95th percentiles.</p><div class=\"grid2\">"
                         + "".join(fig(f"fig-dist-{i}", d) for i, d in enumerate(dists)) + "</div>"))
    if selection is not None:
        sections.append(("kselection", "Number of segments", fig("fig-k", plots.kselection_lines(selection, chosen_k))))
    if migrations is not None:
        sankey = plots.migration_sankey(migrations, names, profile.min_segment_size)
        sections.append(("migrations", "Migrations", fig("fig-sankey", sankey) if sankey
                         else "<p>No flow between segments is large enough to show.</p>"))
    for i, r in enumerate(campaigns or []):
        sections.append((f"campaign-{i}", f"Campaign {r['campaign']}", _campaign(r, names) + fig(
            f"fig-campaign-{i}", _lift_plot(r, names)) + _uplift(r.get("uplift"), names, lambda s: fig(
                f"fig-qini-{i}", s))))
    if monitoring is not None and len(monitoring.get("runs") or []) > 1:  # monitoring (issue 17)
        from segmint.report.monitoring import monitoring_section

        sections.append(("monitoring", "Over time", monitoring_section(monitoring, names, fig)))
    if journeys:
        parts = [fig(f"fig-paths-{i}", plots.path_sankey(sk, f"Session paths: {names.get(seg, seg)}",
                                                         profile.min_segment_size))
                 for i, (seg, sk) in enumerate(journeys.items()) if seg not in hidden]
        sections.append(("journeys", "Journeys", '<p class="lead">The first steps of each segment\'s sessions '
                         "(events and orders), most common paths first.</p>"
                         + ("".join(parts) or "<p>No path is common enough to show.</p>")))
    if fairness is not None:  # issue 20
        from segmint.report.fairness_section import fairness_html

        sections.append(("fairness", "Fairness", fairness_html(fairness, names)))
    sections.append(("notes", "Notes", _notes(profile, notes, scorecard)))

    body = "\n".join(f'<section id="{sid}"><h2>{e(head)}</h2>\n{content}</section>' for sid, head, content in sections)
    nav = " ".join(f'<a href="#{sid}">{e(head)}</a>' for sid, head, _ in sections)
    from segmint import __version__

    full_plotly = not trace_types(figures) <= BUNDLE_TRACES  # a figure of a type the partial bundle lacks
    page = Template(_template("report.html")).substitute(
        title=e(title), subtitle=e(subtitle or f"{profile.n_customers:,} customers in {len(profile.segments)} segments"),
        nav=nav, body=body, css=_template("report.css"), plotly=plotly_js(full_plotly), version=e(__version__),
        figures="{" + ",".join(f'"{k}":{plots.to_json(v)}' for k, v in figures.items()) + "}",
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _overview(card: Scorecard, profile: Profile, names: dict[str, str]) -> str:
    v = card.verdicts
    kpis = [(f"{profile.n_customers:,}", "customers"), (str(len(profile.segments)), "segments")]
    if "revenue" in profile.population:
        kpis.append((f"{profile.population['revenue']:,.0f}", "revenue"))
    if "mean_clv" in profile.population:
        kpis.append((f"{profile.population['mean_clv']:,.0f}", "mean predicted CLV"))
    out = ['<div class="kpis">' + "".join(f"<div><b>{e(a)}</b><span>{e(b)}</span></div>" for a, b in kpis) + "</div>"]
    out.append(f"<p>Overall verdict: {_badge(card.overall)} (the worst of the six criteria below).</p>")
    out.append('<div class="verdicts">' + "".join(f"<div><b>{e(c)}</b>{_badge(v[c])}</div>" for c in CRITERIA)
               + "</div>")
    cols = [c for c in ("revenue_share", "mean_spend", "mean_frequency", "mean_recency_days", "mean_clv")
            if c in profile.sizes]
    head = "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in ["segment", "name", "customers", "share", *cols])
    rows = []
    for r in profile.sizes.to_dict("records"):
        s = r["segment"]
        if r["suppressed"]:
            cells = f'<td class="num" colspan="{2 + len(cols)}">fewer than {profile.min_segment_size} customers (suppressed)</td>'
        else:
            cells = (f'<td class="num">{_num(r["customers"])}</td><td class="num">{_num(100 * r["share"], "{:.1f}%")}</td>'
                     + "".join(f'<td class="num">{_fmt_kpi(c, r[c])}</td>' for c in cols))
        rows.append(f"<tr><td>{e(s)}</td><td>{e(names.get(s, s))}</td>{cells}</tr>")
    out.append(f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    return "\n".join(out)


def _overlap(profile: Profile, names: dict[str, str]) -> str:
    ov = profile.overlap
    head = "".join(f"<th>{e(names.get(c, c))}</th>" for c in ov.columns)
    rows = "".join(
        f"<tr><th>{e(names.get(s, s))}</th>"
        + "".join(f'<td class="num">{_num(v) if np.isfinite(v) else f"&lt;{profile.min_segment_size}"}</td>'
                  for v in ov.loc[s].to_numpy(float))
        + "</tr>" for s in ov.index)
    return ('<p class="lead">Customers in both audiences (the diagonal: in the audience). Audiences overlap, so '
            f"shares need not add up to 100%.</p><table><tr><th></th>{head}</tr>{rows}</table>")


def _fmt_kpi(name: str, v: Any) -> str:
    if name.endswith("_share"):
        return _num(100 * float(v), "{:.1f}%")
    return _num(v, "{:,.1f}" if "frequency" in name else "{:,.0f}")


def _scorecard(card: Scorecard, names: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td>{e(r['criterion'])}</td><td><code>{e(r['metric'])}</code></td>"
        f"<td class='num'>{_metric(r['value'], r['metric'])}</td>"
        f"<td>{e(r['threshold'])}</td><td>{_badge(r['verdict'])}</td><td>{e(r['sentence'])}</td></tr>"
        for r in card.segmentation.to_dict("records"))
    out = [('<p class="lead">Each criterion is judged against configurable thresholds; the sentence says what '
            "the number means.</p>")]
    if card.sample_note:
        out.append(f'<p class="note">{e(card.sample_note)}</p>')
    out.append("<table><tr><th>criterion</th><th>measure</th><th>value</th><th>threshold</th><th>verdict</th>"
               f"<th>what it means</th></tr>{rows}</table>")
    judged = card.segments.metric.isin(list(METRICS))
    seg = card.segments[judged & card.segments.verdict.isin(["pass", "warn", "fail", "n/a"])]
    if len(seg):
        metrics = list(dict.fromkeys(seg.metric))
        head = "".join(f"<th>{e(m.replace('_', ' '))}</th>" for m in metrics)
        body = []
        for s in dict.fromkeys(seg.segment):
            cells = []
            for m in metrics:
                r = seg[(seg.segment == s) & (seg.metric == m)]
                if r.empty:
                    cells.append("<td></td>")
                elif r.verdict.iloc[0] == "n/a":
                    cells.append(f"<td class='num muted' title='{e(r.sentence.iloc[0])}'>suppressed</td>")
                else:
                    cells.append(f"<td class='num' title='{e(r.sentence.iloc[0])}'>{_metric(r.value.iloc[0], m)} "
                                 f"{_badge(r.verdict.iloc[0])}</td>")
            body.append(f"<tr><td>{e(names.get(s, s))}</td>{''.join(cells)}</tr>")
        out.append(f"<h3>By segment</h3><table><tr><th>segment</th>{head}</tr>{''.join(body)}</table>")
    if len(card.rules):
        items = []
        for s, g in card.rules.groupby("segment", sort=False):
            for r in g.head(RULES_PER_SEGMENT).itertuples():
                items.append(f"<li><span class='rule'>{e(r.conditions or 'everyone')}</span> &rarr; "
                             f"<b>{e(names.get(s, s))}</b> ({r.support:,} customers, {r.precision:.0%} pure)</li>")
        out.append("<h3>Rules that reproduce the segments (shallow decision tree)</h3><ul>" + "".join(items) + "</ul>")
    return "\n".join(out)


#: Measures that are shares, shown as percentages.
PERCENT_METRICS = {"share", "min_share", "reachable_share", "min_reachable_share", "revenue_share",
                   "top_revenue_share", "fidelity", "recall", "retention"}


def _metric(v: Any, metric: str = "") -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(v):
        return "&ndash;"
    if metric in PERCENT_METRICS:
        return f"{100 * v:.1f}%" if v < 0.1 else f"{100 * v:.0f}%"
    if metric in ("size", "min_size", "significant_features"):
        return f"{v:,.0f}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def _personas(personas: Sequence[Persona]) -> str:
    cards = []
    for i, p in enumerate(personas):
        meta = ("suppressed" if p.suppressed else f"segment {e(p.segment)} &middot; {p.customers:,.0f} customers "
                f"&middot; {p.share:.1%} of the base")
        actions = "".join(f"<li><b>{e(a.action)}</b>: {e(a.why)}</li>" for a in p.actions)
        traits = "".join(f"<li>{e(t)}</li>" for t in p.traits[:4])
        cards.append(
            f'<div class="card" style="--accent: {plots.color(i)}"><h3>{e(p.name)}</h3><div class="meta">{meta}</div>'
            f"<p>{e(p.who)}</p>" + (f"<p>{e(p.how)}</p>" if p.how else "") + (f"<p>{e(p.responds)}</p>" if p.responds else "")
            + (f"<b>What sets them apart</b><ul>{traits}</ul>" if traits else "")
            + (f"<b>Suggested actions</b><ul>{actions}</ul>" if actions else "") + "</div>")
    return ('<p class="lead">Written from the statistics by transparent rules; names and actions show which '
            'numbers triggered them.</p><div class="cards">' + "".join(cards) + "</div>")


def _notes(profile: Profile, notes: str | Sequence[str], card: Scorecard | None = None) -> str:
    notes = [notes] if isinstance(notes, str) else list(notes)
    small = profile.note or (f"No segment or cell counts fewer than {profile.min_segment_size} customers; "
                             "nothing was suppressed.")
    out = [f'<p class="note"><b>Small-cell protection.</b> {e(small)}</p>']
    if card is not None and card.sample_note:
        extra = (" The profile's sizes, means and mixes count every customer; its differentiators use the same "
                 "sample." if profile.sample else "")
        out.append(f'<p class="note"><b>Sampling.</b> {e(card.sample_note + extra)}</p>')
    out += [f"<p>{e(n)}</p>" for n in notes if n]
    out.append("<p>Effect sizes, each bounded and labelled with its measure: Cliff's delta for numbers, the "
               "difference in proportions for two-valued features (0/1 flags), Cramer's V for categories (the "
               "standardised mean difference, reported beside them, has a floor on its variance); p-values from Mann-Whitney U, Kruskal-Wallis and chi-square tests with "
               "Benjamini-Hochberg correction. Stability: decision-tree surrogates refitted on bootstrap resamples, "
               "scored on the customers each resample left out.</p>")
    return "\n".join(out)


# --- campaigns (issue 19) ---------------------------------------------------------------------------------
def _campaign_rows(r: dict, names: dict[str, str]) -> list[tuple[str, dict]]:
    return [("overall", r["overall"])] + [(names.get(b["segment"], b["segment"]), b) for b in r["segments"]]


def _campaign(r: dict, names: dict[str, str]) -> str:
    """A campaign read-out: what was compared, the table of lifts with intervals, the checks, in plain words."""
    def f(v, pct=False):
        if v is None:
            return ""
        return f"{100 * v:+.1f}%" if pct else (f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}")

    out = [f'<p class="lead">{e(r["outcome"])} per customer from {e(r["window"]["start"])} to '
           f'{e(r["window"]["end"])}; {100 * r["holdout_share"]:.0f}% of the members held out. An interval holds the '
           "true lift in 95 of 100 campaigns; one that includes zero cannot tell a gain from a loss.</p>"]
    head = "".join(f"<th>{h}</th>" for h in ("", "treatment", "holdout", "treatment mean", "holdout mean", "lift",
                                            "95% interval", "relative", "p (Holm)"))
    rows = []
    for label, b in _campaign_rows(r, names):
        p = "" if b["p_value"] is None else f"{b['p_value']:.3g}"
        if b.get("p_value_adjusted") is not None:
            p += f" ({b['p_value_adjusted']:.3g})"
        ci = b["lift_ci"]
        rows.append(f"<tr><td>{e(label)}</td><td class=\"num\">{b['treatment']['customers']:,}</td>"
                    f"<td class=\"num\">{b['holdout']['customers']:,}</td><td class=\"num\">{f(b['treatment']['outcome'])}</td>"
                    f"<td class=\"num\">{f(b['holdout']['outcome'])}</td><td class=\"num\">{f(b['lift'])}</td>"
                    f"<td class=\"num\">[{f(ci[0])}, {f(ci[1])}]</td><td class=\"num\">{f(b['relative_lift'], True)}</td>"
                    f"<td class=\"num\">{e(p)}</td></tr>")
    out.append(f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    o = r["overall"]
    if o.get("cuped"):
        c = o["cuped"]
        cov = ("the same outcome before the start" if r["covariate"] == "pre_period" else r["covariate"])
        out.append(f"<p>CUPED on {e(cov)} (the pre-period): overall interval [{f(c['lift_ci'][0])}, "
                   f"{f(c['lift_ci'][1])}], variance {100 * c['variance_reduction']:.0f}% lower.</p>")
    srm = o["sample_ratio"]
    if srm.get("mismatch"):
        out.append(f"<p><b>Sample-ratio mismatch</b>: {100 * srm['observed_holdout_share']:.1f}% held out where "
                   f"{100 * srm['expected_holdout_share']:.0f}% was planned; do not trust the lift until you know why.</p>")
    return "\n".join(out)


def _lift_plot(r: dict, names: dict[str, str]) -> dict:
    rows = _campaign_rows(r, names)
    lift = [b["lift"] for _, b in rows]
    return {"data": [{"type": "scatter", "mode": "markers", "name": "lift, 95% interval",
                      "y": [label for label, _ in rows], "x": lift, "marker": {"size": 9, "color": "#0f766e"},
                      "error_x": {"type": "data", "symmetric": False,
                                  "array": [(b["lift_ci"][1] - b["lift"]) if b["lift_ci"][1] is not None else 0
                                            for _, b in rows],
                                  "arrayminus": [(b["lift"] - b["lift_ci"][0]) if b["lift_ci"][0] is not None else 0
                                                 for _, b in rows]}}],
            "layout": {"height": 80 + 40 * len(rows), "margin": {"l": 160, "r": 20, "t": 10, "b": 40},
                       "yaxis": {"autorange": "reversed"}, "xaxis": {"title": {"text": "lift per customer"},
                                                                     "zeroline": True}}}


def _uplift(u: dict | None, names: dict[str, str], fig) -> str:
    """Who responds (a campaign's uplift model): in plain words, the Qini curve, uplift at k, where it pays most."""
    if not u:
        return ""
    if "error" in u:
        return f"<h3>Who responds</h3><p>No uplift model: {e(u['error'])}</p>"

    def f(v):
        return "" if v is None else (f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}")

    out = ["<h3>Who responds</h3>",
           f'<p class="lead">Two models (treated, held out) learnt the outcome from the features on '
           f"{u['customers_fit']:,} members; ranked by their difference, the predicted uplift, the other "
           f"{u['customers_evaluated']:,} members show how much more the best-ranked responded. Above the dashed "
           f"line (random targeting) the model finds responders: Qini coefficient {u['qini_coefficient']:.3f} "
           f"(a random ranking: {u['random_qini_coefficient']:.3f}).</p>"]
    rows = "".join(f'<tr><td>top {e(k)}</td><td class="num">{f(v)}</td></tr>' for k, v in u["uplift_at"].items())
    rows += f'<tr><td>everyone</td><td class="num">{f(u["overall_lift"])}</td></tr>'
    out.append(f"<table><tr><th>targeted by predicted uplift</th><th>lift per customer</th></tr>{rows}</table>")
    seg = "".join(f'<tr><td>{e(names.get(s["segment"], s["segment"]))}</td><td class="num">{f(s["predicted_uplift"])}'
                  f'</td><td class="num">{s["customers"]:,}</td></tr>' for s in u["segments"])
    out.append("<p>Where acting pays most (mean predicted uplift per customer, largest first):</p>"
               f"<table><tr><th>segment</th><th>predicted uplift</th><th>customers</th></tr>{seg}</table>")
    return "\n".join(out) + fig(_qini_plot(u))


def _qini_plot(u: dict) -> dict:
    share = [p["share"] for p in u["qini"]]
    q = [p["qini"] for p in u["qini"]]
    return {"data": [{"type": "scatter", "mode": "lines+markers", "name": "ranked by predicted uplift", "x": share,
                      "y": q, "line": {"color": "#0f766e"}},
                     {"type": "scatter", "mode": "lines", "name": "random targeting", "x": [0, 1], "y": [0, q[-1]],
                      "line": {"color": "#64748b", "dash": "dash"}}],
            "layout": {"height": 320, "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
                       "xaxis": {"title": {"text": "share of members targeted"}, "tickformat": ".0%"},
                       "yaxis": {"title": {"text": "extra outcome (Qini)"}}, "legend": {"orientation": "h"}}}
