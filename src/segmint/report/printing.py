"""Terminal output of scorecards, profiles and personas, through segmint's one console.

The CLI commands (``segmint validate``, ``segmint profile``) call these; ``--json``
output uses the objects' ``to_dict()`` instead.

Examples
--------
>>> import io
>>> from rich.console import Console
>>> from segmint.evaluate import planted_features, scorecard
>>> f, labels = planted_features(400, seed=2)
>>> card = scorecard(f, labels, n_bootstrap=3, sample_size=400)
>>> c = Console(width=120, record=True, file=io.StringIO())
>>> print_scorecard(card, console=c)
>>> text = c.export_text()
>>> "Scorecard" in text and "distinct" in text
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from segmint import console as _console
from segmint.evaluate.scorecard import CRITERIA, Scorecard
from segmint.evaluate.thresholds import METRICS
from segmint.profile.personas import Persona
from segmint.profile.profiles import Profile

STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red", "info": "dim", "n/a": "dim"}


def _v(verdict: str) -> str:
    return f"[{STYLE.get(verdict, '')}]{escape(verdict)}[/]"


def _c(value, verdict: str) -> str:
    text = _n(value) if np.isfinite(_float(value)) else "suppressed" if verdict == "n/a" else "-"
    return f"[{STYLE.get(verdict, '')}]{text}[/]"


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _n(v, digits: int = 2) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(v):
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.{digits}f}"


def print_scorecard(card: Scorecard, console: Console | None = None, segments: bool = True) -> None:
    """The verdict per criterion, every measure with its sentence, and the per-segment verdicts."""
    out = console or _console.out
    verdicts = card.verdicts
    out.print(f"Scorecard: {card.n_customers:,} customers, overall {_v(card.overall)}  ("
              + ", ".join(f"{c} {_v(verdicts[c])}" for c in CRITERIA) + ")", markup=True)
    if card.sample_note:
        out.print(f"[dim]{escape(card.sample_note)}[/]", markup=True)
    t = Table(title="Scorecard", title_justify="left", header_style="bold", show_lines=False)
    t.add_column("measure", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("limit", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("what it means", ratio=1)
    frame = card.segmentation
    for i, c in enumerate(dict.fromkeys(frame.criterion)):
        t.add_row(f"[bold]{c}[/]", "", "", _v(verdicts.get(c, "n/a")), "", end_section=False)
        for r in frame[frame.criterion == c].to_dict("records"):
            lim = card.thresholds.limits(r["metric"])
            limit = "" if lim is None else f"{'>=' if lim[2] else '<='} {lim[0]:g}"
            t.add_row(f"  {r['metric']}", _n(r["value"]), limit, _v(r["verdict"]), escape(r["sentence"]))
        if i < len(set(frame.criterion)) - 1:
            t.add_section()
    out.print(t)
    if segments and len(card.segments):
        # Only judged measures, each value coloured by its verdict, so the table fits a terminal.
        seg = card.segments[card.segments.metric.isin(list(METRICS))]
        metrics = list(dict.fromkeys(seg.metric))
        t = _console.table("By segment (green pass, yellow warn, red fail)", ["segment", *metrics], [],
                           {m: "right" for m in metrics})
        for s, g in seg.groupby("segment", sort=False):
            cells = dict(zip(g.metric, zip(g.value, g.verdict)))
            t.add_row(escape(str(s)), *[_c(*cells[m]) if m in cells else "" for m in metrics])
        out.print(t)
    if len(card.rules):
        out.print("[bold]Rules of a shallow tree that reproduces the segments[/]", markup=True)
        for r in card.rules.groupby("segment", sort=False).head(2).itertuples():
            out.print(f"  {escape(r.text)}  [dim]({r.support:,} customers, {r.precision:.0%} pure)[/]", markup=True)
    if card.fairness is not None:
        out.print(fairness_summary(card.fairness), markup=True)


def fairness_summary(table: dict) -> str:
    """One line per protected attribute of a scorecard's fairness table (``segmint fairness`` has the cells).

    Examples
    --------
    >>> import pandas as pd
    >>> from segmint.privacy.fairness import fairness_table
    >>> labels = pd.Series(["A"] * 60 + ["B"] * 40, index=[f"C{i}" for i in range(100)])
    >>> gender = pd.Series(["F"] * 50 + ["M"] * 10 + ["M"] * 40, index=labels.index)
    >>> t = fairness_table(labels, {"gender": gender}, min_cell=5, bootstrap=0)
    >>> print(fairness_summary(t))
    [bold]Fairness[/] (four-fifths rule at 0.8; cells under 5 suppressed; the table: `segmint fairness NAME`)
      gender: 1 of 3 cells outside 0.8-1.25, lowest disparity ratio 0.2 (M in A), balance 0-0.2 (base 1.0)
    """
    lines = [f"[bold]Fairness[/] (four-fifths rule at {table['threshold']:g}; cells under {table['min_cell']} "
             "suppressed; the table: `segmint fairness NAME`)"]
    if not table.get("attributes"):
        missing = ", ".join(table.get("not_in_snapshot") or []) or "none configured"
        lines.append(f"  no protected attribute among the features (privacy.fairness.attributes: {escape(missing)})")
    for a in table.get("attributes", []):
        cells = [(c, s["segment"]) for s in a["segments"] for c in s["cells"] if not c["suppressed"]]
        ratios = [(c["disparity_ratio"], c["group"], seg) for c, seg in cells if c.get("disparity_ratio") is not None]
        low = min(ratios, default=None)
        balances = [s["balance"] for s in a["segments"] if s["balance"] is not None]
        text = (f"  {escape(a['attribute'])}: {a['flagged']} of {len(cells)} cells outside "
                f"{table['threshold']:g}-{1 / table['threshold']:.3g}")
        if low is not None:
            text += f", lowest disparity ratio {low[0]:.3g} ({escape(str(low[1]))} in {escape(str(low[2]))})"
        if balances:
            text += f", balance {min(balances):.3g}-{max(balances):.3g} (base {a['balance_base']})"
        lines.append(text)
    return "\n".join(lines)


def print_profile(profile: Profile, console: Console | None = None, top: int = 3,
                  names: dict[str, str] | None = None) -> None:
    """Sizes and KPIs per segment, then each segment's top differentiators; the small-cell note."""
    out = console or _console.out
    names = names or {}
    kpis = [c for c in ("revenue_share", "mean_spend", "mean_frequency", "mean_recency_days", "mean_clv")
            if c in profile.sizes]
    rows = []
    for r in profile.sizes.to_dict("records"):
        seg = r["segment"]
        label = f"{names[seg]} ({seg})" if names.get(seg, seg) != seg else str(seg)
        if r["suppressed"]:
            rows.append([label, f"<{profile.min_segment_size}", "", *[""] * len(kpis)])
            continue
        rows.append([label, f"{r['customers']:,.0f}", f"{r['share']:.1%}",
                     *[f"{100 * r[c]:.1f}%" if c.endswith("share") else _n(r[c], 1) for c in kpis]])
    short = {"revenue_share": "revenue", "mean_spend": "spend", "mean_frequency": "orders",
             "mean_recency_days": "recency", "mean_clv": "CLV"}
    cols = ["segment", "customers", "share", *[short[c] for c in kpis]]
    t = _console.table(f"Profile of {profile.n_customers:,} customers (means per customer)", cols, rows,
                       {c: "right" for c in cols[1:]})
    for col in t.columns[1:]:  # numbers never wrap; long names do
        col.no_wrap = True
    t.columns[0].min_width = 14
    out.print(t)
    d = profile.differentiators
    if len(d):
        t = _console.table("What sets each segment apart (vs the whole base)",
                           ["segment", "feature", "direction", "value", "base", "index", "effect"], [],
                           {"value": "right", "base": "right", "index": "right", "effect": "right"})
        for r in d[d["rank"] <= top].itertuples():
            value = r.top_value if r.kind == "categorical" else _n(r.segment_mean)
            t.add_row(escape(str(r.segment)), r.feature, r.direction, escape(str(value)),
                      "" if r.kind == "categorical" else _n(r.population_mean), _n(r.index, 0),
                      f"{r.effect:+.2f} {_MEASURE_SHORT.get(r.measure, r.measure)} {r.magnitude}")
        out.print(t)
    if profile.note:
        out.print(f"[yellow]Small-cell protection:[/] {escape(profile.note)}", markup=True)


#: Short labels of the effect measures (segmint.evaluate.distinct.MEASURES) for narrow tables.
_MEASURE_SHORT = {"Cliff's delta": "Cliff's d.", "difference in proportions": "diff. prop.", "Cramer's V": "V"}


def print_personas(personas: Sequence[Persona], console: Console | None = None) -> None:
    """One panel per persona: the three paragraphs and the suggested actions."""
    out = console or _console.out
    for p in personas:
        body = "\n\n".join(escape(x) for x in (p.who, p.how, p.responds) if x)
        if p.actions:
            body += "\n\n[bold]Suggested actions[/]\n" + "\n".join(
                f"- [bold]{escape(a.action)}[/]: {escape(a.why)}" for a in p.actions)
        # soft_wrap off: the shared console soft-wraps (for pipes), which would cut panel lines.
        out.print(Panel(body, title=f"[bold]{escape(p.name)}[/] ({escape(p.segment)})", title_align="left"),
                  soft_wrap=False)
