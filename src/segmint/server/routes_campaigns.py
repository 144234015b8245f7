"""Campaign routes (issue 19): list and measure (analyst), create (admin).

Creating a campaign assigns its members to treatment or holdout in the store, as
``segmint campaign create`` does; it is recorded in the audit log with the token's name.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictFloat

from fastapi.responses import Response

from segmint.server.audit import AuditLog
from segmint.server.auth import role
from segmint.server.errors import BODY_RESPONSES, ERROR_RESPONSES, EXISTS, ApiError
from segmint.server.fields import IsoDate, Text
from segmint.server.templates import render

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
#: The dashboard's campaign pages (lift with intervals per segment, as a plot and a table).
pages = APIRouter(include_in_schema=False)

_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # additionalProperties: false; an unknown field is a 422

    name: str = Field(..., min_length=1, max_length=64, pattern=_NAME, examples=["spring-winback"])
    segmentation: str = Field(..., min_length=1, max_length=64, pattern=_NAME)
    segments: list[Text] | None = Field(None, max_length=100, description="Targeted segments; default: all.")
    holdout: StrictFloat = Field(0.1, gt=0, lt=1, description="Share of the members held out.")
    start: IsoDate = Field(..., description="YYYY-MM-DD")
    end: IsoDate | None = Field(None, description="YYYY-MM-DD, after `start`")
    outcome: str = Field("conversion", max_length=80,
                         pattern=r"^(conversion|revenue|orders|(event|event_count):[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$",
                         description="conversion, revenue, orders, or event:NAME / event_count:NAME (an event "
                         "type of the events table, e.g. event:email_click).")


def _ws(request: Request):
    return request.app.state.handle.local()


@router.get("/campaigns", summary="Campaigns with holdout groups", **role("analyst"))
def list_campaigns(request: Request) -> list[dict[str, Any]]:
    return [c.to_dict() for c in _ws(request).campaigns()]


@router.post("/campaigns", status_code=201, summary="Create a campaign and assign its members to treatment or "
             "holdout (salted hash, stable across refreshes)",
             description="404: the segmentation is unknown or never run, or a segment is not in its latest run. "
                         "422 for what the schema cannot say: `end` not after `start`, a date outside "
                         "segmint.yaml's ingest.plausible_dates.",
             responses={**BODY_RESPONSES, **EXISTS}, **role("admin"))
def create_campaign(body: CampaignCreate, request: Request) -> dict[str, Any]:
    ws = _ws(request)
    if any(c.name == body.name for c in ws.campaigns()):
        raise ApiError(409, f"a campaign {body.name!r} exists already; pick another name (assignments are kept so "
                            "that a campaign's groups never change)")
    segments = body.segments or None
    c = ws.create_campaign(body.name, body.segmentation, segments, holdout=body.holdout,
                           start=body.start.isoformat(), end=body.end.isoformat() if body.end else None,
                           outcome=body.outcome)
    m = ws.campaign_members(body.name)
    counts = m.group_by("group").aggregate(n=m.count()).to_pyarrow().to_pylist()
    p = request.state.principal
    AuditLog(request.app.state.handle.store()).record(p.name, p.role, "campaign-create", body.name, None,
                                                    {"segmentation": body.segmentation, "holdout": body.holdout})
    return {**c.to_dict(), "members": {r["group"]: int(r["n"]) for r in counts}}


@router.get("/campaigns/{name}/measure", summary="Lift of treatment over holdout with 95% intervals",
            description="Overall and per segment: `treatment` and `holdout` (customers, outcome), `lift`, "
                        "`lift_ci`, `relative_lift`, `relative_lift_ci`, `p_value` (and Holm-adjusted per "
                        "segment), CUPED and the sample-ratio check (docs/measurement.md).",
            **role("analyst"))
def measure_campaign(name: str, request: Request,
                     bootstrap: int = Query(200, ge=0, le=2000, description="Bootstrap replicates (0: none).")
                     ) -> dict[str, Any]:
    return _ws(request).measure_campaign(name, bootstrap=bootstrap)


# -- dashboard pages ---------------------------------------------------------------------------------
@pages.get("/campaigns", **role("viewer"))
def campaigns_page(request: Request) -> Response:
    return render(request, "campaigns.html", campaigns=[c.to_dict() for c in _ws(request).campaigns()])


@pages.get("/campaigns/{name}", **role("viewer"))
def campaign_page(name: str, request: Request) -> Response:
    r = _ws(request).measure_campaign(name, bootstrap=0)
    rows = [{"label": "overall", **_row(r["overall"])}] + [{"label": s["segment"], **_row(s)} for s in r["segments"]]
    return render(request, "campaign.html", r=r, rows=rows)


def _row(b: dict[str, Any]) -> dict[str, Any]:
    return {"lift": b["lift"], "low": b["lift_ci"][0], "high": b["lift_ci"][1], "relative": b["relative_lift"],
            "p": b["p_value"], "p_adj": b.get("p_value_adjusted"), "treatment": b["treatment"]["customers"],
            "holdout": b["holdout"]["customers"], "t_out": b["treatment"]["outcome"],
            "h_out": b["holdout"]["outcome"], "cuped_low": (b.get("cuped") or {}).get("lift_ci", [None])[0],
            "cuped_high": (b.get("cuped") or {}).get("lift_ci", [None, None])[1]}
