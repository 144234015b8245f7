"""``segmint destination``, ``segmint sync``, ``segmint deliveries`` and ``segmint suppress`` (docs/activation.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace
from segmint.errors import ConfigError

destination_app = typer.Typer(help="Destinations that receive segment changes: add, list, test, remove.",
                              no_args_is_help=True)
app.add_typer(destination_app, name="destination")


def _split(values: list[str] | None) -> list[str]:
    """``--segment A --segment B`` and ``--segment A,B`` alike."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@destination_app.command("add")
def destination_add(
    name: str = typer.Argument(..., help="The destination's name (letters, digits, _ - .)."),
    kind: str = typer.Option(..., "--kind", help="webhook, files or database."),
    segmentation: list[str] = typer.Option(..., "--segmentation", help="Segmentation(s) whose changes it receives."),
    segment: Optional[list[str]] = typer.Option(None, "--segment", help="Only these segments (default: all)."),
    url: Optional[str] = typer.Option(None, "--url", help="webhook: the receiver's https URL; database: an "
                                                          "SQLAlchemy URL (prefer --url-env for passwords)."),
    url_env: Optional[str] = typer.Option(None, "--url-env", help="database: environment variable with the URL."),
    path: Optional[str] = typer.Option(None, "--path", help="files: the folder (relative to the workspace)."),
    fmt: str = typer.Option("csv", "--format", help="files: csv, parquet or jsonl."),
    content: str = typer.Option("changes", "--content", help="files: changes, or the whole audience."),
    table: Optional[str] = typer.Option(None, "--table", help="database: the target table."),
    mode: str = typer.Option("mirror", "--mode", help="database: mirror (upsert/delete) or insert (append)."),
    field: Optional[list[str]] = typer.Option(None, "--field", help="Feature or customer columns to send."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, max=10_000,
                                             help="Changes per request or file (default activation.batch_size)."),
    no_consent: bool = typer.Option(False, "--no-consent",
                                    help="Also send customers without marketing_consent (audited)."),
    personal_data: bool = typer.Option(False, "--personal-data", help="Allow personal data fields (audited)."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add a destination. A webhook's signing secret (whsec_...) is printed once."""
    body = {"name": name, "kind": kind, "segmentations": _split(segmentation), "segments": _split(segment),
            "fields": _split(field), "url": url, "url_env": url_env, "path": path, "format": fmt, "content": content,
            "table": table, "mode": mode, "batch_size": batch_size, "consent": not no_consent,
            "personal_data": personal_data}
    body = {k: v for k, v in body.items() if v is not None}
    with open_workspace(workspace) as ws:
        d, secret = ws.activation.add(body)
        if no_consent or personal_data:
            ws.audit_log.record("cli", "admin", "destination-policy", d.name, None,
                                {"consent": d.consent, "personal_data": d.personal_data, "fields": d.fields})
    if as_json:
        console.print_json({**d.public(), **({"secret": secret} if secret else {})})
        return
    if secret:
        console.out.print(secret)
        console.info(f"Added webhook destination {d.name!r}. Copy its signing secret now: it cannot be shown "
                     "again (`segmint destination rotate` makes a new one). `segmint sync` sends the current "
                     "audience first, then every change.")
    else:
        console.out.print(f"Added {d.kind} destination {d.name!r}. `segmint sync` sends the current audience "
                          "first, then every change.")


@destination_app.command("list")
def destination_list(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Destinations with their state: backlog, pending and dead messages, last delivery (never secrets)."""
    with open_workspace(workspace) as ws:
        items = ws.destinations()
    if as_json:
        console.print_json({"destinations": items})
        return
    if not items:
        console.out.print("No destinations. Add one with `segmint destination add` or under destinations: in "
                          "segmint.yaml.")
        return
    f = console.fmt_int
    rows = [[d["name"], d["kind"], d.get("url") or d.get("path") or d.get("table") or "",
             ",".join(d["segmentations"]) + (f" ({','.join(d['segments'])})" if d.get("segments") else ""),
             f(d["backlog_changes"]), f(d["pending_messages"]), f(d["dead_messages"]),
             d["last_delivered_at"] or "", d["disabled"] or ("" if d["started"] else "not started"), d["source"]]
            for d in items]
    console.out.print(console.table("Destinations", ["name", "kind", "target", "segmentations", "backlog",
                                                     "pending", "dead", "last delivered", "state", "from"],
                                    rows, {"backlog": "right", "pending": "right", "dead": "right"}))


@destination_app.command("test")
def destination_test(name: str = typer.Argument(..., help="The destination."),
                     workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Reach a destination without sending customers: a signed test message, a probe file, a connection."""
    with open_workspace(workspace) as ws:
        result = ws.activation.test(name)
    if as_json:
        console.print_json(result)
    elif result["ok"]:
        code = f" ({result['status_code']})" if result.get("status_code") else ""
        console.out.print(f"{name}: reached{code} in {result['latency_ms']} ms")
    else:
        console.out.print(f"{name}: FAILED: {result.get('error') or result.get('status_code')}")
    if not result["ok"]:
        raise typer.Exit(1)


@destination_app.command("remove")
def destination_remove(name: str = typer.Argument(..., help="The destination (one added with the CLI)."),
                       workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Remove a destination added with the CLI, its state and its secret (its delivery history stays)."""
    with open_workspace(workspace) as ws:
        d = ws.activation.remove(name)
    if as_json:
        console.print_json({"removed": d.name})
    else:
        console.out.print(f"Removed destination {d.name!r}.")


@destination_app.command("rotate")
def destination_rotate(name: str = typer.Argument(..., help="The webhook destination."),
                       workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """A new signing secret, printed once; the old one keeps signing beside it for 24 hours."""
    with open_workspace(workspace) as ws:
        secret = ws.activation.rotate(name)
    if as_json:
        console.print_json({"destination": name, "secret": secret})
        return
    console.out.print(secret)
    console.info(f"New signing secret for {name!r}; copy it now. Messages carry both signatures for 24 hours.")


@destination_app.command("enable")
def destination_enable(name: str = typer.Argument(..., help="The destination."),
                       workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Enable a destination again after its receiver answered 410 Gone."""
    with open_workspace(workspace) as ws:
        info = ws.activation.enable(name)
    if as_json:
        console.print_json(info)
    else:
        console.out.print(f"Enabled destination {name!r}; `segmint sync` resumes sending.")


@app.command("sync")
def sync(destination: Optional[str] = typer.Argument(None, help="One destination (default: all)."),
         full: bool = typer.Option(False, "--full", help="Send the whole audience again (a database table is "
                                                          "rewritten)."),
         workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Deliver pending changes that are due, then exit (for cron); retries not yet due wait for a later sync."""
    with open_workspace(workspace) as ws:
        report = ws.sync(destination, full=full)
    if as_json:
        console.print_json({"destinations": report})
        return
    if not report:
        console.out.print("No destinations to sync.")
        return
    f = console.fmt_int
    rows = [[name, f(r.get("queued_changes", 0)), f(r.get("sent", 0)), f(r.get("delivered_changes", 0)),
             f(r.get("held_back", 0)), f(r.get("failed", 0)), f(r.get("pending_messages", 0)),
             str(r.get("next_attempt_at") or ""), r.get("disabled") or ""] for name, r in report.items()]
    console.out.print(console.table("Sync", ["destination", "queued", "messages sent", "changes sent",
                                             "held back", "failed", "pending", "next attempt", "disabled"], rows))


_ACTIONS = ("list", "retry", "replay")
_SUPPRESS_VERBS = ("add", "remove", "list")


@app.command("deliveries")
def deliveries(
    action: Optional[str] = typer.Argument(None, help="list (default), retry (dead letters again) or replay; "
                                                      "or a destination to list."),
    destination: Optional[str] = typer.Argument(None, help="One destination (default: all)."),
    since: Optional[str] = typer.Option(None, "--since", help="replay: resend changes recorded since this "
                                                              "time (ISO date or date-time, UTC)."),
    status: Optional[str] = typer.Option(None, "--status", help="list: pending, delivered or dead "
                                                                "(default: pending and dead)."),
    limit: int = typer.Option(100, "--limit", min=1, max=100_000, help="list: at most this many (the latest)."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Messages to destinations: the dead letters and what is pending; retry dead letters; replay changes."""
    if action is not None and action not in _ACTIONS:
        if destination is not None:
            raise ConfigError(f"unknown action {action!r}: use list, retry or replay")
        action, destination = "list", action
    action = action or "list"
    if since is not None and action != "replay":
        raise ConfigError(f"--since applies to `segmint deliveries replay`, not to {action}")
    if status is not None and status not in ("pending", "delivered", "dead"):
        raise ConfigError(f"--status {status!r}: use pending, delivered or dead")
    with open_workspace(workspace) as ws:
        if action == "retry":
            revived = ws.activation.retry(destination)
            if as_json:
                console.print_json({"retried": revived})
            else:
                console.out.print(f"{len(revived)} dead letter(s) queued again; `segmint sync` sends them.")
            return
        if action == "replay":
            if not since:
                raise ConfigError("replay needs --since, e.g. --since 2025-06-01")
            try:
                when = dt.datetime.fromisoformat(since)
            except ValueError:
                raise ConfigError(f"--since {since!r} is not a date or date-time (ISO, e.g. 2025-06-01)") from None
            queued = ws.activation.replay(when.replace(tzinfo=None), destination)
            if as_json:
                console.print_json({"replayed": queued})
            else:
                for name, n in queued.items():
                    console.out.print(f"{name}: {n} change(s) queued again as new messages")
            return
        found = ws.activation.deliveries(destination, status, limit)
    if status is None:
        found = [m for m in found if m["status"] != "delivered"]
    if as_json:
        console.print_json({"deliveries": found})
        return
    if not found:
        console.out.print("Nothing pending and no dead letters." if status is None else f"No {status} messages.")
        return
    rows = [[m["message_id"], m["destination"], m["kind"], console.fmt_int(m["changes"]), m["status"],
             str(m["attempts"]), str(m["last_code"] or ""), (m["last_error"] or "")[:60], m["next_attempt_at"] or ""]
            for m in found]
    console.out.print(console.table("Deliveries", ["message", "destination", "kind", "changes", "status",
                                                   "attempts", "code", "last error", "next attempt"], rows))


@app.command("suppress")
def suppress_cmd(
    ids: Optional[list[str]] = typer.Argument(None, help="Customer ids."),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="A file of customer ids, one per line."),
    reason: str = typer.Option("", "--reason", help="Why (kept with the entry)."),
    remove: bool = typer.Option(False, "--remove", help="Take the ids off the list instead."),
    list_: bool = typer.Option(False, "--list", help="Show the list."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The suppression list: customers no destination is ever sent (checked at send time).

    ``segmint suppress add|remove|list ...`` reads as ``--remove`` / ``--list``: users type the verbs, and an id
    list that silently took ``list`` for a customer would suppress nobody they meant (an id spelled like a verb
    goes in ``--from-file``).
    """
    wanted = list(ids or [])
    if wanted and wanted[0] in _SUPPRESS_VERBS:
        verb = wanted.pop(0)
        remove, list_ = remove or verb == "remove", list_ or verb == "list"
        if verb != "list" and not wanted and from_file is None:
            raise ConfigError(f"`segmint suppress {verb}` needs customer ids or --from-file FILE, e.g. "
                              f"segmint suppress {verb} C0000001")
    elif not wanted and from_file is None and not list_:
        list_ = True
    if remove and list_:
        raise ConfigError("--remove and --list do not go together: list first, then remove ids")
    if from_file is not None:
        try:
            wanted += [line.strip() for line in from_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise ConfigError(f"cannot read {from_file}: {exc.strerror}") from None
    with open_workspace(workspace) as ws:
        if list_:
            items = ws.activation.suppressed()
            if as_json:
                console.print_json({"suppressed": items})
            else:
                rows = [[r["customer_id"], r["reason"] or "", r["added_at"]] for r in items]
                console.out.print(console.table(f"Suppression list ({len(items)})", ["customer", "reason", "added"],
                                                rows))
            return
        n = ws.activation.unsuppress(wanted) if remove else ws.suppress(wanted, reason)
        ws.audit_log.record("cli", "admin", "unsuppress" if remove else "suppress", "suppressions", n,
                            {"reason": reason[:200]} if reason else {})
    if as_json:
        console.print_json({"removed" if remove else "added": n})
    else:
        console.out.print(f"{n} customer(s) {'taken off' if remove else 'added to'} the suppression list.")
