"""The REST API under ``/api/v1``: segmentations, profiles, members, customers, rules, runs.

Each route declares the least role it needs (:func:`segmint.server.auth.role`), calls
:mod:`segmint.server.data` (which calls the workspace) through this thread's workspace
view, and returns plain JSON. Member lists and exports leave out customers without
marketing consent unless an admin asks otherwise, and every one is written to the
audit log.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from segmint.server import data
from segmint.server.audit import AuditLog
from segmint.server.auth import Principal, role
from segmint.server.errors import BODY_RESPONSES, ERROR_RESPONSES, NO_RUN, ApiError
from segmint.server.fields import IsoDate

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Name = str
AsOf = Query(None, description="Date (YYYY-MM-DD); default: the latest run. A date without a run is a 404.")


def view(request: Request):
    """This request thread's workspace view (its own DuckDB cursor)."""
    return request.app.state.handle.local()


def who(request: Request) -> Principal:
    return request.state.principal


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


# -- models -------------------------------------------------------------------------------------
class Me(BaseModel):
    name: str
    role: str
    via: str


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # additionalProperties: false; an unknown field is a 422

    as_of: IsoDate | None = Field(None, description="Date to segment as of; default: the latest data.")


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    where: str = Field(..., min_length=1, max_length=4000, examples=["recency_days <= 30 and monetary_total > 200"])
    as_of: IsoDate | None = None


class JobOut(BaseModel):
    job_id: str
    kind: str
    who: str
    params: dict[str, Any]
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: Any = None
    error: str | None = None


class MembersPage(BaseModel):
    segmentation: str
    segment: str
    as_of: str | None
    consented_only: bool
    items: list[dict[str, Any]]
    count: int
    next_cursor: str | None


# -- who am I, segmentations -----------------------------------------------------------------------
@router.get("/me", response_model=Me, summary="The calling token's name and role", **role("viewer"))
def me(request: Request) -> dict[str, Any]:
    p = who(request)
    return {"name": p.name, "role": p.role, "via": p.via}


@router.get("/segmentations", summary="Segmentations with their segments and sizes", **role("viewer"))
def list_segmentations(request: Request) -> list[dict[str, Any]]:
    # Rendered once per state of the definitions and runs (data.segmentations): the list route is cheap
    # under load and cannot starve the look-up (issue 15).
    return Response(data.segmentations_json(view(request)), media_type="application/json")  # type: ignore[return-value]


@router.get("/segmentations/{name}", summary="One segmentation", **role("viewer"))
def get_segmentation(name: Name, request: Request) -> dict[str, Any]:
    return data.segmentation(view(request), name)


@router.get("/segmentations/{name}/history", summary="Segment sizes over time",
            description="Rows per run date, oldest first. `limit` and `offset` page the run dates newest first "
                        "(`limit=10`: the ten latest runs); `runs` counts every run, `as_ofs` lists the dates kept.",
            **role("viewer"))
def get_history(name: Name, request: Request, limit: int | None = Query(None, ge=1, le=10_000),
                offset: int = Query(0, ge=0, le=1_000_000)) -> dict[str, Any]:
    return Response(data.history_json(view(request), name, limit, offset),  # type: ignore[return-value]
                    media_type="application/json")


@router.get("/segmentations/{name}/profile", summary="Profiles of the segments against the population",
            **role("viewer"))
def get_profile(name: Name, request: Request) -> dict[str, Any]:
    return data.profile(view(request), name)


@router.get("/segmentations/{name}/personas", summary="Persona cards", **role("viewer"))
def get_personas(name: Name, request: Request) -> dict[str, Any]:
    return data.personas(view(request), name)


@router.get("/segmentations/{name}/scorecard", summary="Validation scorecard", **role("viewer"))
def get_scorecard(name: Name, request: Request) -> dict[str, Any]:
    return data.scorecard(view(request), name)


@router.get("/segmentations/{name}/migration", summary="Who moved between segments from one date to another",
            responses=NO_RUN, **role("viewer"))
def get_migration(name: Name, request: Request, from_: Annotated[IsoDate, Query(alias="from")],
                  to: Annotated[IsoDate, Query()]) -> dict[str, Any]:
    # Annotated[..., Query()], not `= Query(...)`: FastAPI drops a type's validators given a Query default.
    return data.migration(view(request), name, from_.isoformat(), to.isoformat())


# -- members and exports ---------------------------------------------------------------------------
def _consent(request: Request, include_non_consented: bool) -> bool:
    """Whether to keep consented customers only; only an admin may include the others."""
    if include_non_consented and not who(request).can("admin"):
        raise ApiError(403, "include_non_consented=true needs the admin role", details={"required_role": "admin"})
    return not include_non_consented


def _audit(ws, p: Principal, action: str, target: str, rows: int, **details: Any) -> None:
    AuditLog(ws.store).record(p.name, p.role, action, target, rows, details)


@router.get("/segmentations/{name}/segments/{segment:path}/members", response_model=MembersPage,
            summary="A page of a segment's members (cursor pagination)", responses=NO_RUN, **role("analyst"))
def get_members(name: Name, segment: str, request: Request, as_of: IsoDate | None = AsOf,
                cursor: str | None = Query(None, max_length=512, description="next_cursor of the previous page"),
                limit: int = Query(100, ge=1, le=10_000),
                include_non_consented: bool = Query(False, description="admin only")) -> dict[str, Any]:
    consented_only = _consent(request, include_non_consented)
    limit = min(limit, request.app.state.settings.max_page_size)
    ws = view(request)
    table = data.members_table(ws, name, segment, _iso(as_of), consented_only)
    page = data.members_page(table, cursor, limit)
    _audit(ws, who(request), "members", f"{name}/{segment}", page["count"], as_of=_iso(as_of),
           consented_only=consented_only, cursor=bool(cursor))
    return {"segmentation": name, "segment": segment, "as_of": _iso(as_of), "consented_only": consented_only,
            **page}


