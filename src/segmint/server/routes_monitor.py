"""Monitoring over HTTP (issue 17): the API's monitor, transitions, alerts, freshness and refresh routes, and
the dashboard's monitoring pages. Every route calls the workspace (its monitoring methods) and nothing else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from segmint.errors import ConfigError
from segmint.server import data
from segmint.server.auth import role
from segmint.server.errors import ERROR_RESPONSES
from segmint.server.templates import render

api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
pages = APIRouter(include_in_schema=False)

Reference = Query(None, description="Drift reference: first, previous or an as-of date (YYYY-MM-DD); default: "
                                    "the segmentation's monitoring.drift.reference.", max_length=40)


def _view(request: Request):
    return request.app.state.handle.local()


def _reference(text: str | None) -> str | None:
    if text is None or text in ("first", "previous"):
        return text
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(f"reference {text!r}: write first, previous or a date YYYY-MM-DD") from None


def _submit_refresh(request: Request, as_of: str | None, refit: bool, who: str):
    ws = _view(request)
    if as_of is not None:
        ws.check_as_of(as_of)
    return request.app.state.jobs.submit("refresh", who, lambda w: w.refresh(as_of, refit=refit),
                                         as_of=as_of, refit=refit)


# -- API ----------------------------------------------------------------------------------------
class RefreshRequest(BaseModel):
    as_of: dt.date | None = Field(None, description="Default: the day after the last order.")
    refit: bool = Field(False, description="Refit every model instead of keeping the fitted ones.")


@api.get("/segmentations/{name}/monitor", summary="Sizes, transitions and churn, drift, KPIs and model health "
         "over the runs", **role("viewer"))
def get_monitor(name: str, request: Request, reference: str | None = Reference) -> dict[str, Any]:
    return data.jsonable(_view(request).monitor(name, reference=_reference(reference)))


@api.get("/segmentations/{name}/transitions", summary="Entered, exited and stayed between any two runs",
         **role("viewer"))
def get_transitions(name: str, request: Request, from_: dt.date = Query(..., alias="from"),
                    to: dt.date = Query(...)) -> dict[str, Any]:
    return data.jsonable(_view(request).transitions(name, from_.isoformat(), to.isoformat()))


@api.get("/alerts", summary="Alerts raised by refreshes, newest first, with their evidence", **role("viewer"))
def get_alerts(request: Request, segmentation: str | None = Query(None, max_length=200),
               limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
    return {"alerts": data.jsonable(_view(request).alerts(segmentation, limit))}


@api.get("/freshness", summary="Per table: newest row, last load and freshness status", **role("viewer"))
def get_freshness(request: Request) -> dict[str, Any]:
    return {"tables": data.jsonable(_view(request).freshness())}


@api.get("/refreshes", summary="Recorded refreshes, newest first", **role("viewer"))
def get_refreshes(request: Request, limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    return {"refreshes": data.jsonable(_view(request).refreshes(limit))}


@api.post("/refresh", status_code=202, summary="Refresh in the background; poll GET /api/v1/jobs/{job_id}",
          **role("analyst"))
def post_refresh(request: Request, body: RefreshRequest | None = None) -> dict[str, Any]:
    as_of = body.as_of.isoformat() if body and body.as_of else None
    return _submit_refresh(request, as_of, bool(body and body.refit), request.state.principal.name).to_dict()


# -- dashboard ----------------------------------------------------------------------------------
@pages.get("/monitoring", **role("viewer"))
def monitoring_page(request: Request, job: str | None = None) -> Response:
    ws = _view(request)
    return render(request, "monitoring.html", segmentations=data.segmentations(ws), alerts=ws.alerts(limit=50),
                  freshness=ws.freshness(), refreshes=ws.refreshes(10), job=job)


@pages.post("/monitoring/refresh", **role("analyst"))
def refresh_form(request: Request) -> Response:
    job = _submit_refresh(request, None, False, request.state.principal.name)
    return RedirectResponse(f"/monitoring?job={job.job_id}", status_code=303)


@pages.get("/segmentations/{name}/monitor", **role("viewer"))
def monitor_page(name: str, request: Request, reference: str | None = None) -> Response:
    ws = _view(request)
    m = data.jsonable(ws.monitor(name, reference=_reference(reference or None)))
    names = lambda rows, *cols: data.with_names(ws, name, rows, *cols)  # noqa: E731 - a short alias
    drift_rows = []
    for row in m["drift_series"]:
        drift_rows.append({"as_of": row["as_of"], "segment": "(all customers)", "value": row["drift_share"]})
        drift_rows += [{"as_of": row["as_of"], "segment": s, "value": v["drift_share"]}
                       for s, v in row["segments"].items()]
    return render(request, "monitor.html", m=m, name=name, sizes=names(m["sizes"], "segment"),
                  kpis=names(m["kpis"], "segment"), drift_rows=names(drift_rows, "segment"),
                  alerts=ws.alerts(name, 20), reference=reference or m["drift_settings"]["reference"])
