"""Server settings: where it listens and how strict its sessions and logins are.

Examples
--------
>>> s = Settings()
>>> s.host, s.port
('127.0.0.1', 8000)
>>> Settings(port=9000, session_ttl_s=3600).session_ttl_s
3600
>>> s.max_body_bytes, s.body_limits["/api/v1/rules/preview"]
(65536, 32768)
>>> Settings(body_limits={"/api/v1/rules/preview": 4096}).body_limits["/login"]  # merged over the defaults
8192
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Request body limits (bytes) of the routes that take a body, by route path template; any other
#: route takes at most :attr:`Settings.max_body_bytes`. Each is well above what a valid request
#: needs (a rule is at most 4,000 characters, 6 bytes each when escaped in JSON).
BODY_LIMITS = {
    "/api/v1/rules/preview": 32 * 1024,
    "/api/v1/segmentations/{name}/runs": 4 * 1024,
    "/api/v1/tokens": 4 * 1024,
    "/login": 8 * 1024,
    "/logout": 4 * 1024,
    "/segmentations/{name}/run": 4 * 1024,
    # wave 2's bodies (issue 15's contract): each admits the largest body its schema allows, every
    # character escaped as JSON's 12-byte surrogate pair (tests/server/test_contract_wave2.py computes it)
    "/api/v1/campaigns": 256 * 1024,
    "/api/v1/destinations": 2 * 1024 * 1024,
    "/api/v1/suppressions": 2560 * 1024,
}


class Settings(BaseModel):
    """How ``segmint serve`` runs.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Address to bind. Loopback by default: exposing the API is a decision to take on purpose.
    port : int, default 8000
    session_ttl_s : int, default 8 hours
        How long a dashboard login lasts without activity.
    secure_cookies : bool, default False
        Mark the session cookie ``Secure`` (set it when serving behind HTTPS).
    failed_logins_allowed : int, default 5
        Failed logins from one client address before it must wait.
    backoff_base_s, backoff_max_s : float
        The wait after the allowance doubles with every further failure, up to the maximum.
    max_page_size : int, default 1000
        Largest member page a client may ask for.
    job_history : int, default 200
        Finished background jobs kept in memory for ``GET /api/v1/jobs/{id}``.
    serving_index_mb : float, default 512
        Memory for the serving index: the latest run of each segmentation (customer ids,
        segments, stored reasons) kept in memory for the one-customer look-up: about
        130 bytes per customer for a rules segmentation reading three features, plus, when
        they fit too, the answers rendered once (about the size of the JSON answer, ~780
        bytes per customer for the same segmentation; otherwise each look-up renders its own).
        Segmentations that do not fit are looked up in the store instead (same answers,
        ~1-2 ms more each); 0 turns the index off.
    max_body_bytes : int, default 64 KiB
        Largest request body of a route without an entry in ``body_limits`` (413 above it).
    body_limits : dict, default :data:`BODY_LIMITS`
        Per-route body limits in bytes, keyed by the route's path template
        (``/api/v1/rules/preview``); merged over the defaults. An unknown route is an error
        when the app is built. Bodies are authenticated before they are read
        (:mod:`segmint.server.limits`).
    header_timeout_s : float, default 10
        Time a connection has to send a whole request head (request line and headers), from
        its first byte or from the end of the previous response; then it is closed (408).
    body_timeout_s : float, default 30
        Time a request has to send its whole body once its head is in; then it is closed.
    keep_alive_s : float, default 5
        How long an idle kept-alive connection waits for its next request.
    max_connections : int, default 1000
        Open connections at most. Beyond it, the connection that has waited longest for its
        request head is closed to make room; when every connection is busy, the new one
        gets 503. Kept below the process's open-file limit.
    max_head_bytes : int, default 64 KiB
        Largest request head (request line and headers); 431 above it.
    trusted_proxies : list of str, default none
        Addresses of reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed
        (uvicorn's ``forwarded_allow_ips``). With none, the peer's own address is the client's, even on
        loopback: a header any client can set must not pick the address the login backoff counts.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    session_ttl_s: int = Field(8 * 3600, ge=60)
    secure_cookies: bool = False
    failed_logins_allowed: int = Field(5, ge=0)
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(300.0, ge=0)
    max_page_size: int = Field(1000, ge=1)
    job_history: int = Field(200, ge=1)
    serving_index_mb: float = Field(512, ge=0)
    cookie_name: str = "segmint_session"
    max_body_bytes: int = Field(64 * 1024, ge=0)
    body_limits: dict[str, int] = Field(default_factory=lambda: dict(BODY_LIMITS))
    header_timeout_s: float = Field(10.0, gt=0)
    body_timeout_s: float = Field(30.0, gt=0)
    keep_alive_s: float = Field(5.0, gt=0)
    max_connections: int = Field(1000, ge=1)
    max_head_bytes: int = Field(64 * 1024, ge=1024)
    trusted_proxies: list[str] = Field(default_factory=list)
    deliver_every_s: float | None = Field(None, gt=0, description="run the delivery worker (segmint serve sets "
                                                                  "activation.worker_every_s); None: no worker")
    # monitoring (issue 17): `segmint serve --refresh-every 1d` queues a refresh job this often (None: never)
    refresh_every_s: float | None = Field(None, ge=60)

    @field_validator("body_limits")
    @classmethod
    def _merged(cls, v: dict[str, int]) -> dict[str, int]:
        if any(n < 0 for n in v.values()):
            raise ValueError("body limits are byte counts >= 0")
        return {**BODY_LIMITS, **v}


__all__ = ["BODY_LIMITS", "Settings"]
