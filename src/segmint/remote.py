"""The command line beside a running ``segmint serve``: the serve file, forwarding, and waiting for the store.

DuckDB lets one process write a store file, and ``segmint serve`` holds its workspace's
store for as long as it runs. So that every command still works (and gives the same
answer) while a server runs, the CLI talks to that server the way ``docker`` talks to its
daemon:

* ``segmint serve`` writes ``.segmint/serve.json`` (mode 0600: pid, address, start time,
  segmint version and a random control secret) once it listens, and removes it when it
  stops (:class:`ServeFile`).
* :func:`segmint.cli.open_workspace` looks for that file (:func:`find_server`). When a live
  server holds the workspace, the whole command line (arguments, the working folder,
  the ``SEGMINT_*`` environment, the terminal's width and colours) goes to the server's
  control route (``segmint.server.routes_cli``), which runs the very same command in its
  process against the store it holds, and streams the output back (:func:`forward`);
  the CLI prints it as it comes and exits with the command's exit code.
* Without a server, a command that finds the store locked by another segmint process
  waits for it, saying so on stderr, up to ``--wait`` seconds (:func:`open_local`).

A serve file whose process is gone, whose server does not answer, or that names
another folder (a copied workspace) is stale: it is ignored and removed.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> (folder / ".segmint").mkdir()
>>> info = ServeInfo(pid=os.getpid(), host="127.0.0.1", port=8000, url="http://localhost:8000/",
...                  started_at="2026-01-01T00:00:00+00:00", workspace=str(folder), secret="s3cret")
>>> ServeFile(folder).write(info)
>>> oct(ServeFile(folder).path.stat().st_mode & 0o777)
'0o600'
>>> ServeFile(folder).read() == info, "s3cret" in repr(info)
(True, False)
>>> ServeFile(folder).remove(info)
>>> ServeFile(folder).read() is None
True
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from segmint.errors import WorkspaceError

SERVE_FILE = "serve.json"
#: The route of the server that runs forwarded commands (not part of the token API).
CONTROL_PATH = "/api/v1/cli"
#: The header that carries the control secret.
CONTROL_HEADER = "x-segmint-control"
#: How long a command waits for another process that holds the store, unless --wait / SEGMINT_WAIT say.
DEFAULT_WAIT_S = 600.0
#: Environment variables that travel with a forwarded command (besides the SEGMINT_* ones).
PASSED_ENV = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM")


@dataclass(frozen=True)
class ServeInfo:
    """What ``.segmint/serve.json`` says about a running server (``secret`` never shows in ``repr``)."""

    pid: int
    host: str  # the address a local client connects to
    port: int
    url: str  # the address people use (as serve printed it)
    started_at: str
    workspace: str  # the absolute folder the server holds
    secret: str = field(repr=False)
    version: str = ""

    @property
    def where(self) -> str:
        """How messages name the server: ``segmint serve (pid N, URL)``."""
        return f"segmint serve (pid {self.pid}, {self.url})"


class ServeFile:
    """``<workspace>/.segmint/serve.json``: written by ``segmint serve``, read by every other command."""

    def __init__(self, workspace: str | os.PathLike) -> None:
        self.path = Path(workspace) / ".segmint" / SERVE_FILE

    def write(self, info: ServeInfo) -> None:
        """Write ``info`` atomically, readable by its owner only (it holds the control secret)."""
        tmp = self.path.with_name(f".{SERVE_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; this is not
            os.write(fd, json.dumps(asdict(info), indent=2).encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def read(self) -> ServeInfo | None:
        """The file's content, or None when there is none (or it is not a serve file)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            return ServeInfo(**{k: doc[k] for k in ServeInfo.__dataclass_fields__ if k in doc})
        except (OSError, ValueError, TypeError):
            return None

    def remove(self, info: ServeInfo | None = None) -> None:
        """Remove the file (only if it still says ``info``, so a newer server's file stays)."""
        if info is not None and self.read() != info:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def connect_host(bind: str) -> str:
    """The address a client on this machine uses to reach a server bound to ``bind``.

    Examples
    --------
    >>> connect_host("0.0.0.0"), connect_host("::"), connect_host("localhost"), connect_host("10.0.0.5")
    ('127.0.0.1', '::1', '127.0.0.1', '10.0.0.5')
    """
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "localhost": "127.0.0.1", "::": "::1"}.get(bind, bind)


