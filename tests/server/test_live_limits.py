"""Slow and hostile clients against a real server process on 127.0.0.1 (issue 15).

Bounded on purpose: at most 200 sockets, and every wait has a deadline of a few seconds.
"""

from __future__ import annotations

import socket
import time

import pytest

from .live import live_server, request

pytestmark = pytest.mark.slow
HEADER_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An empty workspace with an analyst token."""
    import os

    from segmint.server.tokens import TokenStore
    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    path = tmp_path_factory.mktemp("live") / "shop"
    ws = Workspace.init(path)
    _, token = TokenStore(ws.store).create("live", "analyst")
    ws.close()
    return path, token


def _me(port: int, token: str) -> tuple[float, bytes]:
    started = time.monotonic()
    answer = request(port, f"GET /api/v1/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    return time.monotonic() - started, answer


def _open_slow(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: t\r\n")  # a head that never ends
        socks.append(s)
    return socks


def _closed(s: socket.socket) -> bool:
    s.settimeout(0.5)
    try:
        data = s.recv(200)
    except socket.timeout:
        return False
    except OSError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 408")


def test_slowloris_connections_are_closed_and_others_still_served(served, tmp_path):
    path, token = served
    log = tmp_path / "server.log"
    with live_server(path, log, header_timeout_s=HEADER_TIMEOUT) as port:
        socks = _open_slow(port, 200)
        try:
            seconds, answer = _me(port, token)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            assert seconds < 2.0
            # A header line a second keeps none of them alive past the head timeout.
            deadline = time.monotonic() + HEADER_TIMEOUT + 1.5
            while time.monotonic() < deadline:
                for s in socks:
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
                time.sleep(0.5)
            assert sum(_closed(s) for s in socks) == len(socks)
        finally:
            for s in socks:
                s.close()
    assert log.stat().st_size < 20_000, log.read_text()[-2000:]


def test_past_the_connection_cap_the_slowest_clients_make_room(served, tmp_path):
    path, token = served
    log = tmp_path / "server.log"
    with live_server(path, log, header_timeout_s=30, max_connections=50) as port:
        socks = _open_slow(port, 120)
        try:
            seconds, answer = _me(port, token)
            assert answer.startswith(b"HTTP/1.1 200") and seconds < 2.0
            assert sum(_closed(s) for s in socks) >= 70  # the oldest slow heads were closed, not the server
        finally:
            for s in socks:
                s.close()
    text = log.read_text()
    assert text.count("connection limit reached") <= 6, text[-2000:]  # rate-limited, not one per connection


def test_bodies_are_refused_before_they_are_sent(served, tmp_path):
    path, token = served
    with live_server(path, tmp_path / "server.log") as port:
        started = time.monotonic()
        # The red-team case: 100 MB announced, no token. Nothing of the body is sent: the answer
        # must come anyway, at once.
        head = b"POST /api/v1/rules/preview HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        assert request(port, head + b"Content-Length: 1000\r\n\r\n").startswith(b"HTTP/1.1 401")
        assert request(port, head + b"Transfer-Encoding: chunked\r\n\r\n").startswith(b"HTTP/1.1 401")
        big = request(port, head + f"Authorization: Bearer {token}\r\nContent-Length: 100000000\r\n\r\n".encode())
        assert big.startswith(b"HTTP/1.1 413") and b"payload_too_large" in big
        assert time.monotonic() - started < 3


def test_heads_are_bounded_and_slow_bodies_time_out(served, tmp_path):
    path, token = served
    log = tmp_path / "server.log"
    with live_server(path, log, max_head_bytes=8192, body_timeout_s=1.5) as port:
        huge = b"GET /api/v1/me HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
        assert request(port, huge).startswith(b"HTTP/1.1 431")
        started = time.monotonic()
        slow = (f"POST /api/v1/rules/preview HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{").encode()
        request(port, slow, timeout=10)  # the body never comes: the server closes the connection
        assert time.monotonic() - started < 5
        # Malformed requests: one line each in the log at most a few times, never a traceback each.
        for _ in range(100):
            request(port, b"NOT HTTP AT ALL\r\n\r\n", timeout=2)
    text = log.read_text()
    assert text.count("Invalid HTTP request") <= 6 and "Traceback" not in text, text[-3000:]


def test_a_kept_alive_connection_cannot_trickle_its_next_head(served, tmp_path):
    """uvicorn's keep-alive timer stops at the first byte; the head timeout still holds."""
    path, token = served
    with live_server(path, tmp_path / "server.log", header_timeout_s=HEADER_TIMEOUT, keep_alive_s=30) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET /api/v1/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
            s.sendall(b"GET /api/v1/me HTTP/1.1\r\n")
            started = time.monotonic()
            closed = False
            while time.monotonic() - started < HEADER_TIMEOUT + 2 and not closed:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    closed = True
                    break
                closed = _closed(s)
            assert closed and time.monotonic() - started >= HEADER_TIMEOUT - 0.5