@router.get("/segmentations/{name}/segments/{segment:path}/export",
            summary="Download every member as CSV or JSON lines (streamed)", **role("analyst"),
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}},
                             "description": "The members, streamed"}, **NO_RUN})
def export_members(name: Name, segment: str, request: Request, as_of: IsoDate | None = AsOf,
                   format: Literal["csv", "jsonl"] = Query("csv"),
                   include_non_consented: bool = Query(False, description="admin only"),
                   raw_csv: bool | None = Query(None, description="true: CSV cells exactly as stored, formulas not "
                                                "neutralised (for machine consumers); default: segmint.yaml's "
                                                "exports.neutralise_formulas")) -> StreamingResponse:
    consented_only = _consent(request, include_non_consented)
    if raw_csv is None:
        raw_csv = not request.app.state.workspace.config.exports.neutralise_formulas
    handle = request.app.state.handle
    # The stream outlives this call and is read from other threads: it gets a cursor of its own.
    ws = handle.fresh()
    try:
        table = data.members_table(ws, name, segment, _iso(as_of), consented_only)
    except BaseException:
        handle.release(ws)
        raise
    p = who(request)

    def body():
        counter = [0]
        done = False
        try:
            yield from data.stream_rows(table, format, counter, raw_csv=raw_csv)
            done = True
        finally:
            try:
                _audit(ws, p, "export", f"{name}/{segment}", counter[0], format=format, as_of=_iso(as_of),
                       consented_only=consented_only, completed=done, raw_csv=raw_csv)
            finally:
                handle.release(ws)

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{name}-{segment}-{_iso(as_of) or 'latest'}")
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(body(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{stem}.{format}"'})


# Segment names and customer ids may hold "/" (a hybrid's segments are "VIP/cluster_1"): the routes take the
# rest of the path. The members and export routes come first, so ".../segments/X/members" means X's members.
@router.get("/segmentations/{name}/segments/{segment:path}", summary="One segment: persona, KPIs, profile, scorecard",
            **role("viewer"))
def get_segment(name: Name, segment: str, request: Request) -> dict[str, Any]:
    return data.segment_card(view(request), name, segment)


@router.get("/customers/{customer_id:path}", summary="A customer's memberships and why", **role("analyst"))
def get_customer(customer_id: str, request: Request,
                 segmentation: str | None = Query(None, description="Only this segmentation")) -> dict[str, Any]:
    # The common case (a cached analyst token, one indexed segmentation) is answered before this
    # route by server/fastlookup.py with the same bytes; this handles the rest.
    # data.customer returns plain JSON values already: a response object skips FastAPI's second encoding pass.
    return JSONResponse(data.customer(view(request), customer_id, segmentation,  # type: ignore[return-value]
                                      cache=request.app.state.runs, index=request.app.state.index))


# -- rules and runs --------------------------------------------------------------------------------
@router.post("/rules/preview", summary="Size and condition attrition of a rule, without saving",
             description="Reads the stored feature snapshot at `as_of` (default: the latest stored snapshot). "
                         "Without one, the answer is 409 with the dates that have one: run a segmentation "
                         "at that date first (a preview never computes a snapshot).",
             responses={409: ERROR_RESPONSES[422] | {"description": "conflict: no feature snapshot at that date"},
                        **BODY_RESPONSES}, **role("analyst"))
def preview_rule(body: PreviewRequest, request: Request) -> dict[str, Any]:
    return data.preview(view(request), body.where, _iso(body.as_of))


@router.post("/segmentations/{name}/runs", status_code=202, response_model=JobOut,
             summary="Run a segmentation in the background; poll GET /api/v1/jobs/{job_id}",
             responses=BODY_RESPONSES, **role("analyst"))
def run_segmentation(name: Name, request: Request, body: RunRequest | None = None) -> dict[str, Any]:
    ws = view(request)
    data.segmentation(ws, name)  # 404 now rather than a failed job later
    as_of = _iso(body.as_of) if body else None
    if as_of is not None:  # 422 now: an implausible date must not become a run (and the look-ups' last_as_of)
        ws.check_as_of(as_of)
    job = request.app.state.jobs.submit("segmentation-run", who(request).name,
                                        lambda ws: ws.segment(name, as_of), segmentation=name, as_of=as_of)
    return job.to_dict()


@router.get("/jobs", response_model=list[JobOut], summary="Recent background jobs", **role("analyst"))
def list_jobs(request: Request) -> list[dict[str, Any]]:
    return [j.to_dict() for j in request.app.state.jobs.list()]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A background job's status and result",
            **role("analyst"))
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id!r} (jobs are kept in memory until the server restarts)")
    return job.to_dict()


# --- fairness (issue 20) ---
@router.get("/segmentations/{name}/fairness", summary="Fairness table: protected groups' shares, disparity, balance",
            description="Per protected attribute (privacy.fairness in segmint.yaml, or `attribute`) and segment: "
                        "each group's share against the base, the disparity ratio against the reference group with "
                        "the four-fifths rule, Chierichetti's balance, bootstrap intervals; cells under the "
                        "small-cell threshold suppressed (docs/privacy.md).", responses=NO_RUN,
            **role("viewer"))
def get_fairness(name: Name, request: Request,
                 attribute: str | None = Query(None, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
                 as_of: IsoDate | None = AsOf) -> dict[str, Any]:
    ws = view(request)
    if as_of is not None:
        ws.members(name, as_of=_iso(as_of))  # a date without a run: RunMissing (404), not the snapshot's 422
    return ws.fairness(name, attribute=attribute, as_of=_iso(as_of))