def new_serve_info(workspace: Path, host: str, port: int, url: str, secret: str) -> ServeInfo:
    """The serve file's content for this process."""
    from segmint import __version__

    return ServeInfo(pid=os.getpid(), host=connect_host(host), port=port, url=url,
                     started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     workspace=str(Path(workspace).resolve()), secret=secret, version=__version__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, but its file would not be readable by us
        return True
    return True


def find_server(workspace: str | os.PathLike) -> ServeInfo | None:
    """The live server holding ``workspace``, from its serve file; None when there is none.

    A file whose process is gone, or that names another folder (the workspace was copied
    with it), is stale: it is removed and None returned. Whether the server answers is
    found out by :func:`forward` (which removes the file when it does not).
    """
    serve_file = ServeFile(workspace)
    info = serve_file.read()
    if info is None:
        return None
    if info.pid == os.getpid():
        return None  # this process is the server (a command it runs opens its own store)
    if not _alive(info.pid) or Path(info.workspace) != Path(workspace).resolve():
        serve_file.remove(info)
        return None
    return info


class ServerGone(Exception):
    """The serve file names a server that does not answer (it stopped, or its pid was reused)."""


def terminal_of(console) -> dict[str, Any]:
    """How a Rich console writes (width, height, colours, terminal or not), for the server to do the same."""
    return {"width": console.width, "height": console.height, "color_system": console.color_system,
            "terminal": console.is_terminal, "encoding": console.encoding}


def client_request(argv: list[str], workspace: Path) -> dict[str, Any]:
    """The body of a forwarded command: what the server needs to run it as this process would."""
    import getpass

    from segmint import __version__, console

    env = {k: v for k, v in os.environ.items() if k.startswith("SEGMINT_") or k in PASSED_ENV}
    # `ingest --sql ... --url-env VAR` reads the database URL from VAR in the caller's environment.
    for name in url_env_names(argv):
        if name in os.environ:
            env[name] = os.environ[name]
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container without /etc/passwd entry)
        user = str(os.getuid())
    return {"argv": list(argv), "cwd": os.getcwd(), "workspace": str(workspace.resolve()), "env": env,
            "pid": os.getpid(), "user": user, "version": __version__,
            "out": terminal_of(console.out), "err": terminal_of(console.err)}


def url_env_names(argv: list[str]) -> list[str]:
    """The variables named by ``--url-env`` in ``argv``.

    Examples
    --------
    >>> url_env_names(["ingest", "orders", "--sql", "select 1", "--url-env", "PG_URL", "--url-env=X"])
    ['PG_URL', 'X']
    """
    names = []
    for i, arg in enumerate(argv):
        if arg == "--url-env" and i + 1 < len(argv):
            names.append(argv[i + 1])
        elif arg.startswith("--url-env="):
            names.append(arg.split("=", 1)[1])
    return names


def forward(info: ServeInfo, argv: list[str], workspace: Path) -> int:
    """Run ``argv`` in the server ``info`` names; print its output as it comes; return its exit code.

    Raises
    ------
    ServerGone
        Nothing answers at the file's address (the file is removed; the caller opens the store itself).
    """
    import http.client

    from segmint import console

    body = json.dumps(client_request(argv, workspace)).encode("utf-8")
    conn = http.client.HTTPConnection(info.host, info.port, timeout=10)
    try:
        try:
            conn.connect()
        except ConnectionRefusedError:  # nothing listens there: the server is gone (or the pid was reused)
            ServeFile(workspace).remove(info)
            raise ServerGone(f"{info.where} does not answer") from None
        except OSError as exc:  # a busy or stuck server: nothing was sent
            raise WorkspaceError(f"{info.where} holds the workspace but does not answer "
                                 f"({type(exc).__name__}); try again, or stop it") from None
        conn.sock.settimeout(None)  # a forwarded ingest or run may take as long as it takes
        try:
            conn.request("POST", CONTROL_PATH, body=body,
                         headers={"Content-Type": "application/json", CONTROL_HEADER: info.secret})
            response = conn.getresponse()
        except OSError as exc:  # sent, maybe run: do not run it again here
            raise WorkspaceError(f"lost the connection to {info.where} ({type(exc).__name__}); the command "
                                 "may or may not have run: check (e.g. `segmint status`) before running it "
                                 "again") from None
        console.info(f"(through {info.where})")
        if response.status != 200:
            raise WorkspaceError(f"{info.where} refused the command: {_error_message(response)}")
        return _relay(response, info)
    except KeyboardInterrupt:
        console.error(f"interrupted; the command goes on in {info.where} until it ends "
                      "(its writes are one transaction: all or nothing)")
        return 130
    finally:
        conn.close()


