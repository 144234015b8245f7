"""``segmint funnel``, ``journeys``, ``scales``, ``topics`` and ``features --list`` as a user runs them (issue 23)."""

from __future__ import annotations

import json

import pytest
import yaml

from segmint.datasets.psycho import SCALES, TEXT_QUESTION

DATES = ("2025-06-01", "2025-12-01")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """300 generated customers with events and survey answers; `value` run on two dates; scales configured."""
    from segmint.datasets import make_shop
    from segmint.workspace import Workspace

    mp = pytest.MonkeyPatch()
    mp.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    path = tmp_path_factory.mktemp("journeys") / "shop"
    Workspace.init(path).close()
    doc = yaml.safe_load((path / "segmint.yaml").read_text())
    doc["segmentations"] = {"value": {"kind": "rules", "segments": [
        {"name": "Active", "where": "recency_days <= 60"}], "else": "Lapsed"}}
    # the planted scales, and one that mixes three attitudes: its alpha must be flagged
    doc["psychographics"] = {"scales": {**SCALES, "mixed": ["price_1", "quality_2", "service_3"]},
                             "text_questions": [TEXT_QUESTION], "embedder": "tfidf"}
    (path / "segmint.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    ws = Workspace.open(path)
    data = make_shop(300, seed=5)
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, getattr(data, table))
    for d in DATES:
        ws.segment("value", d)
    ws.close()
    yield path
    mp.undo()


@pytest.fixture
def run(segmint_cli, shop):
    """The CLI in this process, on the shop's workspace."""
    return lambda *args: segmint_cli(*args, "-w", str(shop))


def test_funnel_json_per_segment(run):
    code, out, err = run("funnel", "--steps", "web_visit,email_click,order", "--within", "14d", "--order", "strict",
                         "--by", "value", "--json")
    assert code == 0, err
    f = json.loads(out)
    assert set(f) == {"steps", "order", "within", "within_seconds", "by", "overall", "segments"}
    assert (f["order"], f["within"], f["within_seconds"], f["by"]) == ("strict", "14d", 14 * 86400.0, "value")
    assert set(f["segments"]) == {"Active", "Lapsed"}
    for rows in [f["overall"], *f["segments"].values()]:
        assert [r["step"] for r in rows] == ["web_visit", "email_click", "order"]
        assert set(rows[0]) == {"step", "customers", "conversion", "conversion_low", "conversion_high", "from_previous",
                                "from_previous_low", "from_previous_high", "drop_off", "median_hours_from_previous"}
        counts = [r["customers"] for r in rows]
        assert counts == sorted(counts, reverse=True) and counts[0] > 0
        assert all(r["drop_off"] == a - b for r, a, b in zip(rows[1:], counts, counts[1:]))
        for r in rows:
            if r["conversion"] is not None:
                assert r["conversion_low"] <= r["conversion"] <= r["conversion_high"]
    # the segments split the customers who entered the funnel (those who joined after the run are in no segment)
    entered = sum(rows[0]["customers"] for rows in f["segments"].values())
    assert 0.9 * f["overall"][0]["customers"] <= entered <= f["overall"][0]["customers"]


def test_funnel_table_and_mistakes(run):
    code, out, _ = run("funnel", "--steps", "email_open,email_click,order")
    assert code == 0 and "email_click" in out and "95% CI" in out and "within 30d" in out
    code, _, err = run("funnel", "--steps", "web_visit,email_clik")
    assert code == 1 and "did you mean 'email_click'" in err
    code, _, err = run("funnel", "--steps", "web_visit,order", "--within", "soon")
    assert code == 1 and "30min, 12h, 14d or 2w" in err
    code, _, err = run("funnel", "--steps", "web_visit,order", "--order", "loose")
    assert code == 1 and "strict, ordered, any" in err


def test_journeys_json_one_segment_from_a_step(run):
    code, out, err = run("journeys", "value", "--segment", "Active", "--from", "web_visit", "--length", "3",
                         "--top", "4", "--json")
    assert code == 0, err
    j = json.loads(out)
    assert set(j) == {"segmentation", "segment", "start", "end", "length", "session_gap_minutes", "paths",
                      "segment_journeys"}
    assert (j["segment"], j["start"], j["length"], j["session_gap_minutes"]) == ("Active", "web_visit", 3, 30)
    p = j["paths"]["Active"]
    assert list(j["paths"]) == ["Active"] and set(p) == {"sessions", "customers", "paths", "sankey"}
    assert 0 < len(p["paths"]) <= 4 and all(r["steps"][0] == "web_visit" and len(r["steps"]) <= 3 for r in p["paths"])
    assert sum(r["sessions"] for r in p["paths"]) <= p["sessions"]
    assert set(p["sankey"]) == {"nodes", "links"} and all(set(lk) == {"source", "target", "value"}
                                                          for lk in p["sankey"]["links"])
    sj = j["segment_journeys"]
    assert sj["runs"] == list(DATES) and sj["customers"] > 0
    assert {"segments", "customers", "share"} == set(sj["paths"][0])
    assert {t["segment"] for t in sj["time_in_segment"]} == {"Active", "Lapsed"}
    code, out, _ = run("journeys", "value", "--to", "order", "--length", "2")
    assert code == 0 and "value = Active" in out and "Journeys between segments over 2 run(s)" in out
    code, _, err = run("journeys", "value", "--from", "web_vist")
    assert code == 1 and "did you mean 'web_visit'" in err


def test_scales_and_the_feature_docs_give_alpha(run):
    code, out, err = run("scales", "--json")
    assert code == 0, err
    by = {s["scale"]: s for s in json.loads(out)["scales"]}
    assert by["price"]["alpha"] >= 0.7 and by["price"]["warning"] is None
    assert by["mixed"]["alpha"] < 0.7 and "below 0.7" in by["mixed"]["warning"]
    code, out, err = run("features", "--list", "--json")
    assert code == 0, err
    docs = {f["name"]: f for f in json.loads(out)["features"]}
    assert "recency_days" in docs and "scale_{scale}" in docs
    assert docs["scale_price"]["alpha"] == by["price"]["alpha"] and docs["scale_price"]["alpha_warning"] is None
    assert f"Cronbach's alpha {by['price']['alpha']:.2f}" in docs["scale_price"]["description"]
    assert docs["scale_mixed"]["alpha_warning"] == by["mixed"]["warning"]
    code, out, err = run("features", "--list")
    assert code == 0 and "scale_mixed" in out and "warning: scale_mixed" in err


def test_topics_json(run):
    code, out, err = run("topics", TEXT_QUESTION, "--topics", "3", "--json")
    assert code == 0, err
    t = json.loads(out)
    assert {"question", "embedder", "k", "selection", "k_reason", "answers", "distinct_answers", "fitted_at",
            "topics", "text_question"} <= set(t)
    assert t["k"] == 3 and t["text_question"] is True and t["embedder"]["kind"] == "tfidf"
    assert sum(x["size"] for x in t["topics"]) == t["answers"]
    assert all(x["label"] and x["examples"] for x in t["topics"])
    code, _, err = run("topics", "feedbak")
    assert code == 1 and "feedback" in err
