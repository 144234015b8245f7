"""Monitoring over HTTP (issue 17): the API's monitor, transitions, alerts, freshness and refresh routes, and
the dashboard's monitoring pages. Every route calls the workspace (its monitoring methods) and nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from segmint.errors import ConfigError
from segmint.server import data
from segmint.server.auth import role
from segmint.server.errors import BODY_RESPONSES, ERROR_RESPONSES, NO_RUN
from segmint.server.fields import IsoDate
from segmint.server.templates import render

api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
pages = APIRouter(include_in_schema=False)

Reference = Query(None, description="Drift reference: first, previous or an as-of date (YYYY-MM-DD) with a run "
                                    "(a date without one is a 404); default: the segmentation's "
                                    "monitoring.drift.reference.")


def _view(request: Request):
    return request.app.state.handle.local()


def _reference(text: str | None) -> str | None:
    if text is None or text in ("first", "previous"):
        return text
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(f"reference {text!r}: write first, previous or a date YYYY-MM-DD") from None


def _reference_text(value: object) -> object:
    """The API's drift reference: first, previous or a date, said so in the 422 (the schema lists the three)."""
    if value in ("first", "previous") or isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    raise ValueError(f"reference {value!r}: write first, previous or a date YYYY-MM-DD")


#: ``first``, ``previous`` or a date: anything else is a 422 before the route runs.
DriftReference = Annotated[Literal["first", "previous"] | IsoDate, BeforeValidator(_reference_text)]


def _submit_refresh(request: Request, as_of: str | None, refit: bool, who: str):
    ws = _view(request)
    if as_of is not None:
        ws.check_as_of(as_of)
    return request.app.state.jobs.submit("refresh", who, lambda w: w.refresh(as_of, refit=refit),
                                         as_of=as_of, refit=refit)


# -- API ----------------------------------------------------------------------------------------
class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # additionalProperties: false; an unknown field is a 422

    as_of: IsoDate | None = Field(None, description="YYYY-MM-DD; default: the day after the last order.")
    refit: StrictBool = Field(False, description="Refit every model instead of keeping the fitted ones.")


@api.get("/segmentations/{name}/monitor", summary="Sizes, transitions and churn, drift, KPIs and model health "
         "over the runs", responses=NO_RUN, **role("viewer"))
def get_monitor(name: str, request: Request,
                reference: DriftReference | None = Reference) -> dict[str, Any]:
    ws = _view(request)
    if isinstance(reference, dt.date):
        reference = reference.isoformat()
        ws.members(name, as_of=reference)  # a date without a run: RunMissing (404) with the dates that have one
    return data.jsonable(ws.monitor(name, reference=reference))


@api.get("/segmentations/{name}/transitions", summary="Entered, exited and stayed between any two runs",
         responses=NO_RUN, **role("viewer"))
def get_transitions(name: str, request: Request, from_: Annotated[IsoDate, Query(alias="from")],
                    to: Annotated[IsoDate, Query()]) -> dict[str, Any]:
    # Annotated[..., Query()], not `= Query(...)`: FastAPI drops a type's validators given a Query default.
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
          description="422 for what the schema cannot say: an `as_of` outside segmint.yaml's "
                      "ingest.plausible_dates.", responses=BODY_RESPONSES, **role("analyst"))
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
