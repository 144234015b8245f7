"""Who is calling and what they may do: bearer tokens, dashboard sessions, CSRF, login backoff.

* API clients send ``Authorization: Bearer smt_...``.
* The dashboard's login form exchanges a token for a random session id kept server-side
  (in memory), set as an ``HttpOnly; SameSite=Strict`` cookie. The token is not kept in
  the browser. A session dies with its token: revoking the token logs it out.
* A request authenticated by the cookie that changes something (POST, DELETE...) must
  carry the session's CSRF token, in the form field ``csrf_token`` or the header
  ``X-CSRF-Token``; a bearer request needs none (a browser never adds that header by itself).
* A verified token is cached in memory (by its SHA-256 digest) until any token is revoked,
  so a request with a known token costs a dictionary look-up, not a table read.
* Failed logins (the form or a bad bearer token) are counted per client address; past
  :attr:`Settings.failed_logins_allowed` a wrong token from that address gets 429 and must wait,
  doubling each time. A valid token is always accepted, so one guesser cannot lock out the
  others behind the same address.

Every route declares the least role it needs with :func:`role`; the authorisation
matrix test reads those declarations from the app's route table.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from segmint.server.errors import ApiError, LoginRequired
from segmint.server.settings import Settings
from segmint.server.tokens import PREFIX, ROLES, TokenInfo, TokenStore, hash_token, revocations, role_at_least

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the token's name and role, and how it came in."""

    token_id: str
    name: str
    role: str
    via: str  # "token" or "session"
    csrf: str | None = None

    def can(self, role: str) -> bool:
        return role_at_least(self.role, role)


@dataclass
class Session:
    token_id: str
    csrf: str
    expires_at: float


class Sessions:
    """Server-side dashboard sessions: random ids, sliding expiry, nothing secret in the cookie."""

    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token_id: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(token_id, secrets.token_urlsafe(32), time.monotonic() + self.ttl_s)
        with self._lock:
            self._prune()
            self._items[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._items.get(sid)
            if session is None or session.expires_at < time.monotonic():
                self._items.pop(sid, None)
                return None
            session.expires_at = time.monotonic() + self.ttl_s
            return session

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._items.pop(sid or "", None)

    def drop_token(self, token_id: str) -> None:
        with self._lock:
            for sid in [s for s, v in self._items.items() if v.token_id == token_id]:
                del self._items[sid]

    def _prune(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._items.items() if v.expires_at < now]:
            del self._items[sid]


@dataclass
class Backoff:
    """Failed logins per client address, and how long each must wait before trying again."""

    allowed: int
    base_s: float
    max_s: float
    _fails: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, client: str) -> float:
        """Seconds ``client`` must still wait (0 when it may try)."""
        with self._lock:
            n, last = self._fails.get(client, (0, 0.0))
        if n < self.allowed or n == 0:
            return 0.0
        delay = min(self.max_s, self.base_s * 2 ** (n - self.allowed))
        return max(0.0, last + delay - time.monotonic())

    def check(self, client: str) -> None:
        wait = self.wait_s(client)
        if wait > 0:
            raise ApiError(429, f"too many failed logins from this address; try again in {wait:.0f} s",
                           headers={"Retry-After": str(max(1, round(wait)))})

    def fail(self, client: str) -> None:
        with self._lock:
            if len(self._fails) > 10_000:  # bound memory under a spray of addresses
                cutoff = time.monotonic() - self.max_s
                self._fails = {k: v for k, v in self._fails.items() if v[1] > cutoff}
            n, last = self._fails.get(client, (0, 0.0))
            now = time.monotonic()
            if n and now - last > self.max_s:  # quiet for longer than the longest wait: start counting again
                n = 0
            self._fails[client] = (n + 1, now)


