"""Server settings: where it listens and how strict its sessions and logins are.

Examples
--------
>>> s = Settings()
>>> s.host, s.port
('127.0.0.1', 8000)
>>> Settings(port=9000, session_ttl_s=3600).session_ttl_s
3600
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


__all__ = ["Settings"]
