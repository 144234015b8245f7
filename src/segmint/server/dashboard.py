"""The dashboard: server-rendered pages over the same JSON the API serves.

Pages call :mod:`segmint.server.data` (as the API routes do) and render it with Jinja2
(autoescaped). Charts are drawn in the browser by Plotly.js, served from the installed
``plotly`` package, so the dashboard works offline. The rule builder posts to the API's
``/api/v1/rules/preview`` as you type, with the session's CSRF token in a header.

Login exchanges a token for a server-side session (see :mod:`segmint.server.auth`); the
login form itself is protected by a double-submit CSRF cookie.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from segmint.errors import ConfigError, SegmintError
from segmint.server import data
from segmint.server.auth import role
from segmint.server.errors import ApiError
from segmint.server.templates import STATIC, render

LOGIN_CSRF_COOKIE = "segmint_login_csrf"

router = APIRouter(include_in_schema=False)


def _view(request: Request):
    return request.app.state.handle.local()


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//'): an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


# -- login and logout -------------------------------------------------------------------------------
def _login_page(request: Request, next_: str, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status_code, login_csrf=token, next=_safe_next(next_), error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.app.state.settings.secure_cookies, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, next)


@router.post("/login")
def login(request: Request, token: str = Form(..., max_length=200), csrf_token: str = Form(""),
          next: str = Form("/")) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_page(request, next, "The form expired; please try again.", 403)
    auth = request.app.state.auth
    try:
        info, sid, _ = auth.login(request, token)
    except ApiError as exc:
        return _login_page(request, next, exc.message, exc.status)
    response = RedirectResponse(_safe_next(next), status_code=303)
    s = request.app.state.settings
    response.set_cookie(s.cookie_name, sid, httponly=True, samesite="strict", secure=s.secure_cookies,
                        max_age=s.session_ttl_s, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", **role("viewer"))
def logout(request: Request) -> Response:
    s = request.app.state.settings
    request.app.state.auth.sessions.drop(request.cookies.get(s.cookie_name))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(s.cookie_name, path="/")
    return response


# -- pages ----------------------------------------------------------------------------------------
@router.get("/", **role("viewer"))
def overview(request: Request) -> Response:
    ws = _view(request)
    items = data.segmentations(ws)
    charts = {}
    for item in items:
        try:
            charts[item["name"]] = data.with_names(ws, item["name"], data.history(ws, item["name"])["series"],
                                                   "segment")
        except SegmintError:  # a segmentation never run has no history yet
            charts[item["name"]] = []
    return render(request, "overview.html", segmentations=items, charts=charts, workspace=ws.config.name)


@router.get("/destinations", **role("admin"))
def destinations_page(request: Request) -> Response:
    """Each destination's state, backlog and failures (docs/activation.md)."""
    ws = _view(request)
    failures = [m for m in ws.activation.deliveries(limit=200) if m["status"] != "delivered" and m["attempts"]]
    return render(request, "destinations.html", destinations=ws.destinations(), failures=failures)


@router.get("/segmentations/{name}", **role("viewer"))
def segmentation_page(name: str, request: Request, job: str | None = None) -> Response:
    ws = _view(request)
    item = data.segmentation(ws, name)
    hist = data.history(ws, name)
    card = _optional(data.scorecard, ws, name)
    prof = _optional(data.profile, ws, name)
    dates = sorted({r["as_of"] for r in hist["series"] if r.get("as_of")})
    # One name for a segment everywhere: the persona name the profile and the report use, the id beside it.
    return render(request, "segmentation.html", item=item, series=data.with_names(ws, name, hist["series"], "segment"),
                  scorecard=card, sizes=data.with_names(ws, name, (prof or {}).get("sizes", []), "segment"),
                  dates=dates, job=job)


def _date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise ConfigError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _optional(fn, *args):
    try:
        return fn(*args)
    except SegmintError:
        return None


@router.get("/segmentations/{name}/segments/{segment:path}", **role("viewer"))  # names may hold "/"
def segment_page(name: str, segment: str, request: Request) -> Response:
    card = data.segment_card(_view(request), name, segment)
    return render(request, "segment.html", card=card, can_export=request.state.principal.can("analyst"))


@router.get("/segmentations/{name}/migration", **role("viewer"))
def migration_page(name: str, request: Request) -> Response:
    ws = _view(request)
    dates = sorted({str(r["as_of"])[:10] for r in data.history(ws, name)["series"] if r.get("as_of")})
    # from/to like the API's query parameters ("from" cannot name a Python parameter)
    start = _date(request.query_params.get("from")) or (dates[0] if dates else None)
    end = _date(request.query_params.get("to")) or (dates[-1] if dates else None)
    result = data.migration(ws, name, start, end) if start and end and start != end else None
    if result is not None:
        result["links"] = data.with_names(ws, name, result["links"], "from", "to")
    return render(request, "migration.html", name=name, dates=dates, start=start, end=end, result=result)


@router.get("/rules", **role("analyst"))
def rules_page(request: Request, where: str = "") -> Response:
    return render(request, "rules.html", where=where)


@router.post("/segmentations/{name}/run", **role("analyst"))
def run_form(name: str, request: Request, as_of: str = Form("")) -> Response:
    ws = _view(request)
    data.segmentation(ws, name)
    when = _date(as_of)
    job = request.app.state.jobs.submit("segmentation-run", request.state.principal.name,
                                        lambda w: w.segment(name, when), segmentation=name, as_of=when)
    return RedirectResponse(f"/segmentations/{name}?job={job.job_id}", status_code=303)


@router.get("/static/{filename}", **role("viewer"))
def static(filename: str) -> Response:
    path = STATIC.get(filename)
    if path is None:
        raise ApiError(404, f"no static file {filename!r}")
    media = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}.get(filename.rsplit(".", 1)[-1])
    response = FileResponse(path, media_type=media)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# -- journeys per segment (issue 23) ----------------------------------------------------------------
def _step_param(request: Request, key: str) -> str | None:
    """A step name from the query string: at most 100 characters, None when empty."""
    text = (request.query_params.get(key) or "").strip()
    if len(text) > 100:
        raise ConfigError(f"{key}: a step name has at most 100 characters, got {len(text)}")
    return text or None


@router.get("/segmentations/{name}/journeys", **role("viewer"))
def journeys_page(name: str, request: Request, segment: str | None = None, length: int = 4, top: int = 10) -> Response:
    """Each segment's session paths as a Sankey and a table, and the journeys between segments over the runs."""
    ws = _view(request)
    data.segmentation(ws, name)
    if not 1 <= top <= 50:
        raise ConfigError(f"top: 1 to 50 paths, got {top}")
    start, end = _step_param(request, "from"), _step_param(request, "to")  # "from" cannot name a parameter
    result = data.journeys(ws, name, segment or None, start, end, length, top)
    labels = set(result["paths"]) | {t["segment"] for t in result["segment_journeys"]["time_in_segment"]}
    names = data.display_names(ws, name, sorted(labels))
    # one card per segment: its display name, the Sankey's nodes and links, and the top paths
    cards = [{"segment": seg, "segment_name": names.get(seg, seg), **p} for seg, p in result["paths"].items()]
    return render(request, "journeys.html", name=name, result=result, cards=cards, segment=segment or "",
                  start=start or "", end=end or "", length=length, top=top,
                  segments=sorted(names.items(), key=lambda kv: kv[1]))
