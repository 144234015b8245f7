"""Admin routes of activation: destinations, deliveries, sync and the suppression list (docs/activation.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from segmint.server.audit import AuditLog
from segmint.server.auth import role
from segmint.server.errors import BODY_RESPONSES, ERROR_RESPONSES, EXISTS, ApiError
from segmint.server.fields import IsoDateTime, Note, Text

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["activation"])

NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
#: Printable text (no control characters: a NUL in a path or URL is refused here, not by the file system).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class DestinationIn(BaseModel):
    """A destination to add (the fields of a ``destinations:`` entry of segmint.yaml)."""

    model_config = {"extra": "forbid"}

    name: str = Field(..., min_length=1, max_length=64, pattern=NAME, examples=["crm"])
    kind: Literal["webhook", "files", "database"]
    segmentations: list[Text] = Field(..., min_length=1, max_length=50)
    segments: list[Text] = Field(default_factory=list, max_length=500)
    fields: list[Text] = Field(default_factory=list, max_length=200)
    # Strict: a JSON boolean or number as the schema says (lax pydantic reads 0 or "no" as false, "5" as 5).
    consent: StrictBool = True
    personal_data: StrictBool = False
    batch_size: StrictInt | None = Field(None, ge=1, le=10_000)
    url: str | None = Field(None, max_length=2000, pattern=PRINTABLE)
    url_env: str | None = Field(None, max_length=200, pattern=PRINTABLE)
    secret_env: str | None = Field(None, max_length=200, pattern=PRINTABLE)
    timeout_s: StrictFloat | None = Field(None, gt=0, le=300)
    path: str | None = Field(None, max_length=1000, pattern=PRINTABLE)
    format: Literal["csv", "parquet", "jsonl"] = "csv"
    content: Literal["changes", "audience"] = "changes"
    table: str | None = Field(None, max_length=200, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$",
                              description="letters, digits and _, optionally schema.table")
    mode: Literal["mirror", "insert"] = "mirror"


class SuppressIn(BaseModel):
    model_config = {"extra": "forbid"}

    # At most 1,000 a request: every valid body fits the route's body limit (Settings.body_limits), so a
    # list the schema allows is never a 413.
    customer_ids: list[Text] = Field(..., min_length=1, max_length=1_000,
                                     description="customer ids (no control characters); more in several requests")
    reason: Note = ""
    remove: StrictBool = False


def _ws(request: Request):
    return request.app.state.handle.local()


def _audit(request: Request, action: str, target: str, rows: int | None, **details: Any) -> None:
    p = request.state.principal
    AuditLog(request.app.state.handle.store()).record(p.name, p.role, action, target, rows, details)


@router.get("/destinations", summary="Destinations with their state (backlog, pending, dead letters)",
            **role("admin"))
def list_destinations(request: Request) -> list[dict[str, Any]]:
    return _ws(request).destinations()


@router.post("/destinations", status_code=201, summary="Add a destination; a webhook's secret is in this "
                                                       "response only",
             description="422 for what the schema cannot say: a segmentation that is not defined, a kind's "
                         "missing field (webhook: `url`; files: `path`; database: `table` and `url` or "
                         "`url_env`), a webhook URL that is not https (docs/activation.md), personal data "
                         "fields without `personal_data`, a files `path` that is absolute or leads out of the "
                         "workspace folder.",
             responses={**BODY_RESPONSES, **EXISTS}, **role("admin"))
def add_destination(body: DestinationIn, request: Request) -> dict[str, Any]:
    ws = _ws(request)
    if body.path is not None:
        _inside_workspace(ws, body.path)
    if any(d.name == body.name for d in ws.activation.registry.all()):
        raise ApiError(409, f"a destination named {body.name!r} exists; remove it first or choose another name")
    d, secret = ws.activation.add(body.model_dump(exclude_none=True))
    _audit(request, "destination-add", d.name, None, kind=d.kind, consent=d.consent, personal_data=d.personal_data)
    return {**d.public(), **({"secret": secret} if secret else {})}


def _inside_workspace(ws, path: str) -> None:
    """A files destination added over the API writes inside the workspace folder, nowhere else.

    An admin token is a network credential, not a login on this machine: it must not choose where
    the server's user writes files (~/.ssh, a web root). segmint.yaml and the CLI, run by that user,
    may name any folder.
    """
    from pathlib import Path

    root = Path(ws.path).resolve()
    target = (root / path).resolve()  # ".." and links followed, as the sync would
    if Path(path).is_absolute() or not (target == root or root in target.parents):
        raise ApiError(422, f"a files destination added through the API writes inside the workspace folder: "
                            f"give a relative path such as exports/segments, not {path!r} (segmint.yaml or "
                            "`segmint destination add` on the server's machine may name any folder)")


@router.delete("/destinations/{name}", summary="Remove a destination added through the CLI or the API",
               **role("admin"))
def remove_destination(name: str, request: Request) -> dict[str, Any]:
    d = _ws(request).activation.remove(name)
    _audit(request, "destination-remove", d.name, None)
    return {"removed": d.name}


@router.post("/destinations/{name}/test", summary="Reach a destination without sending customers",
             **role("admin"))
def test_destination(name: str, request: Request) -> dict[str, Any]:
    return _ws(request).activation.test(name)


@router.post("/sync", status_code=202, summary="Deliver what is pending and due, as a background job",
             **role("admin"))
def sync(request: Request, destination: str | None = Query(None, max_length=64),
         full: bool = Query(False)) -> dict[str, Any]:
    p = request.state.principal
    if destination is not None:
        _ws(request).activation.registry.get(destination)  # 404 now rather than a failed job later
    job = request.app.state.jobs.submit("sync", p.name, lambda ws: ws.sync(destination, full=full, who=p.name),
                                        destination=destination, full=full)
    return job.to_dict()


@router.get("/deliveries", summary="Messages to destinations (default: pending and dead letters)",
            **role("admin"))
def deliveries(request: Request, destination: str | None = Query(None, max_length=64),
               status: Literal["pending", "delivered", "dead"] | None = Query(None),
               limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
    found = _ws(request).activation.deliveries(destination, status, limit)
    return found if status else [m for m in found if m["status"] != "delivered"]


@router.post("/deliveries/retry", summary="Dead letters back to pending (sent again, same ids)", **role("admin"))
def retry(request: Request, destination: str | None = Query(None, max_length=64)) -> dict[str, Any]:
    revived = _ws(request).activation.retry(destination)
    _audit(request, "deliveries-retry", destination or "*", len(revived))
    return {"retried": revived}


@router.post("/deliveries/replay", summary="Queue again every change recorded since a time", **role("admin"))
def replay(request: Request,
           since: Annotated[IsoDateTime, Query(description="ISO 8601 time (a date: its midnight; no offset: UTC)")],
           destination: str | None = Query(None, max_length=64)) -> dict[str, Any]:
    queued = _ws(request).activation.replay(since, destination)
    _audit(request, "deliveries-replay", destination or "*", sum(queued.values()), since=since.isoformat())
    return {"replayed": queued}


@router.get("/suppressions", summary="The suppression list", **role("admin"))
def suppressions(request: Request) -> list[dict[str, Any]]:
    return _ws(request).activation.suppressed()


@router.post("/suppressions", summary="Add customers to (or take them off) the suppression list",
             responses=BODY_RESPONSES, **role("admin"))
def suppress(body: SuppressIn, request: Request) -> dict[str, Any]:
    ws = _ws(request)
    n = ws.activation.unsuppress(body.customer_ids) if body.remove else ws.suppress(body.customer_ids, body.reason)
    _audit(request, "unsuppress" if body.remove else "suppress", "suppressions", n)
    return {"removed" if body.remove else "added": n}
