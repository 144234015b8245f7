"""Connection limits uvicorn does not have: a request-head timeout, a body timeout, a head size
limit and a connection cap that sheds slow clients first.

uvicorn closes an idle kept-alive connection after ``timeout_keep_alive``, but any byte received
cancels that timer, and nothing limits how long a request head may take: thousands of
connections sending one header line every 5 s were never closed, until the server ran out
of file descriptors and legitimate requests timed out. :class:`GuardedHttpTools` is uvicorn's
httptools protocol with:

* **a head timeout**: a request's head (request line and headers) must be complete within
  :attr:`Settings.header_timeout_s` of the connection opening or of the previous response
  ending (however slowly its bytes trickle in); then ``408`` and the connection is closed;
* **a body timeout**: once the head is in, the body must be complete within
  :attr:`Settings.body_timeout_s`; then the connection is closed;
* **a head size limit**: more than :attr:`Settings.max_head_bytes` before the head is
  complete is answered ``431`` and closed (httptools itself has no limit);
* **a connection cap**: past :attr:`Settings.max_connections` open connections, the one that
  has waited longest for a request head (a slow or idle client) is closed to make room; when
  every connection is busy with a request, the new one gets ``503`` and is closed.

The deadlines are checked by one watchdog per server every half second (no timer per request,
so the hot look-up route pays two attribute writes). Its log lines go through
:mod:`segmint.server.logs` (rate-limited), never one per connection.

Examples
--------
>>> from segmint.server.settings import Settings
>>> cls = guarded_protocol(Settings(header_timeout_s=2, max_connections=50))
>>> cls.header_timeout_s, cls.max_connections, issubclass(cls, GuardedHttpTools)
(2.0, 50, True)
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GuardedHttpTools", "guarded_protocol"]

log = logging.getLogger("segmint.server")


def _response(status: str) -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").encode("ascii")


REQUEST_TIMEOUT = _response("408 Request Timeout")
HEAD_TOO_LARGE = _response("431 Request Header Fields Too Large")
UNAVAILABLE = _response("503 Service Unavailable")


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with head and body timeouts, a head size limit and a connection cap.

    The timeouts cost a request two attribute writes: a connection records when it started
    waiting (for a head, or for a body), and one watchdog per server, every
    :attr:`tick_s`, closes the connections whose deadline has passed (no timer per request).
    """

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_head_bytes: int = 64 * 1024
    max_connections: int = 1000
    tick_s: float = 0.5

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._in_head = True  # waiting for (the rest of) a request head
        self._head_bytes = 0
        self._head_since = self.loop.time()
        self._body_since: float | None = None  # waiting for the rest of a body since then
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._shed():
            log.warning("connection refused: %d connections open, all busy (Settings.max_connections)",
                        len(self.connections) - 1)
            self._close(UNAVAILABLE)
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            # Count the head's bytes before the parser sees them (it has no limit of its own): up to
            # the blank line that ends the head, or the whole chunk while it has not come.
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4
            if self._head_bytes > self.max_head_bytes:
                log.warning("request head over %d bytes refused (Settings.max_head_bytes)", self.max_head_bytes)
                self._close(HEAD_TOO_LARGE)
                return
        super().data_received(data)

    # -- parser callbacks ------------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        if self._has_body():
            self._body_since = self.loop.time()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_since = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.pipeline:
            # The next request's head gets the same time, however slowly its bytes come (uvicorn's
            # keep-alive timer stops at the first byte).
            self._in_head = True
            self._head_bytes = 0
            self._head_since = self.loop.time()

    # -- helpers ---------------------------------------------------------------------------------
    def _has_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"0", b"")
            if name == b"transfer-encoding":
                return True
        return False

    def _close(self, response: bytes | None) -> None:
        self._in_head = False
        self._body_since = None
        if self.transport.is_closing():
            return
        if response:
            self.transport.write(response)
        self.transport.close()

    def _watch(self) -> None:
        """Start this server's watchdog, unless it runs already (one per server, shared state)."""
        state = self.server_state
        if not getattr(state, "segmint_watchdog", False):
            state.segmint_watchdog = True
            self.loop.call_later(self.tick_s, _tick, self.loop, state, self.tick_s)

    def _expired(self, now: float) -> bool:
        """Close this connection when its head or body is late; True when it did."""
        if self.transport is None or self.transport.is_closing():
            return False
        if self._in_head and now - self._head_since > self.header_timeout_s:
            log.info("closed connections that sent no complete request head within %.0f s "
                     "(Settings.header_timeout_s)", self.header_timeout_s)
            # 408 only where no response is under way (an idle or slow head, not a running request).
            self._close(REQUEST_TIMEOUT if self.cycle is None or self.cycle.response_complete else None)
            return True
        if self._body_since is not None and now - self._body_since > self.body_timeout_s:
            log.info("closed connections whose request body took over %.0f s (Settings.body_timeout_s)",
                     self.body_timeout_s)
            self._close(None)
            return True
        return False

    def _shed(self) -> bool:
        """Close the connection that has waited longest for a request head; False when none is waiting."""
        waiting = [c for c in self.connections if c is not self and getattr(c, "_in_head", False)
                   and not c.transport.is_closing()]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c._head_since)
        log.warning("connection limit reached (Settings.max_connections=%d): closing the connections that "
                    "waited longest for a request head", self.max_connections)
        oldest._close(REQUEST_TIMEOUT)
        return True


def _tick(loop: asyncio.AbstractEventLoop, state, every: float) -> None:
    """The watchdog: close late connections, then run again while there are connections."""
    now = loop.time()
    for conn in list(state.connections):
        if isinstance(conn, GuardedHttpTools):
            conn._expired(now)
    if state.connections:
        loop.call_later(every, _tick, loop, state, every)
    else:
        state.segmint_watchdog = False


def guarded_protocol(settings) -> type[GuardedHttpTools]:
    """A :class:`GuardedHttpTools` subclass with ``settings``' limits (uvicorn builds one per connection)."""
    return type("SegmintHttp", (GuardedHttpTools,), {
        "header_timeout_s": float(settings.header_timeout_s), "body_timeout_s": float(settings.body_timeout_s),
        "max_head_bytes": int(settings.max_head_bytes), "max_connections": int(settings.max_connections)})
