"""The ``api_tokens`` table: the statements :class:`segmint.server.tokens.TokenStore` runs.

Only digests are stored (the server hashes a token before it gets here). The table has
constraints (a primary key, a unique digest), so it is created with SQL text
(:data:`segmint.store.sql.TOKENS_DDL`); the server's own tables stay in the workspace's
DuckDB file whichever engine holds the customer data.

Examples
--------
>>> import datetime as dt
>>> from segmint.store import Store
>>> store = Store(":memory:")
>>> store.tokens.ensure_table()
>>> store.tokens.insert("t1", "crm", "viewer", "ab" * 32, "smt_abcd...", dt.datetime(2024, 1, 1))
>>> [row[:3] for row in store.tokens.all()]
[('t1', 'crm', 'viewer')]
>>> store.close()
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from segmint.store import sql

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store.engine import Store

#: A row: token_id, name, role, hint, created_at, revoked_at.
TokenRow = tuple[str, str, str, str, dt.datetime, "dt.datetime | None"]


class TokenTable:
    """Statements on ``api_tokens``, through one store (or one thread's cursor store)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def ensure_table(self) -> None:
        """Create the table when missing."""
        self.store._raw.execute(sql.TOKENS_DDL)

    def insert(self, token_id: str, name: str, role: str, token_hash: str, hint: str,
               created_at: dt.datetime) -> None:
        """Add an active token."""
        self.store._raw.execute(sql.TOKEN_INSERT, [token_id, name, role, token_hash, hint, created_at])

    def by_hash(self, token_hash: str) -> tuple | None:
        """The active token with this digest: a :data:`TokenRow` followed by the digest, or None."""
        return self.store._raw.execute(sql.TOKEN_BY_HASH, [token_hash]).fetchone()

    def by_id(self, token_id: str) -> TokenRow | None:
        """The token with this id, active or revoked."""
        return self.store._raw.execute(sql.TOKEN_BY_ID, [token_id]).fetchone()

    def all(self, include_revoked: bool = True) -> list[TokenRow]:
        """Every token (or every active one), oldest first."""
        return self.store._raw.execute(sql.TOKENS_ALL if include_revoked else sql.TOKENS_ACTIVE).fetchall()

    def revoke(self, token_id: str, at: dt.datetime) -> None:
        """Mark a token revoked at ``at``."""
        self.store._raw.execute(sql.TOKEN_REVOKE, [at, token_id])


__all__ = ["TokenRow", "TokenTable"]
