"""Admin routes: API tokens, the audit log, the serving index and erasure; and the OpenAPI document (any role)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from segmint.server.audit import AuditLog
from segmint.server.auth import role
from segmint.server.errors import BODY_RESPONSES, CONFLICT, ERROR_RESPONSES
from segmint.server.tokens import ROLES, TokenStore

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$",
                      examples=["crm-sync"])
    role: str = Field(..., json_schema_extra={"enum": list(ROLES)})


class TokenOut(BaseModel):
    token_id: str
    name: str
    role: str
    hint: str
    created_at: str
    revoked_at: str | None = None
    active: bool


class TokenCreated(TokenOut):
    token: str = Field(..., description="The secret: shown this once, never stored")


def _tokens(request: Request) -> TokenStore:
    return TokenStore(request.app.state.handle.store(), create=False)  # created when the app started


@router.get("/openapi.json", summary="This document", include_in_schema=False, **role("viewer"))
def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


@router.get("/tokens", response_model=list[TokenOut], summary="API tokens (never their secrets)", **role("admin"))
def list_tokens(request: Request) -> list[dict[str, Any]]:
    return [t.to_dict() for t in _tokens(request).list()]


@router.post("/tokens", status_code=201, response_model=TokenCreated,
             summary="Create a token; its secret is in this response only", responses={**BODY_RESPONSES, **CONFLICT},
             **role("admin"))
def create_token(body: TokenCreate, request: Request) -> dict[str, Any]:
    info, secret = _tokens(request).create(body.name, body.role)
    p = request.state.principal
    AuditLog(request.app.state.handle.store()).record(p.name, p.role, "token-create", info.name, None,
                                                    {"role": info.role, "token_id": info.token_id})
    return {**info.to_dict(), "token": secret}


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke a token (by id or name)",
               **role("admin"))
def revoke_token(token_id: str, request: Request) -> dict[str, Any]:
    info = _tokens(request).revoke(token_id)
    request.app.state.auth.sessions.drop_token(info.token_id)
    p = request.state.principal
    AuditLog(request.app.state.handle.store()).record(p.name, p.role, "token-revoke", info.name, None,
                                                    {"token_id": info.token_id})
    return info.to_dict()


@router.get("/audit", summary="The audit log, latest first", **role("admin"))
def audit(request: Request, limit: int = Query(100, ge=1, le=10_000),
          action: str | None = Query(None, max_length=64)) -> list[dict[str, Any]]:
    return AuditLog(request.app.state.handle.store()).entries(limit, action)


@router.delete("/customers/{customer_id:path}", summary="Erase one customer (GDPR Art. 17): every table, the file, reports",
               description="Removes the customer from every table that holds them, rewrites the store's file so "
                           "no byte of their rows remains, regenerates the reports that named them, records the "
                           "erasure in the ledger (a keyed hash, never the id) and suppresses their rows in later "
                           "ingests (reason `erased`). `dry_run=true` says what would go. The answer is the "
                           "receipt (docs/privacy.md).", **role("admin"))
def forget_customer(request: Request, customer_id: str = Path(..., min_length=1, max_length=256),
                    dry_run: bool = Query(False)) -> dict[str, Any]:
    p = request.state.principal
    handle = request.app.state.handle

    def work() -> dict[str, Any]:
        with handle.borrowed() as ws:
            return ws.forget([customer_id], dry_run=dry_run, request="api", who=f"api:{p.name}").to_dict()

    with handle.unheld():  # the erasure waits for every request but this one, which waits for it
        return request.app.state.jobs.exclusive(work).result()


@router.get("/serving-index", summary="What the serving index holds for the one-customer look-up",
            description="Per segmentation: the run held in memory, its customers and size, and whether it is "
                        "current; `not_indexed` says why a segmentation is looked up in the store instead "
                        "(over the `serving_index_mb` budget, or a run without stored reasons).",
            **role("admin"))
def serving_index(request: Request) -> dict[str, Any]:
    return request.app.state.index.status()
