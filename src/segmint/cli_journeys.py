"""``segmint funnel``, ``segmint journeys``, ``segmint topics``, ``segmint scales``: journeys and psychographics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None else f"{lo:.1%} to {hi:.1%}"


def _funnel_table(title: str, rows: list[dict[str, Any]]):
    cols = ["step", "customers", "of first", "95% CI", "of prev.", "drop-off", "median h"]
    body = [[r["step"], console.fmt_int(r["customers"]), _pct(r["conversion"]),
             _ci(r["conversion_low"], r["conversion_high"]), _pct(r["from_previous"]), console.fmt_int(r["drop_off"]),
             "" if r["median_hours_from_previous"] is None else f"{r['median_hours_from_previous']:,.1f}"]
            for r in rows]
    return console.table(title, cols, body, {c: "right" for c in cols[1:]})


@app.command()
def funnel(
    steps: str = typer.Option(..., "--steps", help="Comma-separated steps: event names, and `order` for a "
                              "purchase; e.g. web_visit,email_click,order."),
    within: str = typer.Option("30d", "--within", help="Window from the first step in which the others must "
                               "happen: 30min, 12h, 14d, 2w."),
    order: str = typer.Option("ordered", "--order", help="strict (each step the very next event), ordered "
                              "(in order, other events between) or any (any order)."),
    by: Optional[str] = typer.Option(None, "--by", help="A segmentation: drop-off per segment of its latest run."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Conversion through a sequence of steps, with 95% intervals, time between steps and drop-off."""
    with open_workspace(workspace) as ws:
        with console.status("Computing the funnel..."):
            result = ws.funnel([s.strip() for s in steps.split(",")], within=within, order=order, by=by)
    if as_json:
        console.print_json(result)
        return
    console.out.print(_funnel_table(f"Funnel ({result['order']}, within {result['within']})", result["overall"]))
    for segment, rows in result["segments"].items():
        console.out.print(_funnel_table(f"{result['by']} = {segment}", rows))


@app.command()
def journeys(
    name: str = typer.Argument(..., help="A segmentation: paths per segment of its latest run."),
    segment: Optional[str] = typer.Option(None, "--segment", help="Only this segment's members."),
    start: Optional[str] = typer.Option(None, "--from", help="Paths from the first occurrence of this step."),
    end: Optional[str] = typer.Option(None, "--to", help="Paths to the first occurrence of this step."),
    length: int = typer.Option(5, "--length", help="Steps per path, 2 to 5."),
    top: int = typer.Option(10, "--top", help="How many of the most common paths to show."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The most common paths through sessions per segment, and the journeys between segments over runs."""
    with open_workspace(workspace) as ws:
        with console.status("Computing journeys..."):
            result = ws.journeys(name, segment, start=start, end=end, length=length, top=top)
    if as_json:
        console.print_json(result)
        return
    for seg, p in result["paths"].items():
        rows = [[" > ".join(r["steps"]), console.fmt_int(r["sessions"]), _pct(r["share"]),
                 console.fmt_int(r["customers"])] for r in p["paths"]]
        console.out.print(console.table(
            f"{name} = {seg}: {console.fmt_int(p['sessions'])} sessions with a path "
            f"({result['session_gap_minutes']}-minute gap)", ["path", "sessions", "share", "customers"], rows,
            {"sessions": "right", "share": "right", "customers": "right"}))
    sj = result["segment_journeys"]
    rows = [[" > ".join(r["segments"]), console.fmt_int(r["customers"]), _pct(r["share"])] for r in sj["paths"]]
    console.out.print(console.table(f"Journeys between segments over {len(sj['runs'])} run(s)",
                                    ["segments", "customers", "share"], rows,
                                    {"customers": "right", "share": "right"}))
    rows = [[t["segment"], console.fmt_int(t["stints"]), console.fmt_int(t["ended"]),
             "" if t["median_days"] is None else f"{t['median_days']:,.1f}",
             "" if t["median_days_ongoing"] is None else f"{t['median_days_ongoing']:,.1f}"]
            for t in sj["time_in_segment"]]
    cols = ["segment", "stints", "left", "median (left)", "median (still in)"]
    console.out.print(console.table("Time in each segment (days)", cols, rows, {c: "right" for c in cols[1:]}))


@app.command()
def topics(
    question: str = typer.Argument(..., help="The survey question answered in free text."),
    n_topics: Optional[int] = typer.Option(None, "--topics", help="Fix the number of topics instead of choosing "
                                           "it by evidence (bootstrap stability, then silhouette)."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Cluster free-text answers into topics (offline embeddings), label them, and store the topic model."""
    with open_workspace(workspace) as ws:
        with console.status("Embedding and clustering answers..."):
            result = ws.topics(question, n_topics=n_topics)
    if as_json:
        console.print_json(result)
        return
    emb = result["embedder"]["kind"]
    console.out.print(f"{console.fmt_int(result['answers'])} answers to {question!r}: {result['k']} topics "
                      f"(embedder: {emb}). {result['k_reason']}.")
    if len(result["selection"]) > 1:
        rows = [[str(r["k"]), f"{r['silhouette']:.3f}", "" if r.get("stability") is None else f"{r['stability']:.2f}",
                 "chosen" if r["k"] == result["k"] else ""] for r in result["selection"]]
        console.out.print(console.table("Choosing k (stability gate 0.80, then the best silhouette)",
                                        ["k", "silhouette", "stability", ""], rows,
                                        {"silhouette": "right", "stability": "right"}))
    rows = [[f"t{t['topic']}", t["label"], console.fmt_int(t["size"]), _pct(t["share"]),
             " | ".join(e[:60] for e in t["examples"][:2])] for t in result["topics"]]
    console.out.print(console.table("Topics", ["topic", "label", "answers", "share", "examples"], rows,
                                    {"answers": "right", "share": "right"}))
    if not result["text_question"]:
        console.info(f"note: add {question!r} to psychographics.text_questions in segmint.yaml to make "
                     "topic_* features of it")


@app.command()
def scales(
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Cronbach's alpha of each survey scale in segmint.yaml, and the scales a factor analysis suggests."""
    with open_workspace(workspace) as ws:
        result = ws.scales()
    if as_json:
        console.print_json(result)
        return
    rows = [[s["feature"], ", ".join(s["items"]), "" if s["alpha"] is None else f"{s['alpha']:.3f}",
             console.fmt_int(s["respondents"]), s["warning"] or "ok"] for s in result["scales"]]
    console.out.print(console.table("Survey scales (psychographics.scales)",
                                    ["feature", "items", "alpha", "respondents", "check"], rows))
    for s in result["scales"]:
        if s["warning"]:
            console.info(f"warning: {s['scale']}: {s['warning']}")
    sug = result["suggested"]
    if sug and "error" not in sug:
        rows = [[str(f["factor"]), ", ".join(f["items"]), "" if f["alpha"] is None else f"{f['alpha']:.3f}"]
                for f in sug["scales"]]
        console.out.print(console.table(f"Suggested scales (factor analysis, {sug['n_factors']} factors, "
                                        f"{console.fmt_int(sug['respondents'])} respondents)",
                                        ["factor", "items (r: reverse-coded)", "alpha"], rows))
    elif sug:
        console.info(f"no suggestion: {sug['error']}")
