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
