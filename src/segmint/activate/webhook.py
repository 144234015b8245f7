"""Sending one message to a webhook receiver: signed, timed out, no redirects followed.

The request is a ``POST`` of JSON with the Standard Webhooks headers
(:func:`segmint.activate.signing.sign_headers`); the receiver answers 2xx to accept it.
Anything else is a failure to retry later (:mod:`segmint.activate.schedule`), except ``410
Gone``, which disables the destination until someone enables it again: the receiver said
the endpoint is gone for good. A redirect is a failure too (``Location`` is reported, never
followed): a receiver that moved must be updated in the destination, not found by
following whatever host a response names.

Examples
--------
>>> import httpx
>>> def receiver(request):
...     return httpx.Response(200 if request.headers["webhook-signature"].startswith("v1,") else 400)
>>> sender = WebhookSender("https://crm.example/hooks", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], 15.0,
...                        transport=httpx.MockTransport(receiver))
>>> outcome = sender.send("msg_1", b'{"type": "segment.changes"}')
>>> outcome.ok, outcome.code
(True, 200)
>>> sender.close()
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from segmint.activate import signing

__all__ = ["Outcome", "WebhookSender", "USER_AGENT"]

USER_AGENT = "segmint-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: accepted or not, the status code, an error text, ``Retry-After``, 410."""

    ok: bool
    code: int | None = None
    error: str | None = None
    retry_after: str | None = None
    gone: bool = False
    latency_ms: float | None = None


class WebhookSender:
    """POSTs signed messages to one URL.

    Parameters
    ----------
    url : str
        The receiver (already checked: https, or http to an allowed host).
    secrets_ : list of str
        The ``whsec_`` secrets that sign (more than one during a rotation).
    timeout : float
        Seconds for the whole request (the specification suggests 15).
    transport : httpx.BaseTransport, optional
        For tests (``httpx.MockTransport``); by default a real connection.
    """

    def __init__(self, url: str, secrets_: list[str], timeout: float, transport: httpx.BaseTransport | None = None,
                 clock=time.time) -> None:
        if not secrets_:
            raise ValueError("a webhook destination needs a signing secret")
        self.url = url
        self.secrets = list(secrets_)
        self.clock = clock
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport,
                                   headers={"user-agent": USER_AGENT, "content-type": "application/json"})

    def send(self, message_id: str, body: bytes) -> Outcome:
        """One attempt: the signed POST and what came back (never raises for network trouble)."""
        headers = signing.sign_headers(message_id, int(self.clock()), body, self.secrets)
        start = time.perf_counter()
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(False, None, "timed out", latency_ms=_ms(start))
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {str(exc)[:200]}", latency_ms=_ms(start))
        latency = _ms(start)
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(True, code, latency_ms=latency)
        if code == 410:
            return Outcome(False, code, "410 Gone: the receiver says this endpoint is gone", gone=True,
                           latency_ms=latency)
        if 300 <= code < 400:
            where = response.headers.get("location", "?")
            return Outcome(False, code, f"redirect to {where[:200]} not followed; update the destination's url",
                           latency_ms=latency)
        text = response.text[:200].replace("\n", " ") if response.content else ""
        return Outcome(False, code, f"{code} {response.reason_phrase}: {text}".strip(": "),
                       retry_after=response.headers.get("retry-after"), latency_ms=latency)

    def close(self) -> None:
        self.client.close()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