def _error_message(response) -> str:
    text = response.read().decode("utf-8", "replace")
    try:
        return json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status}"


def _relay(response, info: ServeInfo) -> int:
    """Copy the streamed output to this process's stdout and stderr; return the exit code."""
    streams = {"out": sys.stdout, "err": sys.stderr}
    while True:
        line = response.readline()
        if not line:
            break
        msg = json.loads(line)
        if "exit" in msg:
            return int(msg["exit"])
        stream = streams[msg["stream"]]
        stream.write(msg["text"])
        stream.flush()
    from segmint import console

    console.error(f"{info.where} stopped before the command ended; check the result (e.g. `segmint status`)")
    return 1


# -- without a server: wait for the process that holds the store ----------------------------------
_IN_USE = re.compile(r"is in use by another segmint process(?: \(process (\d+)\))?")


def lock_holder(exc: WorkspaceError) -> int | None:
    """The pid holding the store when ``exc`` says the store is in use (0 when unknown), else None.

    Examples
    --------
    >>> lock_holder(WorkspaceError("the store x is in use by another segmint process (process 42). Wait..."))
    42
    >>> lock_holder(WorkspaceError("x is not a segmint workspace")) is None
    True
    """
    match = _IN_USE.search(str(exc))
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 0


def wait_seconds(value: float | None) -> float:
    """``--wait`` (or ``$SEGMINT_WAIT``, which the option reads) when given, else :data:`DEFAULT_WAIT_S`."""
    return DEFAULT_WAIT_S if value is None else max(0.0, float(value))


def open_local(path: Path, wait_s: float, on_server: Callable[[ServeInfo], Any] | None = None,
               poll_s: float = 0.25):
    """Open the workspace at ``path`` and its store, waiting up to ``wait_s`` for another process.

    While it waits, a server that starts on the workspace (the lock holder may be a
    ``segmint serve`` still loading its serving index) is handed to ``on_server``, which
    forwards the command to it (and does not return) or returns None when it does not answer.
    """
    from segmint import console
    from segmint.workspace import Workspace

    ws = Workspace.open(path)
    started, announced = None, False
    while True:
        try:
            ws.store  # noqa: B018 - opening takes the store's write lock now, not mid-command
            if announced:
                console.info(f"got the workspace store after {time.monotonic() - started:.0f} s")
            return ws
        except WorkspaceError as exc:
            pid = lock_holder(exc)
            if pid is None:
                raise
            started = started or time.monotonic()  # from the first refusal: opening first imports the engine
            waited = time.monotonic() - started
            holder = f"process {pid}" if pid else "another process"
            if waited >= wait_s:
                store = ws.path / ".segmint" / "store.duckdb"
                raise WorkspaceError(
                    f"the workspace store {store} is still in use by {holder} after {waited:.0f} s of "
                    "waiting. Wait for it to finish and run the command again, or wait longer with "
                    "--wait SECONDS (or SEGMINT_WAIT)") from None
        if on_server is not None:
            info = find_server(path)
            if info is not None:
                on_server(info)
        if not announced:
            console.info(f"waiting for {holder} that holds the workspace store (up to {wait_s:.0f} s; "
                         "--wait SECONDS changes it)...")
            announced = True
        time.sleep(poll_s)


# -- inside the server: the workspace a forwarded command opens ----------------------------------
_serving = threading.local()


@contextmanager
def serving(open_view: Callable[[Path | None], Any]) -> Iterator[None]:
    """While a server runs a forwarded command on this thread, ``open_workspace`` calls ``open_view``."""
    _serving.open_view = open_view
    try:
        yield
    finally:
        _serving.open_view = None


def served_view(workspace: Path | None):
    """The server's view for a forwarded command's ``open_workspace``, or None outside one."""
    open_view = getattr(_serving, "open_view", None)
    return None if open_view is None else open_view(workspace)


__all__ = ["CONTROL_HEADER", "CONTROL_PATH", "DEFAULT_WAIT_S", "PASSED_ENV", "SERVE_FILE", "ServeFile",
           "ServeInfo", "ServerGone", "connect_host", "find_server", "forward", "lock_holder",
           "new_serve_info", "open_local", "served_view", "serving", "url_env_names", "wait_seconds"]
