"""`segmint validate`, `segmint profile`, `segmint report`, `segmint run`: thin wrappers over the Workspace."""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

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
    as_json: bool = JsonOpt,
) -> None:
    """Write a self-contained HTML report (works offline) for a segmentation."""
    with open_workspace(workspace) as ws:
        with console.status(f"Building the report of {name}..."):
            path = ws.report(name, output, as_of)
    if as_json:
        console.print_json({"segmentation": name, "as_of": as_of, "file": str(path),
                            "bytes": Path(path).stat().st_size})
        return
    console.out.print(f"Report written to {path}")


@app.command()
def run(
    workspace: Optional[Path] = WorkspaceOpt,
    as_of: Optional[str] = AsOfOpt,
    reports: bool = typer.Option(True, "--reports/--no-reports", help="Write an HTML report per segmentation."),
    as_json: bool = JsonOpt,
) -> None:
    """The whole configured pipeline: features, then segment, validate, profile and report each segmentation.

    Each stage is timed; a progress display shows where it is and a table (or --json) says how long each took.
    """
    stages: list[dict] = []
    summary: dict[str, dict] = {}
    with open_workspace(workspace) as ws, _StageProgress() as progress:
        names = [item.name for item in ws.segmentations()]
        progress.plan(1 + len(names) * (4 if reports else 3))
        with progress.stage("features", stages) as rec:
            info = ws.snapshot_features(as_of)
            rec["detail"] = f"{info['customers']:,} customers, {len(info['features'])} features"
        snapshot_as_of = info["as_of"]
        # validate, profile and report all read the stored run and share one features frame
        with ws.keep_features():
            for name in names:
                with progress.stage(f"segment {name}", stages) as rec:
                    result = ws.segment(name, snapshot_as_of)
                    rec["detail"] = f"{len(result.sizes)} segments" + (f", k={result.k}" if result.k else "")
                with progress.stage(f"validate {name}", stages) as rec:
                    card = ws.validate(name, snapshot_as_of)
                    rec["detail"] = _card_detail(card)
                with progress.stage(f"profile {name}", stages) as rec:
                    prof = ws.profile(name, snapshot_as_of)
                    rec["detail"] = f"{len(prof.sizes)} segment profiles"
                summary[name] = {"kind": result.kind, "version": result.version, "customers": len(result.labels),
                                 "sizes": result.sizes, "k": result.k}
                if reports:
                    with progress.stage(f"report {name}", stages) as rec:
                        path = ws.report(name, None, snapshot_as_of, card=card, prof=prof)
                        rec["detail"] = str(path)
                    summary[name]["report"] = str(path)
    total = round(sum(s["seconds"] for s in stages), 2)
    if as_json:
        console.print_json({"as_of": snapshot_as_of, "stages": stages, "total_seconds": total,
                            "segmentations": summary})
        return
    rows = [[s["stage"], f"{s['seconds']:.1f}", s["detail"]] for s in stages]
    rows.append(["total", f"{total:.1f}", ""])
    console.out.print(console.table(f"segmint run (as of {snapshot_as_of})", ["stage", "seconds", "result"], rows,
                                    {"seconds": "right"}))


def _card_detail(card) -> str:
    """One line from a scorecard: the overall verdict and each criterion's (and the sample, when one was used)."""
    line = f"{card.overall} ({', '.join(f'{c} {v}' for c, v in card.verdicts.items())})"
    if card.sample:
        line += f"; stratified sample of {card.sample['customers']:,} of {card.sample['of']:,}"
    return line


class _StageProgress:
    """Rich progress for `segmint run` on stderr: one bar over the stages, the current one named.

    On a terminal the bar redraws in place; otherwise (a log, CI) each finished stage prints one line,
    so a long run still shows where it is. Records each stage's seconds and detail in the list given.
    """

    def __init__(self) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)

        self.live = console.err.is_terminal
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console.err,
                                 disable=not self.live, transient=True)
        self.task = None

    def __enter__(self) -> "_StageProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def plan(self, total: int) -> None:
        self.task = self.progress.add_task("starting", total=total)

    @contextmanager
    def stage(self, name: str, stages: list[dict]):
        record = {"stage": name, "seconds": 0.0, "detail": ""}
        self.progress.update(self.task, description=name)
        t0 = time.perf_counter()
        yield record
        record["seconds"] = round(time.perf_counter() - t0, 2)
        # the process's peak memory so far: the first stage where it jumps is the one to look at
        record["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        stages.append(record)
        self.progress.advance(self.task)
        if self.live:
            self.progress.console.print(f"[green]done[/] {escape(name)} ({record['seconds']:.1f} s)")
        else:
            console.info(f"{name}: {record['seconds']:.1f} s")
