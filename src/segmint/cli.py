"""The ``segmint`` command line: thin wrappers over :class:`segmint.Workspace`.

Exit codes: 0 success, 1 a user error (with a message saying what is wrong and the
fix), 2 bad usage. Tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from segmint import console
from segmint.errors import ConfigError, SegmintError, WorkspaceError

app = typer.Typer(
    name="segmint",
    help="segmint: customer segmentation from raw data to activated segments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state: dict = {"debug": False, "wait": None, "argv": None}

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", envvar="SEGMINT_WORKSPACE",
    help="Workspace folder (default: $SEGMINT_WORKSPACE or the current folder).",
)
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout instead of tables.")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
          wait: Optional[float] = typer.Option(
              None, "--wait", min=0, envvar="SEGMINT_WAIT", show_default=False,
              help="Seconds to wait for another segmint process that holds the workspace store "
                   "(default 600; 0: fail at once).")) -> None:
    _state["debug"] = debug
    _state["wait"] = wait


def open_workspace(workspace: Optional[Path], forward: bool = True):
    """Open the workspace a command works on, wherever its store is held (docs/architecture.md, "The CLI
    beside a running server").

    * Inside ``segmint serve`` running a forwarded command: the server's view of its store.
    * When a ``segmint serve`` holds the workspace: the whole command line is run by that server
      (same code, same answers), its output printed here, and the command ends with its exit code
      (``typer.Exit``). So a command must not print anything before it opens its workspace.
    * Otherwise the workspace, its store open; when another process holds the store, after waiting
      for it (``--wait``).

    ``forward=False`` (``segmint serve``) refuses to run beside a server instead of forwarding.
    """
    from segmint import remote

    view = remote.served_view(workspace)
    if view is not None:
        if not forward:
            raise WorkspaceError("this command cannot run inside segmint serve")
        return view
    path = Path(workspace or os.environ.get("SEGMINT_WORKSPACE") or ".")

    def through(info: remote.ServeInfo):
        if not forward:
            raise WorkspaceError(f"{info.where} already serves the workspace {info.workspace}; "
                                 f"open {info.url}, or stop it (Ctrl+C where it runs, or kill {info.pid}) first")
        argv = _state["argv"] if _state["argv"] is not None else sys.argv[1:]
        try:
            code = remote.forward(info, argv, path)
        except remote.ServerGone:
            return None
        raise typer.Exit(code)

    info = remote.find_server(path)
    if info is not None:
        through(info)  # ends the command, unless the server does not answer (then the store is opened here)
    return remote.open_local(path, remote.wait_seconds(_state["wait"]), on_server=through)


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise ConfigError(f"--map {pair!r}: write it as canonical=source, e.g. --map order_id=InvoiceNo")
        mapping[canonical.strip()] = source.strip()
    return mapping


@app.command()
def init(
    directory: Optional[Path] = typer.Argument(
        None, help="Folder to create the workspace in (default: -w, $SEGMINT_WORKSPACE or the current folder)."),
    name: Optional[str] = typer.Option(None, help="Workspace name (default: the folder name)."),
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", "-w",
        help="The folder to create, as every other command names its workspace (same as DIR)."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a workspace: a commented segmint.yaml, segments/, reports/ and an empty store."""
    from segmint.workspace import STATE_DIR, STORE_FILE, Workspace

    if directory is not None and workspace is not None and directory.resolve() != workspace.resolve():
        raise ConfigError(f"DIR {directory} and -w {workspace} name two folders; give one of them")
    # $SEGMINT_WORKSPACE comes last: `segmint init other` with the variable set creates `other`
    env = os.environ.get("SEGMINT_WORKSPACE")
    directory = directory or workspace or (Path(env) if env else Path("."))
    ws = Workspace.init(directory, name=name)
    summary = {"workspace": str(directory), "name": ws.config.name, "config": str(directory / "segmint.yaml"),
               "store": str(directory / STATE_DIR / STORE_FILE), "segments": str(directory / "segments")}
    ws.close()
    if as_json:
        console.print_json(summary)
        return
    console.out.print(f"Created workspace {directory} (edit {directory / 'segmint.yaml'} to configure it; "
                      f"segment definitions may also go in {directory / 'segments'}/).")


@app.command()
def generate(
    directory: Path = typer.Argument(..., help="Folder to write the shop's files to."),
    customers: int = typer.Option(10_000, "--customers", "-n", min=1, help="Number of customers."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same files."),
    dirty: bool = typer.Option(False, help="Add a fraction of bad rows (missing ids, bad dates, duplicates...)."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
    # --- monitoring (issue 17): a second period in which one persona stops buying ---
    shift: Optional[str] = typer.Option(None, "--shift", help="A persona that stops buying in a second period, "
                                        "written to DIR/period2/ (e.g. bargain_hunter)."),
    shift_from: str = typer.Option("2024-06-01", "--shift-from", help="Date the second period starts (with --shift)."),
    shift_days: int = typer.Option(90, "--shift-days", min=1, help="Days in the second period (with --shift); later "
                                   "rows are left out."),
    appear: Optional[str] = typer.Option(None, "--appear", help="A persona that appears in the second period "
                                         "instead (new customers, written to DIR/period2/ with their rows)."),
    as_json: bool = JsonOpt,
) -> None:
    """Generate a realistic synthetic shop with planted personas."""
    from segmint.datasets import write_shop

    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"--format {fmt!r}: use csv or parquet")
    if shift is not None and appear is not None:
        raise ConfigError("--shift and --appear each make the second period; give one of them")
    if shift is not None or appear is not None:
        from segmint.datasets.shift import check_persona

        check_persona(shift or appear, "--shift" if shift else "--appear")
    with console.status(f"Generating {customers:,} customers..."):
        result = write_shop(directory, n_customers=customers, seed=seed, dirty=dirty, format=fmt)
    summary = _generate_summary(directory, result)
    if shift is not None or appear is not None:
        from segmint.datasets.shift import write_shifted

        summary["shift"] = write_shifted(directory, shift or appear, shift_from, shift_days, fmt,
                                         change="stop" if shift else "appear")
    if as_json:
        console.print_json(summary)
        return
    rows = [[k, console.fmt_int(v)] for k, v in summary["rows"].items()]
    console.out.print(console.table(f"Shop written to {directory}", ["file", "rows"], rows, {"rows": "right"}))
    if "shift" in summary:
        sh = summary["shift"]
        what = "stops buying" if sh["change"] == "stop" else "appears"
        console.out.print(f"Second period {sh['split']} to {sh['until']} in {directory}/period2/ ({sh['persona']} "
                          f"{what}): " + ", ".join(f"{n} {console.fmt_int(v)}" for n, v in sh["rows"]["period2"].items()))


def _generate_summary(directory: Path, result: dict) -> dict:
    return {"directory": str(directory), "rows": dict(result.get("rows", {})),
            "dirty_counts": dict(result.get("dirty_counts") or {}),
            "paths": {k: str(v) for k, v in dict(result.get("paths", {})).items()}}


@app.command()
def ingest(
    table: str = typer.Argument(..., help="customers, orders, events or responses."),
    source: Optional[str] = typer.Argument(None, help="File: .csv, .csv.gz, .tsv, .parquet, .jsonl."),
    workspace: Optional[Path] = WorkspaceOpt,
    map_: list[str] = typer.Option([], "--map", "-m", help="canonical=source column (repeatable)."),
    preset: Optional[str] = typer.Option(None, help="Known source layout, e.g. online-retail."),
    line_items: Optional[bool] = typer.Option(None, "--line-items/--no-line-items",
                                              help="Rows are line items: sum quantity x unit_price per order."),
    date_format: Optional[str] = typer.Option(None, help="strptime format of dates, e.g. %d/%m/%Y."),
    timezone: Optional[str] = typer.Option(None, help="Zone of times written without one (IANA name)."),
    decimal: Optional[str] = typer.Option(None, help="Decimal mark of amounts: . or ,"),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv, parquet or jsonl (default: from the name)."),
    delimiter: Optional[str] = typer.Option(None, help="CSV delimiter (default: detected)."),
    encoding: str = typer.Option("utf-8", help="Text encoding of a CSV file (utf-8, latin-1, utf-16)."),
    sql: Optional[str] = typer.Option(None, help="A SQL query to read instead of a file."),
    url_env: Optional[str] = typer.Option(None, help="Environment variable holding the database URL."),
    mode: str = typer.Option("upsert", "--mode", help="upsert (default), append or replace."),
    since_column: Optional[str] = typer.Option(None, "--since-column",
                                               help="With --sql: read only rows at or after the last load's "
                                                    "high-water mark of this column."),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest a file or a SQL query into a canonical table; bad rows go to quarantine."""
    from segmint.cli_ingest import progress_bar
    if (source is None) == (sql is None):
        raise ConfigError("give either a SOURCE file or --sql QUERY (with --url-env VAR)")
    if since_column is not None and sql is None:
        raise ConfigError("--since-column applies to --sql sources (a file is compared whole; upsert adds nothing "
                          "twice)")
    if decimal is not None and decimal not in (".", ","):
        raise ConfigError(f"--decimal {decimal!r}: use . or ,")
    kwargs = dict(mapping=_parse_map(map_), preset=preset, line_items=line_items, date_format=date_format,
                  timezone=timezone, decimal=decimal, fmt=fmt, delimiter=delimiter, encoding=encoding, mode=mode)
    with open_workspace(workspace) as ws:
        with progress_bar(f"{source or 'query'} -> {table}", quiet=as_json) as kwargs["progress"]:
            if sql is not None:
                if not url_env:
                    raise ConfigError("--sql needs --url-env VAR: the name of an environment variable holding "
                                      "the database URL (so the password stays out of shell history)")
                kwargs.pop("fmt"), kwargs.pop("delimiter"), kwargs.pop("encoding")
                report = ws.ingest_sql(table, sql, url_env=url_env, since_column=since_column, **kwargs)
            else:
                report = ws.ingest(table, source, **kwargs)
    if as_json:
        console.print_json(report.to_dict())
        return
    _print_ingest(report)


def _print_ingest(report) -> None:
    from segmint.ingest.checks import describe_reason

    f = console.fmt_int
    rows = [["rows read", f(report.rows_read)], ["accepted", f(report.rows_accepted)],
            ["  new", f(report.rows_new)], ["  updated", f(report.rows_updated)],
            ["  unchanged (already stored)", f(report.rows_already_present)],
            ["quarantined", f(report.rows_quarantined)]]
    if report.rows_removed:
        rows.append(["removed (--mode replace)", f(report.rows_removed)])
    if report.orders_built is not None:
        rows.append(["orders built from lines", f(report.orders_built)])
    if report.customers_added is not None:
        rows.append(["customers added", f(report.customers_added)])
    console.out.print(console.table(f"{report.source} -> {report.table} ({report.seconds:.1f} s)",
                                    ["", "rows"], rows, {"rows": "right"}))
    if report.quarantine_reasons:
        qrows = [[code, f(n), describe_reason(code)] for code, n in report.quarantine_reasons.items()]
        console.out.print(console.table("Quarantined, by reason", ["reason", "rows", "meaning"], qrows,
                                        {"rows": "right"}))
    if report.pii:
        console.out.print("Personal data: " + ", ".join(f"{c} {a}" for c, a in report.pii.items()))
    if report.ignored_columns:
        console.out.print("Columns not in the orders contract, not stored: " + ", ".join(report.ignored_columns))


@app.command()
def status(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Tables, row counts, date ranges and quarantine by reason."""
    with open_workspace(workspace) as ws:
        info = ws.status()
    if as_json:
        console.print_json(info)
        return
    f = console.fmt_int
    rows = [[t["table"], f(t["rows"]), t["first"] or "", t["last"] or ""] for t in info["tables"]]
    console.out.print(console.table(f"Workspace {info['name']} ({info['workspace']})",
                                    ["table", "rows", "from", "to"], rows, {"rows": "right"}))
    if info["quarantine"]:
        qrows = [[q["table"], q["reason"], f(q["rows"]), q["description"]] for q in info["quarantine"]]
        console.out.print(console.table(f"Quarantine ({f(info['quarantine_rows'])} rows)",
                                        ["table", "reason", "rows", "meaning"], qrows, {"rows": "right"}))
    else:
        console.out.print("Quarantine: empty")
    # --- monitoring (issue 17): freshness per table, as dbt's source freshness ---
    ruled = [t for t in info.get("freshness", []) if t["status"] not in ("no rule", "empty")]
    if ruled:
        frows = [[t["table"], t["newest_row"] or "", t["last_load"] or "", t["warn_after"] or "",
                  t["error_after"] or "", t["status"]] for t in ruled]
        console.out.print(console.table("Freshness (monitoring.freshness)", ["table", "newest row", "last load",
                                                                             "warn after", "error after", "status"], frows))
    for warning in info.get("warnings", []):  # issue 20: personal data at rest
        console.err.print(f"warning: {warning}")


def _register_subcommands() -> None:
    """Commands of other areas live in their own modules (segmint/cli_*.py) and register on ``app``."""
    import importlib
    import pkgutil

    import segmint

    for mod in pkgutil.iter_modules(segmint.__path__):
        if mod.name.startswith("cli_"):
            importlib.import_module(f"segmint.{mod.name}")


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning errors into messages and exit codes."""
    import warnings

    # Warnings the code expects (a mean of an empty segment, an optimiser's overflow it recovers from) are
    # silenced where they arise; any other is news the user should see: one line through the console, not
    # Python's two-line form with a source line. (Ignoring every RuntimeWarning hid optimiser overflows.)
    warnings.showwarning = _show_warning
    sys.exit(run(sys.argv[1:] if argv is None else argv))


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 - warnings' API
    console.info(f"warning: {message} ({category.__name__}, {Path(filename).name}:{lineno})")


def run(argv: list[str]) -> int:
    """Run one command line and return its exit code, errors turned into messages on stderr.

    ``main`` and the server's control route (which runs commands forwarded by the CLI) share
    it, so a forwarded command ends as it would here. With ``--debug`` (or ``$SEGMINT_DEBUG``)
    errors propagate with their traceback.
    """
    _state["argv"] = list(argv)
    try:
        app(args=list(argv), standalone_mode=True)
    except SystemExit as exc:  # click ends every command so, with its exit code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SegmintError as exc:
        if _state["debug"] or os.environ.get("SEGMINT_DEBUG"):
            raise
        console.error(str(exc))
        return 1
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: no raw traceback for users
        if _state["debug"] or os.environ.get("SEGMINT_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        console.error(f"unexpected {type(exc).__name__}: {first}. Rerun with --debug for the details, "
                      "and please report it.")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    # `python -m segmint.cli`: this file runs as __main__, but the cli_* modules register their commands on
    # the imported segmint.cli, so run that one.
    from segmint.cli import main as _imported_main

    _imported_main()
