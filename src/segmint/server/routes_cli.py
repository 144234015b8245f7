"""The control route: run a command the CLI forwarded, in this process, against the store the server holds.

While ``segmint serve`` runs, it holds its workspace's store (DuckDB allows one writing
process), so the CLI sends its commands here instead of opening the store
(:mod:`segmint.remote`, docs/architecture.md, "The CLI beside a running server"). The
route runs the very same Typer command (:func:`segmint.cli.run`), so a command gives the
same answer with or without a server:

* **who may call**: a client on this machine (a loopback peer, or one that reached the
  server at its own address) holding the control secret that ``segmint serve`` wrote to
  ``.segmint/serve.json`` (mode 0600), compared in constant time. API tokens do not open
  it, it is not in the OpenAPI document, and each command is written to the audit log
  (action ``cli``; never the secret or the environment).
* **where it runs**: on the job manager's one worker thread, so forwarded commands take
  their turn with the API's segmentation jobs, and every write the server makes stays
  serialised; after each, the serving index refreshes (as after a job).
* **as the client would run it**: in the client's working folder (``os.chdir`` on the
  worker; the server's own paths are absolute, so nothing else it does depends on the
  folder), with the client's ``SEGMINT_*`` variables, and with consoles of the client's
  width and colours; ``open_workspace`` gives the command a view of the server's store
  (its own cursor) with ``segmint.yaml`` read afresh.
* **what comes back**: a stream of JSON lines, ``{"stream": "out"|"err", "text": ...}`` as
  the command writes, then ``{"exit": code}``. Errors come back as the CLI prints them
  (``error: ...``, exit 1), never as a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import ipaddress
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from segmint.remote import CONTROL_HEADER, CONTROL_PATH, PASSED_ENV, url_env_names
from segmint.server.errors import error_response

log = logging.getLogger("segmint.server")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class Terminal(BaseModel):
    """How the client's stdout or stderr shows text."""

    width: int = Field(80, ge=10, le=10_000)
    height: int = Field(25, ge=2, le=10_000)
    color_system: Literal["standard", "256", "truecolor", "windows"] | None = None
    terminal: bool = False
    encoding: str = Field("utf-8", max_length=32)


class CliRequest(BaseModel):
    """A forwarded command line (see :func:`segmint.remote.client_request`)."""

    argv: list[str] = Field(..., max_length=10_000)
    cwd: str
    workspace: str
    env: dict[str, str] = {}
    pid: int
    user: str = Field("", max_length=256)
    version: str = ""
    out: Terminal = Terminal()
    err: Terminal = Terminal()


def install(app, secret: str | None) -> None:
    """Add the control route to ``app``; without a secret (an app not made by ``segmint serve``): 404.

    A plain Starlette route, not an API route: it is not in the OpenAPI document, and the
    authorisation matrix of token roles does not apply to it (its caller holds the control secret).
    """
    app.state.control_secret = secret
    app.router.routes.append(Route(CONTROL_PATH, _control, methods=["POST"]))


def _is_local(scope: dict[str, Any]) -> bool:
    """A loopback peer, or one that connected to this server's own address of the connection (this machine).

    Examples
    --------
    >>> _is_local({"client": ("127.0.0.1", 5000), "server": ("0.0.0.0", 8000)})
    True
    >>> _is_local({"client": ("192.168.1.7", 5000), "server": ("192.168.1.5", 8000)})
    False
    >>> _is_local({"client": ("192.168.1.5", 5000), "server": ("192.168.1.5", 8000)})
    True
    >>> _is_local({"client": ("testclient", 50000), "server": ("testserver", 80)})
    False
    """
    client, server = scope.get("client"), scope.get("server")
    if not client:
        return False
    try:
        ip = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    # A TCP peer cannot claim one of this host's own addresses without receiving its replies.
    return ip.is_loopback or bool(mapped and mapped.is_loopback) or bool(server and server[0] == client[0])


