"""One JSON shape for every error the API returns.

``{"error": {"code": "not_found", "message": "...", "details": ...}}`` for 400, 401,
403, 404, 409, 422, 429 and 500 alike, so a client has one thing to parse. segmint's own
errors map onto statuses here (an unknown name is a 404, a bad rule a 422); anything
unexpected is a 500 whose message says nothing about the internals (the details go to
the server log, without secrets).

Examples
--------
>>> error_body(404, "no segmentation 'x'")
{'error': {'code': 'not_found', 'message': "no segmentation 'x'", 'details': None}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from segmint.errors import (
    ConfigError,
    Conflict,
    DataError,
    FitError,
    RunMissing,
    SegmintError,
    UnknownNameError,
    WorkspaceError,
)
from segmint.server.templates import render

log = logging.getLogger("segmint.server")

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         408: "request_timeout", 409: "conflict", 413: "payload_too_large", 422: "invalid",
         429: "too_many_attempts", 431: "headers_too_large", 500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    """An error with an HTTP status, a code, a message for people and optional details."""

    def __init__(self, status: int, message: str, code: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


class LoginRequired(ApiError):
    """401 that a browser asking for a page turns into a redirect to the login form."""


def error_body(status: int, message: str, code: str | None = None, details: Any = None) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details}}


def error_response(status: int, message: str, code: str | None = None, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code, details), status_code=status, headers=headers)


def status_of(exc: SegmintError) -> int:
    """The HTTP status for one of segmint's own errors."""
    if isinstance(exc, (UnknownNameError, RunMissing)):  # a run that does not exist is a missing resource
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, (ConfigError, DataError, FitError)):
        return 422
    if isinstance(exc, WorkspaceError):
        return 503
    return 400


def wants_html(request: Request) -> bool:
    """A browser navigating (not a script fetching JSON)."""
    return "text/html" in request.headers.get("accept", "") and request.method == "GET"


def _respond(request: Request, status: int, message: str, code: str | None = None, details: Any = None,
             headers: dict[str, str] | None = None):
    """The JSON error; a person browsing the dashboard gets the same message as a page."""
    if wants_html(request) and not request.url.path.startswith("/api/"):
        titles = {403: "Not allowed", 404: "Not found", 422: "Cannot do that", 500: "Something went wrong"}
        return render(request, "error.html", status, status=status, title=titles.get(status, "Error"),
                      message=message)
    return error_response(status, message, code, details, headers)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        if isinstance(exc, LoginRequired) and wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        return _respond(request, exc.status, exc.message, exc.code, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see GET /api/v1/openapi.json"
        if exc.status_code == 405:
            # Starlette's Allow names the first route of the path only (GET /tokens, not POST /tokens).
            allowed = allowed_methods(request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        return _respond(request, exc.status_code, message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", ""),
                    "type": e.get("type", "")} for e in exc.errors()]
        first = details[0] if details else {"where": "request", "message": "invalid"}
        return error_response(422, f"{first['where']}: {first['message']}", "invalid", details)

    @app.exception_handler(SegmintError)
    async def _segmint_error(request: Request, exc: SegmintError):
        status = status_of(exc)
        details: dict[str, Any] = {"type": type(exc).__name__}
        if isinstance(exc, RunMissing):
            details |= {"as_of": exc.as_of, "runs": exc.available[-20:]}
        return _respond(request, status, str(exc), details=details)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # The message may quote data; log the type and route only, with the traceback for operators.
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path,
                  exc_info=exc)
        return _respond(request, 500, "unexpected server error; the server log has the details")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path, sorted."""
    from starlette.routing import Match

    scope = dict(request.scope)
    methods: set[str] = set()
    todo = list(request.app.routes)
    while todo:  # FastAPI keeps included routers as branches
        route = todo.pop(0)
        if getattr(route, "original_router", None) is not None:
            todo.extend(route.original_router.routes)
        elif getattr(route, "methods", None):
            match, _ = route.matches(scope)
            if match != Match.NONE:
                methods |= set(route.methods)
    return sorted(methods)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


#: The documented error shape, for the OpenAPI document.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}},
}
ERROR_RESPONSES = {
    status: {"description": f"{CODES[status]}: the error shape", "content": {"application/json": {
        "schema": ERROR_SCHEMA}}}
    for status in (401, 403, 404, 422, 429)
}


def _documented(status: int, description: str) -> dict[str, Any]:
    return {"description": f"{CODES[status]}: {description}", "content": {"application/json": {
        "schema": ERROR_SCHEMA}}}


#: The extra answers of a route that reads a JSON body: one that is not JSON (or not UTF-8) is a 400,
#: one over the route's limit a 413 (before it is read, see server/limits.py).
BODY_RESPONSES = {
    400: _documented(400, "the body is not valid JSON"),
    413: _documented(413, "the body is over this route's limit (Settings.body_limits)"),
}
#: A route reading a stored run: a date without one is a missing resource, not an invalid request.
NO_RUN = {404: _documented(404, "no such segmentation or segment, or no run of it at the date asked for "
                                "(`details.runs`: the latest dates that have one)")}
#: A route that creates something with a unique name.
CONFLICT = {409: _documented(409, "an active one with that name exists")}
#: A route that creates something whose name must be new (a campaign, a destination).
EXISTS = {409: _documented(409, "one with that name exists")}

__all__ = ["ApiError", "LoginRequired", "error_body", "error_response", "install", "status_of", "ERROR_RESPONSES",
           "BODY_RESPONSES", "CONFLICT", "EXISTS", "NO_RUN"]
