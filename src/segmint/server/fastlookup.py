"""The one-customer look-up's lean path: answered in the event loop from the serving index.

``GET /api/v1/customers/{id}?segmentation=NAME`` is the API's hot route (a CRM asking
about one customer at a time). Through FastAPI it costs more than the look-up itself:
routing, query and dependency resolution, a hop to the thread pool and back. This ASGI
middleware answers the one case it can prove needs none of that, and hands every other
request, unchanged, to the app:

* a ``GET`` of ``/api/v1/customers/{id}`` whose only query parameter is a non-empty
  ``segmentation`` (an empty one asks for every segmentation: the route answers it);
* a caller authenticated the way the route's dependency does it, in the event loop:
  :meth:`segmint.server.auth.Auth.authenticate` with ``cached_only=True`` (a verified token
  in the digest cache, which every revocation empties, or a live session), holding at
  least the ``analyst`` role;
* a segmentation whose current run the :class:`~segmint.server.serving.ServingIndex`
  holds, and a customer in that run.

Anything else (no or unknown token, a viewer, 404s, a stale index, an error of any kind)
goes to the FastAPI route, which answers it with its usual checks and the one error shape.
So a 401, 403, 404 or 422 is always the route's own answer, and the OpenAPI document is
the route's. A 200 here is the same body, byte for byte, as the route's
(:func:`segmint.server.serving.render_answer`) with
the same headers, the security headers included: this middleware sits outside the whole
Starlette stack (``create_app`` wraps the stack it builds), where each layer it skips would
cost more than the answer itself, so it adds those headers to its answers itself.
The body comes from the index already rendered when it is (see
:meth:`segmint.server.serving.IndexEntry.answer`), else it is rendered then.

Examples
--------
>>> _target({"method": "GET", "path": "/api/v1/customers/C42", "query_string": b"segmentation=value"})
('C42', 'value')
>>> _target({"method": "GET", "path": "/api/v1/customers/C42", "query_string": b"segmentation="}) is None
True
>>> _target({"method": "GET", "path": "/api/v1/customers/C42", "query_string": b"segmentation=a&x=1"}) is None
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

log = logging.getLogger("segmint.server")

PATH = "/api/v1/customers/"
#: The role the route declares (routes_api.get_customer); a test checks they agree.
ROLE = "analyst"


def _target(scope: dict[str, Any]) -> tuple[str, str] | None:
    """``(customer_id, segmentation)`` when the request is one this path may answer, else None."""
    if scope["method"] != "GET" or scope.get("root_path"):
        return None
    path = scope["path"]
    if not path.startswith(PATH):
        return None
    customer_id = path[len(PATH):]
    if not customer_id or "/" in customer_id:
        return None
    query = scope.get("query_string", b"")
    if query.startswith(b"segmentation=") and not any(c in query for c in b"&;%+#"):
        # A plain name (no escapes, one parameter): what the parser below finds, without its cost.
        value = query[13:].decode("latin-1")
        return (customer_id, value) if value else None
    # Starlette's own parser (what the route's Query parameter reads), so both see one value.
    items = QueryParams(query).multi_items()
    if len(items) != 1 or items[0][0] != "segmentation" or not items[0][1]:
        return None
    return customer_id, items[0][1]


class FastLookup:
    """ASGI middleware: the look-up from the serving index when that is sound, else the app.

    Parameters
    ----------
    app : ASGI app
    state : starlette.datastructures.State
        The FastAPI app's state, with ``auth`` and ``index``.
    headers : mapping, optional
        Headers to add to every answer of this path (the app's security headers).
    """

    def __init__(self, app, state, headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.state = state
        # The headers the app's middleware adds to the route's answer (SecurityHeaders), in its order.
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            body = self.answer(scope)
            if body is not None:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", str(len(body)).encode("latin-1")),
                                        (b"content-type", b"application/json"), *self.headers]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def answer(self, scope) -> bytes | None:
        """The response body, or None to let the route answer."""
        target = _target(scope)
        if target is None:
            return None
        customer_id, name = target
        try:
            principal = self.state.auth.authenticate(Request(scope), cached_only=True)
            if principal is None or not principal.can(ROLE):
                return None
            entry = self.state.index.get(name)
            return None if entry is None else entry.answer(customer_id)
        except Exception as exc:  # noqa: BLE001 - the route answers it, with its own error shape
            log.debug("fast look-up handed to the route: %s", type(exc).__name__)
            return None


__all__ = ["PATH", "ROLE", "FastLookup"]
