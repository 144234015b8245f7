"""``segmint features``: compute and store a feature snapshot, or list the feature catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace



@app.command()
def features(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD); default: the day after the "
                                        "last order."),
    workspace: Optional[Path] = WorkspaceOpt,
    list_: bool = typer.Option(False, "--list", help="Print the feature catalog instead of computing."),
    full: bool = typer.Option(False, "--full", help="Recompute every feature from every stored row instead of the "
                              "running state (with --export: even when the snapshot is stored)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the snapshot to FILE, one row per "
                                          "customer: CSV or Parquet by the extension (.csv, .parquet)."),
    as_json: bool = JsonOpt,
) -> None:
    """Compute customer features as of a date and store them as a snapshot."""
    if list_:
        _print_catalog(workspace, as_json)
        return
    if export is not None:
        with open_workspace(workspace) as ws:
            with console.status(f"Writing {export}..."):
                done = ws.export_features(export, as_of, full=full)
        if as_json:
            console.print_json(done)
            return
        console.out.print(f"Wrote {done['path']} ({done['format']}): {console.fmt_int(done['customers'])} customers, "
                          f"{done['features']} features as of {done['as_of']}"
                          + (" (computed)." if done["computed"] else " (the stored snapshot)."))
        return
    with open_workspace(workspace) as ws:
        with console.status("Computing features..."):
            info = ws.snapshot_features(as_of, full=full)
            info["distributions"] = ws.feature_distributions(info["as_of"])
    if as_json:
        console.print_json(info)
        return
    _print_summary(info)


def _num(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _print_summary(info: dict[str, Any]) -> None:
    how = {"incremental": ", incremental", "rebuilt": ", running state rebuilt"}.get(info.get("mode"), "")
    console.out.print(f"Features as of {info['as_of']}: {console.fmt_int(info['customers'])} customers, "
                      f"{len(info['features'])} features ({info['seconds']:.1f} s{how}). Stored in the features table.")
    rows = [[name, console.fmt_int(d["n"]), _num(d["mean"]), _num(d["min"]), _num(d["p25"]), _num(d["p50"]),
             _num(d["p75"]), _num(d["max"])] for name, d in info["distributions"].items()]
    cols = ["feature", "values", "mean", "min", "25%", "median", "75%", "max"]
    console.out.print(console.table("Distributions", cols, rows, {c: "right" for c in cols[1:]}))
    for what, why in info["skipped"].items():
        console.out.print(f"Left out {what}: {why}")


def _print_catalog(workspace: Optional[Path], as_json: bool) -> None:
    """The catalog; inside a workspace, with its survey scales and their Cronbach's alpha (issue 23)."""
    import os

    where = Path(workspace or os.environ.get("SEGMINT_WORKSPACE") or ".")
    if workspace is not None or (where / "segmint.yaml").exists():
        with open_workspace(workspace) as ws:
            entries = ws.feature_docs()
    else:  # outside a workspace: the catalog alone
        from segmint.features.catalog import entries as catalog_entries

        entries = catalog_entries()
    if as_json:
        console.print_json({"features": entries})
        return
    rows = [[f["name"], f["family"], f["type"], f["kind"], f["unit"], f["description"]] for f in entries]
    console.out.print(console.table("Feature catalog (docs/features.md)",
                                    ["feature", "family", "type", "kind", "unit", "description"], rows))
    for f in entries:
        if f.get("alpha_warning"):
            console.info(f"warning: {f['name']}: {f['alpha_warning']}")
