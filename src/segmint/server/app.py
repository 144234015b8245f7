"""The FastAPI application: :func:`create_app` wires the workspace, auth, jobs, API and dashboard.

Examples
--------
>>> import tempfile
>>> from fastapi.testclient import TestClient
>>> from segmint.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> app = create_app(ws)
>>> with TestClient(app) as client:
...     r = client.get("/api/v1/segmentations")
...     r.status_code, r.json()["error"]["code"]
(401, 'unauthorized')
>>> ws.close()
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders

from segmint.remote import CONTROL_PATH
from segmint.segment.service import RunCache
from segmint.server import errors
from segmint.server.audit import AuditLog
from segmint.server.auth import Auth
from segmint.server.context import WorkspaceHandle
from segmint.server.fastlookup import FastLookup
from segmint.server.jobs import JobManager
from segmint.server.limits import BodyGuard, route_table
from segmint.server.serving import ServingIndex
from segmint.server.settings import Settings
from segmint.server.tokens import TokenStore

DESCRIPTION = """\
segmint's REST API. Every route needs a token: `Authorization: Bearer smt_...`
(create one with `segmint token create --role viewer|analyst|admin --name NAME`).
Each operation lists the least role it needs in `x-required-role`.

Errors share one shape: `{"error": {"code": "...", "message": "...", "details": ...}}`.
"""


def create_app(workspace: Any, settings: Settings | None = None, control_secret: str | None = None) -> FastAPI:
    """Build the server for an open workspace (or a workspace folder).

    Parameters
    ----------
    workspace : Workspace or path
        The workspace to serve. The app opens its store now (taking the file lock) and
        never closes a workspace it was given; one it opened from a path it closes on shutdown.
    settings : Settings, optional
    control_secret : str, optional
        The secret of the control route that runs commands the CLI forwards (``segmint serve``
        makes one and writes it to ``.segmint/serve.json``); without one that route answers 404.

    Returns
    -------
    fastapi.FastAPI
    """
    from segmint import __version__ as version
    from segmint.workspace import Workspace

    settings = settings or Settings()
    owned = isinstance(workspace, (str, os.PathLike, Path))
    ws = Workspace.open(workspace) if owned else workspace
    handle = WorkspaceHandle(ws)
    # The server's own tables and the segment tables, created (or migrated) once here: request
    # threads only read, and never race each other or a running job on DDL.
    TokenStore(ws.store)
    AuditLog(ws.store)
    ws.store.runs.ensure_tables()
    # The latest run of every segmentation in memory, for the one-customer look-up; loaded at
    # start and after every stored run, on a thread of its own (see server/serving.py).
    index = ServingIndex(handle, settings.serving_index_mb)
    jobs = JobManager(handle.fresh, handle.release, history=settings.job_history, on_done=index.schedule)
    # `segmint forget` rewrites the store's file: the handle closes and reopens it around that (issue 20)
    ws._rewrite_hook = lambda fn: handle.rewrite(fn, after=index.reset)

    from segmint.server.scheduler import RefreshScheduler

    refresher = RefreshScheduler(jobs, settings.refresh_every_s) if settings.refresh_every_s else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        index.schedule()
        worker = None
        if settings.deliver_every_s:  # segmint serve's delivery worker (docs/activation.md)
            from segmint.server.delivery import DeliveryWorker

            worker = app.state.delivery = DeliveryWorker(handle, jobs, settings.deliver_every_s).start()
        if refresher is not None:  # monitoring (issue 17): segmint serve --refresh-every
            refresher.start()
        yield
        if refresher is not None:
            refresher.close()
        if worker is not None:
            worker.close()
        jobs.close()
        index.close()
        handle.close()
        ws.__dict__.pop("_rewrite_hook", None)
        if owned:
            ws.close()

    app = FastAPI(title="segmint", version=version, description=DESCRIPTION, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)  # the document is served behind auth
    app.state.workspace = ws
    app.state.handle = handle
    app.state.settings = settings
    app.state.auth = Auth(handle, settings)
    app.state.jobs = jobs
    app.state.runs = RunCache()  # which stored run a look-up reads; emptied by any run this process stores
    app.state.index = index
    errors.install(app)

    from segmint.server import dashboard, routes_activation, routes_admin, routes_api, routes_cli, routes_monitor

    app.include_router(routes_api.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_activation.router)
    app.include_router(dashboard.router)
    from segmint.server import routes_campaigns  # measurement (issue 19)

    app.include_router(routes_campaigns.router)
    app.include_router(routes_campaigns.pages)
    app.include_router(routes_monitor.api)  # monitoring (issue 17)
    app.include_router(routes_monitor.pages)
    routes_cli.install(app, control_secret)  # the CLI's commands while the server runs (not a token route)
    _secure_openapi(app)

    # Bodies are authenticated and bounded before any route reads them (server/limits.py); added
    # before SecurityHeaders, so that its refusals get the security headers too.
    app.state.routes = route_table(app, settings)
    app.add_middleware(BodyGuard, state=app.state)
    app.add_middleware(StoreGate, handle=handle)
    app.add_middleware(SecurityHeaders)
    # The look-up's lean path goes around the whole stack Starlette builds (its error and exception
    # middleware and SecurityHeaders cost more than the answer); it adds the security headers itself.
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: FastLookup(build(), app.state, SECURITY_HEADERS)  # type: ignore[method-assign]
    return app


#: No caching of authenticated data, no framing, no MIME sniffing, no referrer leaks.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
}


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every response (a route may set its own).

    A plain ASGI wrapper rather than ``@app.middleware("http")``: that one runs each
    request through an extra task and stream, which costs more than most routes here.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StoreGate:
    """ASGI middleware: each request holds the store's gate while it runs (server/context.py).

    ``segmint forget`` replaces the store's file; it waits for the requests in flight and keeps new
    ones waiting until the file is open again, so no request opens the database mid-replacement
    (which corrupted the store). The CLI's control route is let through: it reads the store only
    on the job worker, whose own views hold the gate, and it waits for that job (which may be the
    erasure itself).
    """

    def __init__(self, app, handle) -> None:
        self.app, self.handle = app, handle

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") == CONTROL_PATH:
            await self.app(scope, receive, send)
            return
        await self.handle.enter_async()
        try:
            await self.app(scope, receive, send)
        finally:
            self.handle.leave()


def _secure_openapi(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI document and require it everywhere."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            doc.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "segmint token create --role ROLE --name NAME"}}
            doc["security"] = [{"bearerAuth": []}]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["create_app"]
