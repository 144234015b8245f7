"""A real ``segmint`` server in a subprocess on 127.0.0.1, for the tests that need real sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

SERVE = ("import json, sys\n"
         "from segmint.server.runner import serve\n"
         "from segmint.server.settings import Settings\n"
         "serve(sys.argv[1], Settings(**json.loads(sys.argv[2])))\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send ``raw`` on a new connection and read the answer until the server closes or ``timeout``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, body = out.partition(b"\r\n\r\n")
                    length = [int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:])
                              if k.strip().lower() == b"content-length"]
                    if length and len(body) >= length[0]:
                        break
        except socket.timeout:
            pass
        return out


@contextmanager
def live_server(workspace: Path, log: Path, **settings):
    """Serve ``workspace`` until the block ends; yields the port. The server's log goes to ``log``."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2] / "src"),
                                                                   os.environ.get("PYTHONPATH", "")) if p)}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(workspace), json.dumps({"port": port, **settings})],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}: {log.read_text()[-2000:]}")
                try:
                    if request(port, b"GET /api/v1/me HTTP/1.1\r\nHost: t\r\n\r\n", 2).startswith(b"HTTP/1.1 401"):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start within 60 s")
                time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
