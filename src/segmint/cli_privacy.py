"""``segmint forget``, ``segmint retention apply`` and ``segmint fairness``: privacy and fairness (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace
from segmint.errors import ConfigError


def _read_ids(ids: list[str], from_file: Optional[Path]) -> list[str]:
    out = list(ids or [])
    if from_file is not None:
        try:
            text = Path(from_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the id file {from_file}: {exc.strerror}") from None
        out.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return out


@app.command()
def forget(
    ids: Optional[list[str]] = typer.Argument(None, metavar="ID...", help="Customer ids to erase.",
                                              show_default=False),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="A file of customer ids, one a line "
                                             "(blank lines and lines starting with # are skipped)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be erased; change nothing."),
    readmit: bool = typer.Option(False, "--readmit", help="Lift the suppression of these erased ids instead, so "
                                 "their rows are ingested again."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Erase customers from every table, the store's file and the reports; record it in the erasure ledger."""
    wanted = _read_ids(ids or [], from_file)
    with open_workspace(workspace) as ws:
        if readmit:
            info = ws.readmit(wanted)
        else:
            with console.status("Erasing..." if not dry_run else "Looking..."):
                info = ws.forget(wanted, dry_run=dry_run, request="cli").to_dict()
    if as_json:
        console.print_json(info)
        return
    if readmit:
        console.out.print(f"Re-admitted {info['readmitted']:,} of {info['requested']:,} id(s) "
                          f"({info['not_suppressed']:,} were not suppressed). Request {info['request_id']}.")
        return
    _print_receipt(info)


def _print_receipt(r: dict[str, Any]) -> None:
    f = console.fmt_int
    verb = "Would erase" if r["dry_run"] else "Erased"
    console.out.print(f"{verb} {f(r['found'])} of {f(r['requested'])} customer(s) ({f(r['not_found'])} not found): "
                      f"{f(r['rows'])} rows. Request {r['request_id']}.")
    rows = [[t, f(n)] for t, n in sorted(r["tables"].items())] + [[f"{t} (text)", f(n)]
                                                                   for t, n in sorted(r["mentions"].items())]
    if rows:
        console.out.print(console.table("Rows", ["table", "rows"], rows, {"rows": "right"}))
    for path, what in sorted(r["files"].items()):
        console.out.print(f"{path}: {what}")
    for path in r["still_named_in"]:
        console.out.print(f"warning: {path} names them and is not segmint's file; delete or edit it yourself")
    if r["rewritten"]:
        console.out.print(f"Store file rewritten ({r['rewritten']['bytes_before']:,} -> "
                          f"{r['rewritten']['bytes_after']:,} bytes); {f(r['suppressed'])} id(s) suppressed "
                          "in later ingests.")
    console.out.print(f"Destinations: {r['destinations_note']}")


@app.command()
def fairness(
    name: str = typer.Argument(..., help="The segmentation."),
    attribute: Optional[str] = typer.Option(None, "--attribute", help="Only this protected attribute (a feature "
                                            "of the snapshot, e.g. gender); default: privacy.fairness.attributes "
                                            "and their intersections."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="The stored run at this date; default: the latest."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Each protected group's share of each segment against the base: disparity, four-fifths rule, balance."""
    with open_workspace(workspace) as ws:
        with console.status("Auditing..."):
            info = ws.fairness(name, attribute=attribute, as_of=as_of)
    if as_json:
        console.print_json(info)
        return
    _print_fairness(info)


def _pct(x: Optional[float]) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _num2(x: Optional[float]) -> str:
    return "" if x is None else f"{x:.2f}"


def _ci(pair: Optional[list], fmt) -> str:
    return "" if not pair or pair[0] is None else f"{fmt(pair[0])}-{fmt(pair[1])}"


def _print_fairness(info: dict[str, Any]) -> None:
    console.out.print(f"Fairness of {info['segmentation']} v{info['version']} as of {info['as_of']}: "
                      f"{info['customers']:,} customers; four-fifths threshold {info['threshold']}, cells under "
                      f"{info['min_cell']} suppressed, {info['bootstrap']} bootstrap resamples.")
    for a in info["attributes"]:
        rows = []
        for s in a["segments"]:
            for c in s["cells"]:
                if c["suppressed"]:
                    rows.append([s["segment"], c["group"], "<" + str(info["min_cell"]), "", "", "", "", "suppressed"])
                    continue
                rows.append([s["segment"], c["group"], f"{c['members']:,}", _pct(c["share"]), _pct(c["base_share"]),
                             _ci(c.get("share_ci"), _pct), _num2(c["disparity_ratio"]), c["four_fifths"]])
        title = (f"{a['attribute']} (reference {a['reference']}; balance of the base "
                 f"{_num2(a['balance_base'])}; {a['flagged']} cell(s) outside the four-fifths rule)")
        cols = ["segment", "group", "members", "share", "base share", "share 95% CI", "disparity", "four-fifths"]
        console.out.print(console.table(title, cols, rows, {c: "right" for c in cols[2:7]}))
        console.out.print("Balance per segment: " + ", ".join(f"{s['segment']} {_num2(s['balance'])}"
                                                              for s in a["segments"]))
        if a["note"]:
            console.out.print(f"note: {a['note']}")
    if info["not_in_snapshot"]:
        console.out.print("Not in the feature snapshot (not audited): " + ", ".join(info["not_in_snapshot"]))


retention_app = typer.Typer(help="Keep rows only as long as `retention:` in segmint.yaml says.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("apply")
def retention_apply(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be purged; change nothing."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Purge the rows older than each table's retention period; record it in the erasure ledger."""
    with open_workspace(workspace) as ws:
        info = ws.apply_retention(dry_run=dry_run)
    if as_json:
        console.print_json(info)
        return
    if not info["tables"]:
        console.out.print("No retention periods are set (retention: in segmint.yaml); nothing to purge.")
        return
    rows = [[t, v["column"], str(v["months"]), v["before"], console.fmt_int(v["rows"])]
            for t, v in info["tables"].items()]
    verb = "would be purged" if dry_run else "purged"
    console.out.print(console.table(f"Retention ({console.fmt_int(info['rows'])} rows {verb})",
                                    ["table", "column", "months", "older than", "rows"], rows, {"rows": "right"}))