async def _control(request: Request) -> Response:
    secret = request.app.state.control_secret
    if not secret:
        return error_response(404, "not found")
    if not _is_local(request.scope):
        return error_response(403, "the control route answers clients on this machine only")
    sent = request.headers.get(CONTROL_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8", "replace"), secret.encode("utf-8")):
        log.warning("control route: a request without the right control secret from %s", request.client[0])
        return error_response(403, "wrong or missing control secret (read from .segmint/serve.json)")
    try:
        req = CliRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        return error_response(400, f"not a forwarded command: {exc.errors()[0]['msg']}")
    from segmint import __version__

    ws = request.app.state.workspace
    where = f"segmint serve (pid {os.getpid()})"
    if req.version != __version__:
        return error_response(409, f"{where} runs segmint {__version__} and this command is segmint "
                                   f"{req.version}; restart the server with this version (or run the "
                                   "server's segmint)")
    if Path(req.workspace) != Path(ws.path).resolve():
        return error_response(409, f"{where} serves {Path(ws.path).resolve()}, not {req.workspace}")
    if not os.path.isabs(req.cwd) or not os.path.isdir(req.cwd):
        return error_response(400, f"the working folder {req.cwd!r} is not a folder on this machine")
    return StreamingResponse(_run(request.app.state, req), media_type="application/x-ndjson")


async def _run(state, req: CliRequest) -> AsyncIterator[bytes]:
    """Queue the command on the job worker and stream what it writes, then its exit code."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue = asyncio.Queue()
    started = threading.Event()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(chunks.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server stopped and nobody is listening
            pass

    def work() -> None:
        started.set()
        code = 1
        try:
            code = execute(state, req, put)
        finally:
            put(("exit", code))

    future = state.jobs.exclusive(work)
    waiting = loop.call_later(0.5, lambda: None if started.is_set() else put(
        ("err", f"(waiting for segmint serve's running job to end: pid {os.getpid()})\n")))
    try:
        while True:
            items = [await chunks.get()]
            while not chunks.empty():
                items.append(chunks.get_nowait())
            for stream, text in _merged(items):
                if stream == "exit":
                    yield (json.dumps({"exit": text}) + "\n").encode()
                    return
                yield (json.dumps({"stream": stream, "text": text}) + "\n").encode()
    finally:
        waiting.cancel()
        if not future.done():
            log.info("a forwarded command goes on after its client left (pid %s)", req.pid)


def _merged(items: list[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Consecutive pieces of one stream as one (fewer, larger lines on the wire)."""
    stream, parts = None, []
    for s, text in items:
        if s == stream and s != "exit":
            parts.append(text)
            continue
        if stream is not None:
            yield stream, "".join(parts) if stream != "exit" else parts[0]
        stream, parts = s, [text]
    if stream is not None:
        yield stream, "".join(parts) if stream != "exit" else parts[0]


class _Stream(io.TextIOBase):
    """A text stream that hands every write to the response (a forwarded command's stdout or stderr)."""

    def __init__(self, name: str, put, terminal: Terminal) -> None:
        self._name, self._put, self._terminal = name, put, terminal

    @property
    def encoding(self) -> str:  # Rich draws boxes with ASCII when the client's stream is not UTF-8
        return self._terminal.encoding

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._terminal.terminal

    def write(self, text: str) -> int:
        if text:
            self._put((self._name, text))
        return len(text)


def execute(state, req: CliRequest, put) -> int:
    """Run ``req`` as the CLI would, here (on the job worker); return its exit code."""
    from segmint import cli, console, remote

    out, err = _Stream("out", put, req.out), _Stream("err", put, req.err)
    views: list = []
    handle = state.handle
    code = 1
    with _as_client(req, out, err):
        console_out = console.make(file=out, **_rich(req.out))
        console_err = console.make(stderr=True, file=err, **_rich(req.err))
        with console.use(console_out, console_err), remote.serving(lambda w: _view(handle, w, views)):
            try:
                code = cli.run(req.argv)
            except BaseException:  # noqa: BLE001 - with --debug the CLI shows the traceback; so does this
                traceback.print_exc(file=err)
                code = 1
    for view in views:
        handle.release(view)
    _audit(handle, req, code)
    return code


def _rich(t: Terminal) -> dict[str, Any]:
    return {"width": t.width, "height": t.height, "color_system": t.color_system,
            "force_terminal": t.terminal, "force_interactive": t.terminal}


def _view(handle, workspace: Path | None, views: list):
    """A forwarded command's workspace: the server's store through a cursor of its own, config read now."""
    from segmint.config import Config
    from segmint.errors import WorkspaceError
    from segmint.workspace import CONFIG_FILE

    path = Path(workspace or os.environ.get("SEGMINT_WORKSPACE") or ".")
    served = Path(handle.workspace.path).resolve()
    if path.resolve() != served:
        raise WorkspaceError(f"segmint serve (pid {os.getpid()}) holds {served}, not {path.resolve()}; "
                             "run this command where that server does not run")
    config = Config.load(path / CONFIG_FILE)  # as the command would read it: an edit since the start counts
    view = handle.fresh()
    views.append(view)
    # As Workspace.open(path) gives it: the folder as the client wrote it (relative to its folder, where
    # this runs), so paths in answers read the same.
    view.path, view.config = path, config
    view.close = lambda: None  # the command's `with` must not close the cursor: execute() releases it
    return view


@contextmanager
def _as_client(req: CliRequest, out: _Stream, err: _Stream) -> Iterator[None]:
    """Within the block this process works in the client's folder, with its environment and streams."""
    allowed = set(url_env_names(req.argv))
    env = {k: v for k, v in req.env.items()
           if _ENV_NAME.fullmatch(k) and (k.startswith("SEGMINT_") or k in PASSED_ENV or k in allowed)}
    keys = {k for k in os.environ if k.startswith("SEGMINT_")} | set(env)
    saved_env = {k: os.environ.get(k) for k in keys}
    saved_cwd = os.getcwd()
    saved_streams = sys.stdout, sys.stderr
    from segmint import cli

    saved_state = dict(cli._state)
    try:
        for k in keys:
            if k in env:
                os.environ[k] = env[k]
            else:
                os.environ.pop(k, None)
        os.chdir(req.cwd)
        # click's own messages and print_json write to sys.stdout/sys.stderr
        sys.stdout, sys.stderr = out, err
        yield
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cli._state.clear()
        cli._state.update(saved_state)


def _audit(handle, req: CliRequest, code: int) -> None:
    from segmint.server.audit import AuditLog

    try:
        AuditLog(handle.store()).record(f"cli:{req.user or '?'}", "local", "cli", _audited_argv(req.argv)[:500],
                                      None, {"pid": req.pid, "cwd": req.cwd, "exit_code": code})
    except Exception as exc:  # noqa: BLE001 - the command has run: a failed audit line is logged
        log.error("could not audit a forwarded command: %s", type(exc).__name__, exc_info=exc)


def _audited_argv(argv: list[str]) -> str:
    """The command line as the audit log keeps it: never the ids a `segmint forget` erased.

    Examples
    --------
    >>> _audited_argv(["forget", "C1", "C2", "--json", "-w", "shop"])
    'forget [2 ids withheld] --json -w shop'
    >>> _audited_argv(["status"])
    'status'
    """
    if "forget" not in argv:
        return " ".join(argv)
    at = argv.index("forget")
    kept, withheld, rest = [], 0, argv[at + 1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("-w", "--workspace", "--from-file") and i + 1 < len(rest):  # a path, not a person
            kept += [a, rest[i + 1]]
            i += 2
            continue
        if a.startswith("-"):
            kept.append(a)
        else:
            withheld += 1
        i += 1
    return " ".join([*argv[:at + 1], f"[{withheld} ids withheld]", *kept])


__all__ = ["CliRequest", "execute", "install"]
