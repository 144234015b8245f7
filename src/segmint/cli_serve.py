"""``segmint serve`` (the REST API and dashboard) and ``segmint token create|list|revoke``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace
from segmint.errors import ConfigError

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")

DEMO_TOKEN_NAME = "demo"


@app.command()
def serve(
    workspace: Optional[Path] = WorkspaceOpt,
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default; 0.0.0.0 exposes it)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    demo_token: bool = typer.Option(False, "--demo-token",
                                    help="Create a fresh admin token named 'demo' and print it with the URL."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Only print the URL (and demo token); do not serve."),
    secure_cookies: bool = typer.Option(False, help="Mark the session cookie Secure (behind HTTPS)."),
    serving_index_mb: float = typer.Option(
        512, min=0, help="Memory for the serving index (each segmentation's latest run, for the one-customer "
                         "look-up); segmentations that do not fit are read from the store. 0 turns it off."),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log",
                                    help="Log a line per request (off by default: it costs as much as a look-up)."),
    as_json: bool = typer.Option(False, "--json", help="Print the URLs (and demo token) as one JSON object on "
                                 "stdout before serving; messages go to stderr."),
    trusted_proxy: list[str] = typer.Option(
        [], "--trusted-proxy", help="Address of a reverse proxy whose X-Forwarded-For is believed (repeatable); "
                                    "none by default, so a client cannot pick the address the login backoff counts."),
    refresh_every: Optional[str] = typer.Option(
        None, "--refresh-every", help="Run `segmint refresh` in the server this often (a duration: 1d, 12h, 30m); "
        "each one is a background job."),
) -> None:
    """Serve the REST API (/api/v1) and the dashboard for a workspace."""
    import secrets

    from segmint import remote
    from segmint.server import Settings
    from segmint.server.tokens import TokenStore

    every = None
    if refresh_every is not None:  # monitoring (issue 17)
        from segmint.monitor.settings import parse_duration

        try:
            every = parse_duration(refresh_every)
        except ValueError as exc:
            raise ConfigError(f"--refresh-every: {exc}") from None
        if every < 60:
            raise ConfigError(f"--refresh-every {refresh_every}: at least a minute (60s)")
    settings = Settings(host=host, port=port, secure_cookies=secure_cookies, serving_index_mb=serving_index_mb,
                        trusted_proxies=trusted_proxy, refresh_every_s=every)
    # An absolute folder: commands the CLI forwards run in the client's folder (server/routes_cli.py).
    # forward=False: beside a running server this is an error naming it, not a forwarded command.
    ws = open_workspace((workspace or Path(os.environ.get("SEGMINT_WORKSPACE") or ".")).resolve(), forward=False)
    try:
        ws.check_servable()  # a Spark workspace is refused before the URL is printed (issue 22)
    except ConfigError:
        ws.close()
        raise
    settings.deliver_every_s = ws.config.activation.worker_every_s  # the delivery worker (docs/activation.md)
    serve_file, info = remote.ServeFile(ws.path), None
    try:
        if demo_token:
            tokens = TokenStore(ws.store)
            if any(t.name == DEMO_TOKEN_NAME and t.active for t in tokens.list()):
                tokens.revoke(DEMO_TOKEN_NAME)
            _, secret = tokens.create(DEMO_TOKEN_NAME, "admin")
        url = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
        if as_json:
            console.print_json({"dashboard": url, "api": f"{url}api/v1", "demo_token": secret if demo_token else None,
                                "serving": not no_serve})
        else:
            console.out.print(f"Dashboard: {url}  API: {url}api/v1  (docs/api.md)")
            if demo_token:
                console.out.print(f"Demo token (admin; shown once): {secret}")
        if no_serve:
            return
        from segmint.server.runner import serve as run_server

        if host not in ("127.0.0.1", "localhost", "::1"):
            console.info(f"warning: serving on {host}: anyone who can reach it can try tokens; use HTTPS in front")
        console.info("Press Ctrl+C to stop.")
        # The control secret lets the CLI run commands here while this server holds the store; it goes to
        # .segmint/serve.json (0600) once the server listens, and nowhere else (never printed or logged).
        control = secrets.token_urlsafe(32)
        info = remote.new_serve_info(ws.path, host, port, url, control)
        # Access logs (when on) show paths only; tokens travel in headers and form bodies, never in URLs.
        run_server(ws, settings, access_log=access_log, control_secret=control,
                   on_listening=lambda: serve_file.write(info), on_stopped=lambda: serve_file.remove(info))
    finally:
        if info is not None:
            serve_file.remove(info)
        ws.close()


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., "--role", help="viewer, analyst or admin."),
    name: str = typer.Option(..., "--name", help="Who or what uses it, e.g. crm-sync (recorded in the audit log)."),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a token. It is printed once; only its SHA-256 hash is stored."""
    from segmint.server.tokens import TokenStore

    with open_workspace(workspace) as ws:
        info, secret = TokenStore(ws.store).create(name, role)
    if as_json:
        console.print_json({**info.to_dict(), "token": secret})
        return
    console.out.print(secret)
    console.info(f"Created {info.role} token {info.name!r} (id {info.token_id}). Copy it now: it cannot be shown "
                 "again. Use it as 'Authorization: Bearer <token>' or paste it at /login.")


@token_app.command("list")
def token_list(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt,
               all_: bool = typer.Option(False, "--all", help="Include revoked tokens.")) -> None:
    """List tokens (names, roles, dates; never the secrets)."""
    from segmint.server.tokens import TokenStore

    with open_workspace(workspace) as ws:
        items = TokenStore(ws.store).list(include_revoked=all_)
    if as_json:
        console.print_json({"tokens": [t.to_dict() for t in items]})
        return
    rows = [[t.token_id, t.name, t.role, t.hint, t.created_at.isoformat(sep=" "),
             t.revoked_at.isoformat(sep=" ") if t.revoked_at else ""] for t in items]
    console.out.print(console.table("API tokens", ["id", "name", "role", "starts with", "created", "revoked"], rows))


@token_app.command("revoke")
def token_revoke(key: str = typer.Argument(..., help="The token's id or name."),
                 workspace: Optional[Path] = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Revoke a token: it stops working at once (a running server checks on every request)."""
    from segmint.server.tokens import TokenStore

    with open_workspace(workspace) as ws:
        info = TokenStore(ws.store).revoke(key)
    if as_json:
        console.print_json(info.to_dict())
        return
    console.out.print(f"Revoked {info.role} token {info.name!r} (id {info.token_id}).")
