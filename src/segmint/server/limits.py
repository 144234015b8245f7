"""Request bodies: authenticated before they are read, and never larger than their route allows.

Without this, FastAPI reads a whole request body (to parse it) before a route's dependency
checks the token: eight anonymous 100 MB POSTs to ``/api/v1/rules/preview`` took 6-8 s each
and grew the server by 0.9 GB. :class:`BodyGuard`, an ASGI middleware, runs first for every
request that carries a body (a ``Content-Length`` above 0 or a chunked body):

1. **Size by header.** A ``Content-Length`` above the route's limit is answered ``413`` at once.
2. **Authentication before the body.** On a route that needs a role (every route but the
   login form), the token or session cookie is checked the way the route's dependency does
   (:meth:`segmint.server.auth.Auth.authenticate`); a ``401`` or ``429`` is answered without
   reading a byte of the body (a client sending ``Expect: 100-continue`` never uploads it).
3. **Size while streaming.** A body without a length (chunked) is read up to the limit and
   counted; one byte more is a ``413``. Only the bounded body is handed on to the route.

Every refusal has the API's one error shape (``payload_too_large`` with ``details.limit_bytes``)
and closes the connection, so the rest of an unwanted upload is not read either. The limits
are data: :attr:`Settings.max_body_bytes` for every route, :attr:`Settings.body_limits` per route
(keyed by the route's path template, e.g. ``/api/v1/rules/preview``).

Examples
--------
>>> routes = RouteTable([("/api/v1/rules/preview", {"POST"}, "analyst"), ("/login", {"POST"}, None)],
...                     default=65536, overrides={"/api/v1/rules/preview": 16384})
>>> routes.match("POST", "/api/v1/rules/preview")
('/api/v1/rules/preview', 'analyst', 16384)
>>> routes.match("POST", "/login")
('/login', None, 65536)
>>> routes.match("POST", "/nowhere")
(None, None, 65536)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from segmint.errors import ConfigError, did_you_mean
from segmint.server.errors import ApiError, error_body

__all__ = ["BodyGuard", "RouteTable", "route_table"]


def _pattern(template: str) -> re.Pattern[str]:
    # "{name}" matches one path segment, as the router's own converters do for plain parameters.
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


class RouteTable:
    """Which route a request is for, the role it needs and its body limit, from the routes' templates."""

    def __init__(self, routes: Iterable[tuple[str, set[str], str | None]], default: int,
                 overrides: dict[str, int] | None = None) -> None:
        routes = list(routes)
        overrides = dict(overrides or {})
        known = {path for path, _, _ in routes}
        for path in overrides:
            if path not in known:
                raise ConfigError(f"body_limits: no route {path!r}; {did_you_mean(path, sorted(known))}")
        self.default = default
        self._routes = [(_pattern(path), methods, path, role, overrides.get(path, default))
                        for path, methods, role in routes]

    def match(self, method: str, path: str) -> tuple[str | None, str | None, int]:
        """``(template, role, limit)`` for the request; ``(None, None, default)`` when no route takes it."""
        for pattern, methods, template, role, limit in self._routes:
            if method in methods and pattern.match(path):
                return template, role, limit
        return None, None, self.default


def route_table(app, settings) -> RouteTable:
    """The :class:`RouteTable` of a FastAPI app's routes, with the settings' limits."""
    from segmint.server.auth import api_routes, required_role

    return RouteTable(((r.path, set(r.methods or ()), required_role(r)) for r in api_routes(app)),
                      settings.max_body_bytes, settings.body_limits)


def _has_body(scope) -> tuple[bool, int | None]:
    """Whether the request carries a body, and its declared length (None when chunked)."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        return True, None
    return bool(length), length


class BodyGuard:
    """ASGI middleware: authenticate, then bound, every request body (see the module's docstring).

    Parameters
    ----------
    app : ASGI app
    state : starlette.datastructures.State
        The FastAPI app's state: ``auth`` (for step 2) and ``routes`` (a :class:`RouteTable`,
        set once the routes exist).
    """

    def __init__(self, app, state) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body, length = _has_body(scope)
        if not has_body:
            await self.app(scope, receive, send)
            return
        template, role, limit = self.state.routes.match(scope["method"], scope["path"])
        where = f"{scope['method']} {template or scope['path']}"
        if length is not None and length > limit:
            await _refuse(send, 413, f"the request body is {length:,} bytes; {where} takes at most {limit:,}",
                          "payload_too_large", {"limit_bytes": limit})
            return
        if role is not None:
            try:
                await _authenticate(self.state.auth, scope)
            except ApiError as exc:
                await _refuse(send, exc.status, exc.message, exc.code, exc.details, exc.headers)
                return
        if length is not None:  # the parser stops at Content-Length: the body cannot be longer
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, f"the request body is over {limit:,} bytes, the most {where} takes",
                              "payload_too_large", {"limit_bytes": limit})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _authenticate(auth, scope) -> None:
    """What the route's dependency checks, before the body: a 401 or 429 is raised as ApiError."""
    request = Request(scope)
    if auth.authenticate(request, cached_only=True) is None:
        await run_in_threadpool(auth.authenticate, request)


async def _refuse(send, status: int, message: str, code: str | None = None, details=None,
                  headers: dict[str, str] | None = None) -> None:
    body = json.dumps(error_body(status, message, code, details)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]  # uvicorn closes the connection: the rest of the body is never read
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
