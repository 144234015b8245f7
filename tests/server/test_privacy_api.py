"""Issue 20 over the API: ``DELETE /api/v1/customers/{id}`` (admin; the store is rewritten under the server, which keeps serving) and the fairness table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.server.conftest import bearer

pytestmark = pytest.mark.db


def _some_customer(shop) -> str:
    m = shop.store.table("memberships")
    return sorted(m.customer_id.to_pyarrow().to_pylist())[3]


def _named_in(root: Path, needle: str) -> list[str]:
    return sorted(str(Path(d, f).relative_to(root)) for d, _, fs in os.walk(root) for f in fs
                  if needle.encode() in Path(d, f).read_bytes())


def test_only_an_admin_may_erase(client, tokens, shop):
    cid = _some_customer(shop)
    for who in ("viewer", "analyst"):
        assert client.delete(f"/api/v1/customers/{cid}", headers=bearer(tokens[who])).status_code == 403
    assert client.delete(f"/api/v1/customers/{cid}").status_code == 401


def test_an_admin_erases_and_the_server_keeps_serving(client, tokens, shop, shop_path):
    cid = _some_customer(shop)
    admin, analyst = bearer(tokens["admin"]), bearer(tokens["analyst"])
    seen = client.get(f"/api/v1/customers/{cid}", headers=analyst)
    assert seen.status_code == 200 and seen.json()["memberships"]
    dry = client.delete(f"/api/v1/customers/{cid}", params={"dry_run": "true"}, headers=admin).json()
    assert dry["dry_run"] and dry["found"] == 1 and dry["tables"]["customers"] == 1
    receipt = client.delete(f"/api/v1/customers/{cid}", headers=admin)
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    assert body["found"] == 1 and body["rewritten"]["bytes_after"] > 0 and body["tables"]["memberships"] >= 2
    after = client.get(f"/api/v1/customers/{cid}", headers=analyst)
    assert after.status_code == 404 or not after.json()["memberships"], after.text
    # the server answers other requests on its reopened store
    assert client.get("/api/v1/segmentations", headers=analyst).status_code == 200
    audit = client.get("/api/v1/audit", params={"action": "forget"}, headers=admin).json()
    assert audit and cid not in str(audit)
    assert "store.duckdb" not in " ".join(_named_in(shop_path, cid))


def test_the_fairness_table_of_a_segmentation(client, tokens):
    viewer = bearer(tokens["viewer"])
    r = client.get("/api/v1/segmentations/value/fairness", params={"attribute": "gender"}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["segmentation"] == "value" and [a["attribute"] for a in body["attributes"]] == ["gender"]
    assert {s["segment"] for s in body["attributes"][0]["segments"]} <= {"VIP", "Active", "Lapsed"}
    assert client.get("/api/v1/segmentations/value/fairness", params={"attribute": "x;drop"},
                      headers=viewer).status_code == 422
    assert client.get("/api/v1/segmentations/nope/fairness", headers=viewer).status_code == 404


def test_segmint_forget_forwarded_to_a_running_server(shop, shop_path, tokens):
    """`segmint forget` beside `segmint serve` runs in the server, which rewrites its store and keeps serving."""
    import json

    from fastapi.testclient import TestClient

    from segmint import __version__
    from segmint.server import Settings, create_app

    secret = "control-secret-for-forget"
    cid = _some_customer(shop)
    env = {"SEGMINT_SECRET": "test-secret-key-for-pseudonyms", "COLUMNS": "200"}
    body = {"argv": ["forget", cid, "--json", "-w", "shop"], "cwd": str(shop_path.parent),
            "workspace": str(shop_path.resolve()), "env": env, "pid": 1, "user": "tester", "version": __version__}
    with TestClient(create_app(shop, Settings(), control_secret=secret), client=("127.0.0.1", 50000)) as c:
        r = c.post("/api/v1/cli", json=body, headers={"x-segmint-control": secret})
        lines = [json.loads(x) for x in r.text.splitlines()]
        out = "".join(m["text"] for m in lines if m.get("stream") == "out")
        assert lines[-1] == {"exit": 0}, r.text
        assert json.loads(out)["found"] == 1
        admin = bearer(tokens["admin"])
        audit = c.get("/api/v1/audit", params={"action": "cli"}, headers=admin).json()
        assert audit[0]["target"] == "forget [1 ids withheld] --json -w shop"
        assert cid not in json.dumps(c.get("/api/v1/audit", headers=admin).json())
        assert c.get(f"/api/v1/customers/{cid}", headers=bearer(tokens["analyst"])).status_code in (200, 404)
        assert c.get("/api/v1/segmentations", headers=admin).status_code == 200


def test_reads_from_many_threads_while_an_admin_erases_leave_the_store_whole(client, tokens, shop):
    """The contract run once corrupted the store: a request opened it while DELETE replaced its file."""
    import threading

    cid = _some_customer(shop)
    admin, analyst = bearer(tokens["admin"]), bearer(tokens["analyst"])
    urls = ["/api/v1/segmentations", "/api/v1/segmentations/value/history",
            "/api/v1/segmentations/value/segments/VIP/members?limit=5", "/api/v1/status"]
    stop, answers = threading.Event(), []

    def read(url: str) -> None:
        while not stop.is_set():
            answers.append((url, client.get(url, headers=analyst).status_code))

    readers = [threading.Thread(target=read, args=(u,)) for u in urls]
    for t in readers:
        t.start()
    try:
        receipt = client.delete(f"/api/v1/customers/{cid}", headers=admin)
    finally:
        stop.set()
        for t in readers:
            t.join(60)
    assert receipt.status_code == 200, receipt.text
    assert answers and {code for _, code in answers} <= {200, 404}, sorted(set(answers))
    after = client.get(f"/api/v1/customers/{cid}", headers=analyst)
    assert after.status_code == 404 or not after.json()["memberships"]
    for url in urls:  # the store still reads, from every route
        assert client.get(url, headers=analyst).status_code in (200, 404)
