"""``segmint segment``, ``why``, ``members``, ``diff`` and ``history``: thin wrappers over the Workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace
from segmint.errors import ConfigError

AsOfOpt = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD); default: the latest (or the day after the last "
                       "order when running).")


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v != v:  # NaN: no value (a k that failed the stability gate has no rank;
        return "-"                       # the line under the table names those k)
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


@app.command()
def segment(
    name: str | None = typer.Argument(None, help="Segmentation to run (defined in segmint.yaml or segments/)."),
    as_of: str | None = AsOfOpt,
    refit: bool = typer.Option(False, "--refit", help="Fit the model again instead of reusing the stored one."),
    list_: bool = typer.Option(False, "--list", help="List the defined segmentations and their runs."),
    template: str | None = typer.Option(None, "--template", help="Print a built-in template (rfm) as YAML, "
                                        "defining the segmentation NAME (default: the template's name)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run a segmentation and store its memberships; or --list, or [NAME] --template rfm."""
    if template is not None:
        from segmint.segment.rfm_template import template as get_template
        from segmint.segment.rfm_template import template_yaml

        # NAME names the new definition, so it can sit next to an existing `rfm` (the demo's kind: rfm)
        if as_json:
            console.print_json({name or template: get_template(template)})
        else:
            console.out.print(template_yaml(template, name or template), markup=False, end="")
        return
    with open_workspace(workspace) as ws:
        if list_:
            items = ws.segmentations()
            if as_json:
                console.print_json({"segmentations": [i.to_dict() for i in items]})
                return
            rows = [[i.name, i.kind, ", ".join(map(str, i.versions)), i.last_as_of or "never",
                     i.description or ""] for i in items]
            console.out.print(console.table("Segmentations", ["name", "kind", "versions", "last run", "description"],
                                            rows))
            return
        if name is None:
            raise ConfigError("give a segmentation NAME to run, or --list, or --template rfm")
        with console.status(f"Running segmentation {name}..."):
            result = ws.segment(name, as_of=as_of, refit=refit)
    if as_json:
        console.print_json(result.to_dict())
        return
    _print_result(result)


def _print_result(result) -> None:
    total = max(len(result.labels), 1)
    how = "new version" if result.new_version else ("refitted, same model" if result.fitted else "stored model")
    rows = [[seg, console.fmt_int(n), f"{n / total:.1%}"] for seg, n in result.sizes.items()]
    console.out.print(console.table(
        f"{result.name} ({result.kind}, version {result.version}, {how}) as of {result.as_of}: "
        f"{console.fmt_int(len(result.labels))} customers", ["segment", "customers", "share"], rows,
        {"customers": "right", "share": "right"}))
    for scope, sel in result.selection.items():
        table = sel["table"]
        cols = [c for c in ("k", "silhouette", "calinski_harabasz", "davies_bouldin", "bic", "icl", "stability",
                            "silhouette_gap", "noise_fraction") if c in table.columns]
        trows = [[_num(r[c]) if c != "k" else int(r[c]) for c in cols] for r in table.to_dict(orient="records")]
        where = "" if scope == "all" else f" inside {scope}"
        console.out.print(console.table(f"Choosing k{where}", cols, trows, {c: "right" for c in cols}))
        console.out.print(f"Chosen k={sel['k']}{where}: {sel['reason']}")


