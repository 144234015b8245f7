"""Segment names and customer ids that hold "/" can be looked up (a hybrid's segments are "VIP/cluster_1");
they got 404 "no route" (issue 15, Low)."""

from __future__ import annotations

from .conftest import DATES, bearer, define

SLASHED = {"kind": "rules", "segments": [{"name": "VIP/EU", "where": "monetary_total >= 1500"}], "else": "rest/other"}


def test_segments_and_customers_with_a_slash(shop, make_client, tokens):
    define(shop, "slashed", SLASHED)
    shop.segment("slashed", DATES[1])
    client = make_client()
    h = bearer(tokens["admin"])
    for segment in ("VIP%2FEU", "VIP/EU"):  # encoded or not, the path reaches the route
        page = client.get(f"/api/v1/segmentations/slashed/segments/{segment}/members",
                          params={"include_non_consented": "true"}, headers=h)
        assert page.status_code == 200, page.text
        assert page.json()["segment"] == "VIP/EU" and page.json()["items"]
        assert all(i["segment"] == "VIP/EU" for i in page.json()["items"])
        export = client.get(f"/api/v1/segmentations/slashed/segments/{segment}/export",
                            params={"format": "jsonl", "include_non_consented": "true"}, headers=h)
        assert export.status_code == 200 and export.text.count("\n") >= len(page.json()["items"])  # a page <= all
        card = client.get(f"/api/v1/segmentations/slashed/segments/{segment}", headers=h)
        assert card.status_code == 200 and card.json()["segment"] == "VIP/EU"
        html = client.get(f"/segmentations/slashed/segments/{segment}", headers={**h, "Accept": "text/html"})
        assert html.status_code == 200 and "VIP/EU" in html.text
    unknown = client.get("/api/v1/customers/A%2F1", headers=h)
    assert unknown.status_code == 404 and "'A/1'" in unknown.json()["error"]["message"]  # the route, not "no route"
