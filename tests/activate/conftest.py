"""A small workspace whose runs are written directly, a clock the tests move, a webhook receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading

import ibis
import pandas as pd
import pytest

from segmint.segment import membership
from tests.ingest.conftest import db_servers  # noqa: F401 - the real database servers, for the `db` tests


class FakeClock:
    """UTC now, moved on by the test instead of waiting."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 1, 1, 12, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shop(ws):
    """``ws`` with 40 customers (C00..C39; every fourth without marketing consent)."""
    ids = [f"C{i:02d}" for i in range(40)]
    ws.ingest("customers", pd.DataFrame({"customer_id": ids,
                                         "marketing_consent": ["false" if i % 4 == 3 else "true" for i in range(40)]}))
    return ws


def write(ws, name: str, day: int, labels: dict[str, str], version: int = 1) -> None:
    """Store a run of ``name`` as of 2025-01-``day`` with these labels (what `segmint segment` writes)."""
    table = ibis.memtable({"customer_id": list(labels), "segment": list(labels.values())},
                          schema={"customer_id": "string", "segment": "string"})
    new = None
    if not membership.versions(ws.store, name):
        new = {"name": name, "version": version, "kind": "rules", "fingerprint": "f", "definition": "{}",
               "model": "{}", "fitted_as_of": None, "created_at": dt.datetime(2025, 1, 1)}
    membership.write_run(ws.store, name, version, dt.datetime(2025, 1, day), table, new_version=new)


class Receiver:
    """Messages a webhook receiver got: (headers, body) in order, and what it answers next."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.codes: list[int] = []  # what each request was answered
        self.answers: list = []  # werkzeug Responses or callables, used in order; then 200
        self.lock = threading.Lock()

    def handler(self, request):
        from werkzeug import Response

        with self.lock:
            self.got.append((dict(request.headers), request.get_data()))
            answer = self.answers.pop(0) if self.answers else Response("ok", 200)
        answer = answer if isinstance(answer, Response) else answer()
        self.codes.append(answer.status_code)
        return answer

    def changes(self, dedupe: bool = True) -> list[dict]:
        """The changes of the accepted messages, each message once (by webhook-id) unless ``dedupe=False``."""
        seen, out = set(), []
        for (headers, body), code in zip(self.got, self.codes):
            if not 200 <= code < 300:
                continue  # not accepted: the sender tries again
            doc = json.loads(body)
            mid = headers.get("Webhook-Id") or headers.get("webhook-id")
            if doc.get("type") != "segment.changes" or (dedupe and mid in seen):
                continue
            seen.add(mid)
            out.extend(doc["data"]["changes"])
        return out


@pytest.fixture
def receiver(httpserver):
    r = Receiver()
    httpserver.expect_request("/hooks", method="POST").respond_with_handler(r.handler)
    r.url = httpserver.url_for("/hooks")
    return r
