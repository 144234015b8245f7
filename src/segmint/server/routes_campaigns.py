"""Campaign routes (issue 19): list and measure (analyst), create (admin).

Creating a campaign assigns its members to treatment or holdout in the store, as
``segmint campaign create`` does; it is recorded in the audit log with the token's name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from segmint.server.audit import AuditLog
from segmint.server.auth import role
from segmint.server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class CampaignCreate(BaseModel):
    name: str = Field(..., min_length=1, max_length=64, pattern=_NAME, examples=["spring-winback"])
    segmentation: str = Field(..., min_length=1, max_length=64, pattern=_NAME)
    segments: list[str] | None = Field(None, max_length=100, description="Targeted segments; default: all.")
    holdout: float = Field(0.1, gt=0, lt=1, description="Share of the members held out.")
    start: dt.date
    end: dt.date | None = None
    outcome: Literal["conversion", "revenue", "orders"] = "conversion"


def _ws(request: Request):
    return request.app.state.handle.local()


@router.get("/campaigns", summary="Campaigns with holdout groups", **role("analyst"))
def list_campaigns(request: Request) -> list[dict[str, Any]]:
    return [c.to_dict() for c in _ws(request).campaigns()]


@router.post("/campaigns", status_code=201, summary="Create a campaign and assign its members to treatment or "
             "holdout (salted hash, stable across refreshes)", **role("admin"))
def create_campaign(body: CampaignCreate, request: Request) -> dict[str, Any]:
    ws = _ws(request)
    segments = [s[:200] for s in body.segments] if body.segments else None
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