@app.command()
def why(
    name: str = typer.Argument(..., help="Segmentation."),
    customer_id: str = typer.Argument(..., help="Customer id."),
    as_of: str | None = AsOfOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Explain a customer's segment: rule conditions held or failed, or cluster distances."""
    with open_workspace(workspace) as ws:
        info = ws.why(name, customer_id, as_of=as_of).to_dict()
    if as_json:
        console.print_json(info)
        return
    segs = ", ".join(info["segments"]) or "no segment"
    console.out.print(f"{info['customer_id']} in {info['segmentation']} (version {info['version']}, as of "
                      f"{info['as_of']}): {segs}")
    for rule in info.get("rules", []):
        mark = "holds" if rule["held"] else "fails"
        console.out.print(f"\n{rule['segment']}: {rule['where']}  [{mark}]", markup=False)
        for c in rule["conditions"][1:] if len(rule["conditions"]) > 1 else rule["conditions"]:
            held = {True: "yes", False: "no", None: "unknown (null)"}[c["held"]]
            values = ", ".join(f"{k}={_num(v)}" for k, v in c["values"].items())
            console.out.print(f"  {'  ' * max(c['depth'] - 1, 0)}{c['condition']}: {held}  ({values})", markup=False)
    if "cluster" in info:
        cl = info["cluster"]
        rows = [[d["segment"], f"{d['distance']:.3f}"] for d in cl["distances"]]
        console.out.print(console.table("Distance to each segment centre", ["segment", "distance"], rows,
                                        {"distance": "right"}))
        prow = [[p["feature"], _num(p["value"]), f"{p['scaled']:.2f}", f"{p['segment_centre']:.2f}",
                 f"{p['runner_up_centre']:.2f}", f"{p['pull']:.2f}"] for p in cl["pulls"]]
        console.out.print(console.table(f"Features pulling towards {cl['segment']} rather than {cl['runner_up']}",
                                        ["feature", "value", "scaled", "centre", "runner-up", "pull"], prow))
    if "tier" in info:
        t = info["tier"]
        console.out.print(f"{t['feature']} = {_num(t['value'])}: {t['band']}")


@app.command()
def members(
    name: str = typer.Argument(..., help="Segmentation."),
    segment_name: str | None = typer.Argument(None, metavar="SEGMENT", help="One segment (default: all)."),
    as_of: str | None = AsOfOpt,
    version: int | None = typer.Option(None, "--version", help="Version (default: the latest run)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File: .csv, .parquet or .jsonl."),
    include_unconsented: bool = typer.Option(
        False, "--include-unconsented", help="Also export customers without marketing consent (recorded in the "
        "audit log with your login name)."),
    raw_csv: bool | None = typer.Option(
        None, "--raw-csv/--safe-csv", help="--raw-csv: write CSV cells exactly as stored, formulas not neutralised "
        "(for machine consumers); default: segmint.yaml's exports.neutralise_formulas (true: safe)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Export the members of a segmentation (or of one segment) to a file; customers with marketing consent only."""
    from segmint.activate.csvcells import neutralise
    from segmint.segment.export import format_of, write_members

    if output is not None:
        format_of(output)  # a bad extension fails before any work
    with open_workspace(workspace) as ws:
        if raw_csv is None:
            raw_csv = not ws.config.exports.neutralise_formulas
        table = ws.audience(name, segment_name, as_of=as_of, version=version,
                            include_unconsented=include_unconsented).order_by(["customer_id", "segment"])
        if output is None:
            rows = table.to_pyarrow().to_pylist()
            n = len(rows)
            if as_json:
                console.print_json({"segmentation": name, "segment": segment_name, "as_of": as_of,
                                    "version": version, "members": rows})
            else:
                cell = (lambda v: str(v)) if raw_csv else (lambda v: neutralise(str(v)))
                for r in rows:
                    console.out.print(f"{cell(r['customer_id'])},{cell(r['segment'])}", markup=False)
        else:
            n = write_members(table, output, raw_csv=raw_csv)
        left_out = 0 if include_unconsented else int(ws.members(name, segment_name, as_of, version).count()
                                                        .execute()) - n
        ws.audit_log.record(_cli_user(), "cli", "export", f"{name}/{segment_name or '*'}", n,
                            {"file": None if output is None else str(output), "as_of": as_of, "version": version,
                             "consented_only": not include_unconsented, "raw_csv": raw_csv})
    if left_out:
        # On stderr, so that the terminal listing stays a clean CSV.
        console.info(f"Left out {left_out:,} members without marketing consent (--include-unconsented to include "
                     "them; that is recorded in the audit log)")
    if output is None:
        return
    if as_json:
        console.print_json({"file": str(output), "rows": n, "left_out_without_consent": left_out})
    else:
        console.info(f"Wrote {n:,} members to {output}")


@app.command()
def diff(
    name: str = typer.Argument(..., help="Segmentation."),
    from_: str | None = typer.Option(None, "--from", help="Earlier as-of date."),
    to: str | None = typer.Option(None, "--to", help="Later as-of date."),
    from_version: int | None = typer.Option(None, "--from-version", help="Older definition version."),
    to_version: int | None = typer.Option(None, "--to-version", help="Newer definition version."),
    as_of: str | None = AsOfOpt,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the customers who moved to a file."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Who moved between two dates (--from/--to) or two definition versions (--from-version/--to-version)."""
    from segmint.segment.export import write_members

    dates, vers = (from_, to), (from_version, to_version)
    if all(v is None for v in vers) and None in dates:
        raise ConfigError("give --from DATE --to DATE, or --from-version N --to-version M")
    if any(v is not None for v in vers) and None in vers:
        raise ConfigError("give both --from-version and --to-version")
    with open_workspace(workspace) as ws:
        if from_version is not None:
            info = ws.diff_versions(name, from_version, to_version, as_of=as_of)
        else:
            info = ws.diff(name, from_, to)
        written = (write_members(info.moved, output, raw_csv=not ws.config.exports.neutralise_formulas)
                   if output is not None else None)
        out = info.to_dict() if as_json else None  # reads the first movers: while the workspace is open
    if out is not None:
        if written is not None:
            out["moved_file"] = {"file": str(output), "rows": written}
        console.print_json(out)
        return
    console.out.print(info.summary, markup=False)
    if info.matrix is not None:
        m = info.matrix
        rows = [[idx, *[console.fmt_int(int(v)) for v in r]] for idx, r in zip(m.index, m.to_numpy())]
        console.out.print(console.table("Migration (rows: from, columns: to)", ["from \\ to", *map(str, m.columns)],
                                        rows, {str(c): "right" for c in m.columns}))
    ch = info.changes
    rows = [[r.segment, *(console.fmt_int(int(getattr(r, c))) for c in ("before", "after", "stayed", "entered", "left"))]
            for r in ch.itertuples()]
    console.out.print(console.table("Per segment", ["segment", "before", "after", "stayed", "entered", "left"], rows))
    if written is not None:
        console.info(f"Wrote {written:,} customers who moved to {output}")


@app.command()
def history(
    name: str = typer.Argument(..., help="Segmentation."),
    version: int | None = typer.Option(None, "--version", help="Version (default: the latest run)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Segment sizes per run date, with how many customers entered and left each segment."""
    with open_workspace(workspace) as ws:
        records = ws.segment_history(name, version=version).to_records()
    if as_json:
        console.print_json({"segmentation": name, "version": version, "history": records})
        return
    rows = [[r["as_of"], r["segment"], console.fmt_int(r["size"]), console.fmt_int(r["entered"]),
             console.fmt_int(r["left"])] for r in records]
    console.out.print(console.table(f"History of {name}", ["as of", "segment", "size", "entered", "left"], rows,
                                    {c: "right" for c in ("size", "entered", "left")}))


def _cli_user() -> str:
    """Who runs the command, for the audit log: ``cli:<login name>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name in some containers; still audit the act
        return "cli:unknown"
