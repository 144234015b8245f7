"""The dashboard's journeys page (issue 23): each segment's session paths as a Sankey, the same as the CLI's JSON."""

from __future__ import annotations

import json
import re

from .conftest import bearer


def _sources(html: str) -> dict[str, dict]:
    """The JSON each ``data-plot="paths"`` div draws, by its element id."""
    ids = re.findall(r'data-plot="paths" data-source="([^"]+)"', html)
    return {i: json.loads(re.search(rf'<script type="application/json" id="{i}">(.*?)</script>', html, re.S).group(1))
            for i in ids}


def test_every_segment_gets_a_sankey_of_its_paths(client, tokens, shop):
    r = client.get("/segmentations/value/journeys", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200, r.text
    expected = shop.journeys("value", length=4, top=10)
    drawn = _sources(r.text)
    with_links = [seg for seg, p in expected["paths"].items() if p["sankey"]["links"]]
    assert len(with_links) >= 2 and len(drawn) == len(with_links)
    # the figures are the workspace's, not a copy computed apart: the same nodes and links, segment by segment
    assert list(drawn.values()) == [expected["paths"][s]["sankey"] for s in with_links]
    top = expected["paths"][with_links[0]]["paths"][0]
    assert " › ".join(top["steps"]) in r.text
    assert "Journeys between segments" in r.text
    page = client.get("/segmentations/value", headers=bearer(tokens["viewer"])).text
    assert 'href="/segmentations/value/journeys"' in page


def test_one_segment_from_a_step(client, tokens, shop):
    r = client.get("/segmentations/value/journeys", params={"segment": "Active", "from": "web_visit", "length": 3},
                   headers=bearer(tokens["viewer"]))
    assert r.status_code == 200, r.text
    drawn = _sources(r.text)
    expected = shop.journeys("value", "Active", start="web_visit", length=3)["paths"]["Active"]["sankey"]
    assert list(drawn.values()) == [expected]
    assert all(label.startswith(("1. web_visit", "2. ", "3. ")) for label in expected["nodes"])
    assert r.text.count('class="card journey"') == 1


def test_bad_input_is_refused_and_a_token_is_needed(client, tokens):
    r = client.get("/segmentations/value/journeys", params={"length": 9}, headers=bearer(tokens["viewer"]))
    assert r.status_code == 422 and "2 to 5 steps" in r.text
    r = client.get("/segmentations/value/journeys", params={"from": "x" * 101}, headers=bearer(tokens["viewer"]))
    assert r.status_code == 422 and "at most 100 characters" in r.text
    assert client.get("/segmentations/nope/journeys", headers=bearer(tokens["viewer"])).status_code == 404
    assert client.get("/segmentations/value/journeys").status_code in (303, 401)


def test_paths_are_computed_once_until_the_events_change(client, tokens, shop, monkeypatch):
    """A page of paths takes half a minute at a million customers: a second view reads the first's result,
    and a new ingest of events (or other parameters) computes it again."""
    import pandas as pd

    from segmint.workspace import Workspace

    calls = []
    original = Workspace.journeys

    def counted(self, *args, **kwargs):
        calls.append((args, kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Workspace, "journeys", counted)

    def get(**params):
        return client.get("/segmentations/value/journeys", params=params, headers=bearer(tokens["viewer"]))

    first = get(length=3)
    assert first.status_code == 200 and len(calls) == 1
    assert get(length=3).text == first.text and len(calls) == 1
    get(length=4)
    assert len(calls) == 2
    someone = shop.members("value").to_pyarrow().to_pylist()[0]["customer_id"]
    events = shop.store.table("events").to_pyarrow().to_pandas()
    new = pd.DataFrame({"customer_id": [someone], "event": ["web_visit"],
                        "occurred_at": [events["occurred_at"].max() + pd.Timedelta(days=1)]})
    shop.ingest("events", new)
    get(length=3)
    assert len(calls) == 3
