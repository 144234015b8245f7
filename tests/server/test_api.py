"""The REST API over a small generated shop: reads, members and exports, previews, runs, errors."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from .conftest import DATES, bearer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")


def _consented(shop, segment: str) -> set[str]:
    rows = shop.store.con.con.execute(
        "SELECT m.customer_id FROM memberships m JOIN customers c USING (customer_id) "
        "WHERE m.segmentation = 'value' AND m.segment = ? AND m.as_of = TIMESTAMP '2025-12-01' "
        "AND c.marketing_consent", [segment]).fetchall()
    return {r[0] for r in rows}


def test_segmentations_and_history(client, tokens):
    h = bearer(tokens["viewer"])
    items = client.get("/api/v1/segmentations", headers=h).json()
    assert [i["name"] for i in items] == ["value"]
    assert client.get("/api/v1/segmentations/value", headers=h).json()["kind"] == "rules"
    hist = client.get("/api/v1/segmentations/value/history", headers=h).json()
    assert {r["as_of"][:10] for r in hist["series"]} == set(DATES)
    assert {r["segment"] for r in hist["series"]} == {"VIP", "Active", "Lapsed"}
    assert sum(r["customers"] for r in hist["series"] if r["as_of"].startswith(DATES[1])) > 0


def test_profile_scorecard_personas_and_segment_card(client, tokens):
    h = bearer(tokens["viewer"])
    prof = client.get("/api/v1/segmentations/value/profile", headers=h).json()
    assert {r["segment"] for r in prof["sizes"]} == {"VIP", "Active", "Lapsed"}
    card = client.get("/api/v1/segmentations/value/scorecard", headers=h).json()
    assert card["overall"] in ("pass", "warn", "fail")
    personas = client.get("/api/v1/segmentations/value/personas", headers=h).json()["personas"]
    assert {p["segment"] for p in personas} == {"VIP", "Active", "Lapsed"}
    seg = client.get("/api/v1/segmentations/value/segments/VIP", headers=h).json()
    assert seg["kpis"]["segment"] == "VIP" and seg["persona"]["segment"] == "VIP"
    assert seg["differentiators"] and all(d["segment"] == "VIP" for d in seg["differentiators"])


def test_migration_links_match_the_matrix(client, tokens):
    r = client.get("/api/v1/segmentations/value/migration", params={"from": DATES[0], "to": DATES[1]},
                   headers=bearer(tokens["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["links"] and all(link["customers"] > 0 for link in body["links"])
    assert sum(link["customers"] for link in body["links"]) >= body["customers"] - 1
    assert "moved" not in body  # no per-customer table in a summary


def test_customer_why(client, tokens, shop):
    cid = sorted(_consented(shop, "VIP"))[0]
    r = client.get(f"/api/v1/customers/{cid}", params={"segmentation": "value"}, headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    m = r.json()["memberships"][0]
    assert m["segments"] == ["VIP"] and m["rules"][0]["held"] is True
    missing = client.get("/api/v1/customers/NOPE", headers=bearer(tokens["analyst"]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_preview_rule(client, tokens):
    r = client.post("/api/v1/rules/preview", json={"where": "recency_days <= 30 and monetary_total > 200"},
                    headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    p = r.json()
    assert 0 < p["size"] <= p["base"] and len(p["conditions"]) == 2
    assert p["conditions"][-1]["kept_cumulative"] == p["size"]
    bad = client.post("/api/v1/rules/preview", json={"where": "recency_dayz <= 30"}, headers=bearer(tokens["analyst"]))
    assert bad.status_code == 422
    assert "recency_days" in bad.json()["error"]["message"]  # did you mean


def test_members_pages_leave_out_non_consented(client, tokens, shop):
    h = bearer(tokens["analyst"])
    seen, cursor = [], None
    while True:
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/segmentations/value/segments/Lapsed/members", params=params, headers=h).json()
        seen += [i["customer_id"] for i in page["items"]]
        assert all(i["marketing_consent"] for i in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(seen) == _consented(shop, "Lapsed")
    audit = client.get("/api/v1/audit", params={"action": "members"}, headers=bearer(tokens["admin"])).json()
    assert sum(e["rows"] for e in audit) == len(seen) and {e["who"] for e in audit} == {"t-analyst"}


def test_include_non_consented_is_admin_only(client, tokens, shop):
    url = "/api/v1/segmentations/value/segments/Lapsed/members"
    params = {"include_non_consented": "true", "limit": 1000}
    denied = client.get(url, params=params, headers=bearer(tokens["analyst"]))
    assert denied.status_code == 403 and denied.json()["error"]["details"]["required_role"] == "admin"
    everyone = client.get(url, params=params, headers=bearer(tokens["admin"])).json()
    assert everyone["count"] > len(_consented(shop, "Lapsed"))
    assert any(not i["marketing_consent"] for i in everyone["items"])


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_streams_and_is_audited(client, tokens, shop, fmt):
    r = client.get("/api/v1/segmentations/value/segments/VIP/export", params={"format": fmt},
                   headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows[0].keys() >= {"customer_id", "segment", "marketing_consent"}
    else:
        rows = [json.loads(line) for line in r.text.splitlines()]
    ids = {row["customer_id"] for row in rows}
    assert ids == _consented(shop, "VIP")
    audit = client.get("/api/v1/audit", params={"action": "export"}, headers=bearer(tokens["admin"])).json()
    assert audit[0]["who"] == "t-analyst" and audit[0]["rows"] == len(ids)
    assert audit[0]["details"]["format"] == fmt and audit[0]["details"]["completed"] is True


def test_run_segmentation_as_a_background_job(client, tokens):
    h = bearer(tokens["analyst"])
    r = client.post("/api/v1/segmentations/value/runs", json={"as_of": "2025-09-01"}, headers=h)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    for _ in range(600):
        job = client.get(f"/api/v1/jobs/{job_id}", headers=h).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    assert job["result"]["as_of"] == "2025-09-01" and sum(job["result"]["sizes"].values()) > 0
    hist = client.get("/api/v1/segmentations/value/history", headers=h).json()
    assert any(r["as_of"].startswith("2025-09-01") for r in hist["series"])
    assert client.get("/api/v1/jobs", headers=h).json()[0]["job_id"] == job_id


def test_unknown_segmentation_is_404_before_queueing(client, tokens):
    r = client.post("/api/v1/segmentations/valeu/runs", headers=bearer(tokens["analyst"]))
    assert r.status_code == 404
    assert "did you mean 'value'" in r.json()["error"]["message"]
