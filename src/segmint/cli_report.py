"""`segmint validate`, `segmint profile`, `segmint report`, `segmint run`: thin wrappers over the Workspace."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace

AsOfOpt = typer.Option(None, "--as-of", help="Date of the feature snapshot (default: the day after the last order).")


@app.command()
def validate(
    name: str = typer.Argument(..., help="Segmentation name."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_of: Optional[str] = AsOfOpt,
    compare_as_of: Optional[str] = typer.Option(None, "--compare-as-of", help="Second date for temporal stability."),
    as_json: bool = JsonOpt,
) -> None:
    """The scorecard: distinct, stable, substantial, reachable, explainable, profitable."""
    from segmint.report import print_scorecard

    with open_workspace(workspace) as ws:
        card = ws.validate(name, as_of, compare_as_of)
    if as_json:
        console.print_json(card.to_dict())
    else:
        print_scorecard(card, console=console.out)


@app.command()
def profile(
    name: str = typer.Argument(..., help="Segmentation name."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_of: Optional[str] = AsOfOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Per-segment profiles against the population, names and persona cards."""
    from segmint.profile import personas
    from segmint.report import print_personas, print_profile

    with open_workspace(workspace) as ws:
        prof = ws.profile(name, as_of)
    cards = personas(prof)
    if as_json:
        console.print_json({"profile": prof.to_dict(), "personas": [p.to_dict() for p in cards]})
        return
    print_profile(prof, console=console.out, names={p.segment: p.name for p in cards})
    print_personas(cards, console=console.out)


@app.command()
def report(
    name: str = typer.Argument(..., help="Segmentation name."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="HTML file (default: reports/NAME.html)."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_of: Optional[str] = AsOfOpt,
) -> None:
    """Write a self-contained HTML report (works offline) for a segmentation."""
    with open_workspace(workspace) as ws:
        with console.status(f"Building the report of {name}..."):
            path = ws.report(name, output, as_of)
    console.out.print(f"Report written to {path}")


@app.command()
def run(
    workspace: Optional[Path] = WorkspaceOpt,
    as_of: Optional[str] = AsOfOpt,
    reports: bool = typer.Option(True, "--reports/--no-reports", help="Write an HTML report per segmentation."),
    as_json: bool = JsonOpt,
) -> None:
    """The whole configured pipeline: features, every segmentation, validation, profiles, reports."""
    stages: list[dict] = []
    with open_workspace(workspace) as ws:
        t0 = time.perf_counter()
        info = ws.snapshot_features(as_of)
        stages.append({"stage": "features", "seconds": round(time.perf_counter() - t0, 2),
                       "detail": f"{info['customers']:,} customers, {len(info['features'])} features"})
        snapshot_as_of = info["as_of"]
        for item in ws.segmentations():
            name = item["name"]
            t0 = time.perf_counter()
            result = ws.segment(name, snapshot_as_of)
            stages.append({"stage": f"segment {name}", "seconds": round(time.perf_counter() - t0, 2),
                           "detail": f"{len(result.sizes)} segments"})
            if reports:
                t0 = time.perf_counter()
                path = ws.report(name, None, snapshot_as_of)
                stages.append({"stage": f"report {name}", "seconds": round(time.perf_counter() - t0, 2),
                               "detail": str(path)})
            console.info(f"{stages[-1]['stage']}: done")
    if as_json:
        console.print_json({"as_of": snapshot_as_of, "stages": stages})
        return
    rows = [[s["stage"], f"{s['seconds']:.1f}", s["detail"]] for s in stages]
    rows.append(["total", f"{sum(s['seconds'] for s in stages):.1f}", ""])
    console.out.print(console.table(f"segmint run (as of {snapshot_as_of})", ["stage", "seconds", "result"], rows,
                                    {"seconds": "right"}))
