"""Psychographics end to end on the generated shop: scales, factor analysis, topics, features, segmentation.

The generator plants four attitudes (price, quality, service, unhappy) in the Likert items and the themes of
the free-text feedback (segmint.datasets.psycho); segmint must find them again.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmint.datasets import make_shop
from segmint.datasets.psycho import ATTITUDE_OF, SCALES, SENTENCES, TEXT_QUESTION
from segmint.workspace import Workspace

pytestmark = pytest.mark.slow

_BASE = {s: theme for theme, sentences in SENTENCES.items() for s in sentences}


def theme_of(answer: str) -> str:
    """The theme of a generated answer (typos and masked personal data aside): its closest planted sentence."""
    best = difflib.get_close_matches(answer[:50], [s[:50] for s in _BASE], n=1, cutoff=0)[0]
    return next(theme for s, theme in _BASE.items() if s[:50] == best)


@pytest.fixture(scope="module")
def psycho_ws(tmp_path_factory):
    import os

    os.environ.setdefault("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    shop = make_shop(2000, seed=5)
    path = tmp_path_factory.mktemp("psycho") / "shop"
    ws = Workspace.init(path)
    for table in ("customers", "orders", "responses"):
        ws.ingest(table, getattr(shop, table))
    ws.close()
    scales = "".join(f"    {name}: [{', '.join(items)}]\n" for name, items in SCALES.items())
    features = "[scale_price, scale_quality, scale_service, " + ", ".join(
        f"topic_share_feedback_t{i}" for i in range(1, 5)) + "]"
    text = (path / "segmint.yaml").read_text().replace("segmentations: {}", "")
    text += (f"\npsychographics:\n  scales:\n{scales}  text_questions: [{TEXT_QUESTION}]\n"
             "segmentations:\n  attitudes:\n    kind: hybrid\n    segments:\n      - name: Respondents\n"
             f"        where: scale_price >= 1\n        cluster:\n          features: {features}\n          k: 4\n"
             # scores on 1..5 and shares in 0..1 are comparable as they are; robust scaling would blow the
             # one-hot-like shares up to several units each
             "          preprocessing: {scaling: null, log_skewed: false}\n"
             "    else: No survey\n")
    (path / "segmint.yaml").write_text(text)
    ws = Workspace.open(path)
    yield ws, shop
    ws.close()


def test_scales_are_reliable_and_a_bad_one_is_flagged(psycho_ws):
    ws, _ = psycho_ws
    report = {s["scale"]: s for s in ws.scales(suggest=False)["scales"]}
    for name in SCALES:
        assert report[name]["alpha"] >= 0.8, report[name]
        assert report[name]["warning"] is None
    from segmint.features.scales import item_frame, reliability

    mixed = reliability(item_frame(ws.store.table("responses")), {"mixed": ["price_1", "quality_1", "service_2"]})
    assert mixed[0]["alpha"] < 0.7 and "below 0.7" in mixed[0]["warning"]


def test_factor_analysis_suggests_the_planted_scales(psycho_ws):
    ws, _ = psycho_ws
    suggested = ws.scales()["suggested"]
    found = [set(s["items"]) for s in suggested["scales"]]
    for items in SCALES.values():  # each planted scale (reverse-coded item included) falls in one factor
        assert any(set(items) <= f for f in found), (items, found)


def test_topics_are_pure_and_the_segmentation_recovers_attitudes(psycho_ws):
    ws, shop = psycho_ws
    model = ws.topics(TEXT_QUESTION, n_topics=4)
    assert model["k"] == 4 and sum(t["size"] for t in model["topics"]) == model["answers"]
    assert [r["k"] for r in model["selection"]] == [4]
    from segmint.features.topics import stored_model
    from segmint.text.topics import assign

    answers = ws.store.table("responses").filter(lambda r: r.question == TEXT_QUESTION).to_pyarrow().to_pandas()
    assert not answers.answer.str.contains("@").any()  # personal data was masked at ingest
    answers["topic"] = assign(stored_model(ws.store.con, TEXT_QUESTION), answers.answer.tolist())
    answers["theme"] = answers.answer.map(theme_of)
    table = pd.crosstab(answers.topic, answers.theme)
    purity = table.max(axis=1).sum() / table.to_numpy().sum()
    assert purity >= 0.7, table

    result = ws.segment("attitudes")
    labels = result.labels[result.labels != "No survey"]
    truth = shop.ground_truth.set_index("customer_id").persona.map(ATTITUDE_OF).loc[labels.index]
    ari = adjusted_rand_score(truth, labels)
    assert ari >= 0.5, pd.crosstab(labels, truth)


def test_topic_features_and_k_by_evidence(psycho_ws):
    ws, _ = psycho_ws
    model = ws.topics(TEXT_QUESTION)  # k by evidence over 2..max_topics: stability gate, then silhouette
    assert [r["k"] for r in model["selection"]] == list(range(2, 9)) and 2 <= model["k"] <= 8
    assert all(-1 <= r["stability"] <= 1 for r in model["selection"])  # a number (an ARI), never NaN
    assert model["k_reason"].startswith(f"k={model['k']} ")
    frame = ws.features(store=False).set_index("customer_id")
    shares = frame.filter(like="topic_share_feedback_t")
    assert shares.shape[1] == model["k"]
    answered = shares.notna().all(axis=1)
    assert np.allclose(shares[answered].sum(axis=1), 1.0)
    assert frame.loc[answered, "topic_feedback"].str.match(r"^t\d+: ").all()
    assert frame["scale_price"].between(1, 5).all() or frame["scale_price"].dropna().between(1, 5).all()