class TokenCache:
    """Verified tokens kept in memory, so that a request with a known token reads no table.

    Keys are SHA-256 digests of the secrets (never the secrets) and token ids; an entry
    holds while no token was revoked in this process since it was read (see
    :func:`segmint.server.tokens.revocations`) and for at most ``ttl_s``. Only active
    tokens are cached: an unknown token always goes to the table (and the backoff).
    """

    def __init__(self, ttl_s: float = 60.0, size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._items: dict[str, tuple[TokenInfo, int, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> TokenInfo | None:
        # Keyed by digests, not secrets: how long the dict look-up takes tells nothing about a secret.
        entry = self._items.get(key)
        if entry is None:
            return None
        info, generation, expires = entry
        if generation != revocations() or expires < time.monotonic():
            return None
        return info

    def put(self, key: str, info: TokenInfo, generation: int) -> None:
        """Remember ``info``; ``generation`` is :func:`revocations` as read *before* the table was."""
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (info, generation, time.monotonic() + self.ttl_s)


class Auth:
    """The server's authentication state: tokens (through the workspace handle), sessions, backoff."""

    def __init__(self, handle, settings: Settings) -> None:
        self.handle = handle
        self.settings = settings
        self.sessions = Sessions(settings.session_ttl_s)
        self.backoff = Backoff(settings.failed_logins_allowed, settings.backoff_base_s, settings.backoff_max_s)
        self.cache = TokenCache()

    def tokens(self) -> TokenStore:
        """The token table through this thread's cursor (created when the app started)."""
        return TokenStore(self.handle.store(), create=False)

    def _cached(self, key: str, read) -> TokenInfo | None:
        """The cached token under ``key``, else ``read(tokens)``'s, cached when active."""
        info = self.cache.get(key)
        if info is None:
            generation = revocations()  # read before the table: a revoke in between voids the entry
            info = read(self.tokens())
            if info is not None and info.active:
                self.cache.put(key, info, generation)
        return info

    def _verify(self, secret: str) -> TokenInfo | None:
        return self._cached("d:" + hash_token(secret), lambda tokens: tokens.verify(secret))

    def _by_id(self, token_id: str) -> TokenInfo | None:
        return self._cached("i:" + token_id, lambda tokens: tokens.get(token_id))

    def authenticate(self, request: Request, cached_only: bool = False) -> Principal | None:
        """The caller, from a bearer token or a session cookie; raise 401 (or 429) when neither is valid.

        With ``cached_only``, answer only what needs no table (a cached token, a missing or
        malformed header, a client in backoff) and return None otherwise: the event loop
        calls it so, and sends the rest to a worker thread.
        """
        client = _client(request)
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, secret = header.partition(" ")
            secret = secret.strip()
            if scheme.lower() != "bearer" or not secret:
                raise LoginRequired(401, "use the header 'Authorization: Bearer <token>'",
                                    headers={"WWW-Authenticate": "Bearer"})
            # A valid token works even from an address in backoff (one guesser behind a NAT must not lock
            # out everyone behind it); the backoff answers the *wrong* tokens. Tokens carry 256 random bits,
            # so checking each guess gives a guesser nothing; the backoff limits how fast failures are answered.
            if cached_only:
                info = self.cache.get("d:" + hash_token(secret)) if secret.startswith(PREFIX) else None
                if info is None:
                    return None
            else:
                info = self._verify(secret)
            if info is None:
                self.backoff.check(client)
                self.backoff.fail(client)
                raise LoginRequired(401, "the token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"})
            # No reset of the address's failures: a valid token of one caller must not wipe out the count
            # of another's guesses from the same address (it needs no reset to work).
            return Principal(info.token_id, info.name, info.role, "token")
        session = self.sessions.get(request.cookies.get(self.settings.cookie_name))
        if session is not None:
            info = self.cache.get("i:" + session.token_id) if cached_only else self._by_id(session.token_id)
            if cached_only and info is None:
                return None
            if info is not None and info.active:
                return Principal(info.token_id, info.name, info.role, "session", session.csrf)
            self.sessions.drop_token(session.token_id)
        raise LoginRequired(401, "authentication required: send 'Authorization: Bearer <token>' or log in at /login",
                            headers={"WWW-Authenticate": "Bearer"})

    def login(self, request: Request, secret: str) -> tuple[TokenInfo, str, Session]:
        """Exchange a token for a session (the dashboard's login form)."""
        client = _client(request)
        info = self._verify(secret.strip())
        if info is None:  # as in authenticate: only a wrong token meets the backoff
            self.backoff.check(client)
            self.backoff.fail(client)
            raise ApiError(401, "the token is unknown or revoked")
        sid, session = self.sessions.create(info.token_id)
        return info, sid, session


def _client(request: Request) -> str:
    # The peer address, not X-Forwarded-For: a header any client can set cannot key a limit.
    return request.client.host if request.client else "unknown"


class Require:
    """Dependency: the caller must have at least ``role`` (and a CSRF token when a cookie changes state)."""

    def __init__(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role

    async def __call__(self, request: Request) -> Principal:
        auth: Auth = request.app.state.auth
        # A known token is checked in the event loop (a dict look-up); only a miss reads the table,
        # on a worker thread, so the loop never waits on the store.
        principal = auth.authenticate(request, cached_only=True)
        if principal is None:
            principal = await run_in_threadpool(auth.authenticate, request)
        if principal.via == "session" and request.method not in SAFE_METHODS:
            await check_csrf(request, principal.csrf)
        if not principal.can(self.role):
            raise ApiError(403, f"this needs the {self.role} role; the token {principal.name!r} is {principal.role}",
                           details={"required_role": self.role, "role": principal.role})
        request.state.principal = principal
        return principal


async def check_csrf(request: Request, expected: str | None) -> None:
    """The form field or header must equal the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent and "form" in request.headers.get("content-type", ""):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise ApiError(403, "missing or wrong CSRF token; reload the page and try again", code="csrf")


def role(required: str) -> dict[str, Any]:
    """Route keyword arguments that require ``required`` and record it in the OpenAPI document.

    Examples
    --------
    >>> role("analyst")["openapi_extra"]
    {'x-required-role': 'analyst'}
    """
    return {"dependencies": [Depends(Require(required))], "openapi_extra": {"x-required-role": required}}


def required_role(route) -> str | None:
    """The role a route declared with :func:`role` (None for a public route)."""
    return (getattr(route, "openapi_extra", None) or {}).get("x-required-role")


__all__ = ["Auth", "api_routes", "Backoff", "Principal", "Require", "Sessions", "TokenCache", "check_csrf",
           "required_role", "role"]


def api_routes(app) -> list:
    """Every endpoint of ``app`` (FastAPI keeps included routers as branches; this flattens them)."""
    from fastapi.routing import APIRoute

    out, todo = [], list(app.routes)
    while todo:
        route = todo.pop(0)
        if isinstance(route, APIRoute):
            out.append(route)
        elif getattr(route, "original_router", None) is not None:
            todo.extend(route.original_router.routes)
    return out
