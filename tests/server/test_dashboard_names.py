"""One name for a segment everywhere: the dashboard calls a clustered segment by its persona name, as the
profile and the report do, with the id beside it (issue 14)."""

from __future__ import annotations

import json
import re

from .conftest import DATES, bearer, define

CLUSTER = {"kind": "cluster", "features": ["recency_days", "frequency", "monetary_total"], "k": 3, "random_state": 0}


def _page(client, token, path):
    r = client.get(path, headers={**bearer(token), "Accept": "text/html"})
    assert r.status_code == 200, r.text[:500]
    return r.text


def test_overview_segmentation_and_migration_pages_use_the_persona_names(shop, make_client, tokens):
    define(shop, "behaviour", CLUSTER)
    for d in DATES:
        shop.segment("behaviour", d)
    names = {p.segment: p.name for p in shop.personas("behaviour")}
    assert set(names) == {"cluster_1", "cluster_2", "cluster_3"} and all(n != s for s, n in names.items())

    client = make_client()
    overview = _page(client, tokens["viewer"], "/")
    series = [json.loads(m) for m in re.findall(r'<script type="application/json" id="sizes-\d+">(.*?)</script>',
                                                   overview, re.S)]
    shown = {r["segment"]: r["segment_name"] for rows in series for r in rows}
    assert {s: shown[s] for s in names} == names  # the chart's legend: persona names
    assert shown["VIP"] == "VIP"  # a name a person gave stays as it is

    page = _page(client, tokens["viewer"], "/segmentations/behaviour")
    for segment, name in names.items():
        assert re.search(rf">{re.escape(name)}</a>\s*<span class=\"tag\">{segment}</span>", page), (segment, name)

    migration = _page(client, tokens["viewer"], f"/segmentations/behaviour/migration?from={DATES[0]}&to={DATES[1]}")
    links = json.loads(re.search(r'<script type="application/json" id="links">(.*?)</script>', migration, re.S)[1])
    expected = {**names, "(not in base)": "(not in base)"}  # customers new at the later date keep their marker
    assert links and all(link["from_name"] == expected[link["from"]] and link["to_name"] == expected[link["to"]]
                         for link in links)
    rules_page = _page(client, tokens["viewer"], "/segmentations/value")
    assert '<span class="tag">VIP</span>' not in rules_page  # no id beside a segment whose name is its id
