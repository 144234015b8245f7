"""API tokens: roles, creation, verification, listing and revocation.

A token is 32 random bytes (256 bits) written as ``smt_<base64url>``. It is shown once,
when created; the store keeps only its SHA-256 digest in the ``api_tokens`` table.
A plain hash is enough here (no salt, no slow KDF): with 256 bits of entropy nobody
can guess a preimage, and a fast check keeps every request cheap.

Servers cache verified tokens (:class:`segmint.server.auth.Auth`). Every revocation in
this process bumps :func:`revocations`, which empties those caches, so a revoked token
is refused from the next request on. (No other process can revoke meanwhile: the
server holds the store's write lock for as long as it runs.)

Examples
--------
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> tokens = TokenStore(store)
>>> info, secret = tokens.create("crm-sync", "analyst")
>>> secret.startswith("smt_"), info.role
(True, 'analyst')
>>> tokens.verify(secret).name
'crm-sync'
>>> tokens.revoke("crm-sync").revoked_at is not None
True
>>> tokens.verify(secret) is None
True
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import asdict, dataclass
from typing import Any

from segmint.errors import ConfigError, Conflict, UnknownNameError, did_you_mean

#: Roles from least to most trusted; each may do everything the ones before it may.
ROLES = ("viewer", "analyst", "admin")
PREFIX = "smt_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")

_revocations = 0
_revocations_lock = threading.Lock()


def revocations() -> int:
    """How many revocations this process has made: a cache of verified tokens is valid while this holds."""
    return _revocations


def _revoked() -> None:
    global _revocations
    with _revocations_lock:
        _revocations += 1


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may.

    Examples
    --------
    >>> role_at_least("admin", "analyst"), role_at_least("viewer", "analyst")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str) -> str:
    """Return ``role`` when it is known, else raise :class:`ConfigError` with the choices."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; {did_you_mean(role, ROLES)} (roles: {', '.join(ROLES)})")
    return role


def hash_token(secret: str) -> str:
    """The SHA-256 hex digest stored for a token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What the store knows about a token (never the token itself)."""

    token_id: str
    name: str
    role: str
    hint: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["revoked_at"] = self.revoked_at.isoformat() if self.revoked_at else None
        d["active"] = self.active
        return d


class TokenStore:
    """The ``api_tokens`` table of a workspace store.

    Parameters
    ----------
    store : segmint.store.Store
        The workspace's store, or one server thread's cursor store; its statements are
        :attr:`segmint.store.Store.tokens`.
    create : bool, default True
        Create the table when missing. The server creates it once at start and reads
        with ``create=False``, so that checking a token never runs DDL.
    """

    def __init__(self, store, create: bool = True) -> None:
        self.table = store.tokens
        if create:
            self.table.ensure_table()

    def create(self, name: str, role: str) -> tuple[TokenInfo, str]:
        """Create a token; return its record and the secret, which is not stored and cannot be shown again."""
        check_role(role)
        if not _NAME.fullmatch(name or ""):
            raise ConfigError(f"token name {name!r}: use 1-64 letters, digits, '_', '-', '.' or '@'")
        if any(t.name == name and t.active for t in self.list()):
            raise Conflict(f"an active token named {name!r} exists; revoke it first or choose another name")
        secret = PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(token_id=secrets.token_hex(6), name=name, role=role, hint=secret[:8] + "...",
                         created_at=_now())
        self.table.insert(info.token_id, info.name, info.role, hash_token(secret), info.hint, info.created_at)
        return info, secret

    def verify(self, secret: str | None) -> TokenInfo | None:
        """The active token whose secret this is, or None (unknown, malformed or revoked)."""
        if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        digest = hash_token(secret)
        row = self.table.by_hash(digest)
        # The lookup is by digest already; compare again in constant time so that a
        # future change to the query cannot turn into a timing oracle.
        if row is None or not hmac.compare_digest(row[-1], digest):
            return None
        return TokenInfo(*row[:-1])

    def get(self, token_id: str) -> TokenInfo | None:
        """The token with this id, active or revoked."""
        row = self.table.by_id(token_id)
        return TokenInfo(*row) if row else None

    def list(self, include_revoked: bool = True) -> list[TokenInfo]:
        """Every token, oldest first."""
        return [TokenInfo(*r) for r in self.table.all(include_revoked)]

    def revoke(self, key: str) -> TokenInfo:
        """Revoke the active token with this id or name; it stops working at once."""
        matches = [t for t in self.list() if t.active and key in (t.token_id, t.name)]
        if not matches:
            known = [t.name for t in self.list() if t.active]
            raise UnknownNameError(f"no active token with id or name {key!r}; {did_you_mean(key, known)}")
        if len(matches) > 1:  # pragma: no cover - names of active tokens are unique
            raise ConfigError(f"{key!r} matches several tokens; revoke by id")
        self.table.revoke(matches[0].token_id, _now())
        _revoked()  # after the update: a cache refilled in between would read the revoked row
        return self.get(matches[0].token_id)  # type: ignore[return-value]


def _now() -> dt.datetime:
    # Stored as naive UTC, like every timestamp of the store.
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


__all__ = ["ROLES", "TokenInfo", "TokenStore", "check_role", "hash_token", "revocations", "role_at_least"]
