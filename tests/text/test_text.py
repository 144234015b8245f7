"""Free text and scales on small explicit data: masking at ingest, embedders, topic models, scale scores."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from segmint.errors import ConfigError, DataError
from segmint.text.mask import mask


@pytest.mark.parametrize("text, expected", [
    ("reach me at ann.lee+shop@example.co.uk please", "reach me at [email] please"),
    ("call 07700 900123 or +44 (20) 7946-0958", "call [phone] or [phone]"),
    ("Regards, Peter Parker", "Regards, [name]"),
    ("my name is Olga and the parcel was late", "my name is [name] and the parcel was late"),
    ("Dr. Watson ordered twice", "Dr. [name] ordered twice"),
    # what must stay: dates, prices, order numbers, ordinary sentences
    ("ordered 2024-01-02 for 1,299.99", "ordered 2024-01-02 for 1,299.99"),
    ("I am Happy with order 123456", "I am Happy with order 123456"),
    ("Thanks for the fast delivery", "Thanks for the fast delivery"),
])
def test_mask(text, expected):
    assert mask(text) == expected


def test_free_text_is_masked_at_ingest_before_storing(ws):
    answers = pd.DataFrame({
        "customer_id": ["C1", "C1", "C2", "C3"],
        "answered_at": ["2024-01-01"] * 4,
        "question": ["nps", "feedback", "feedback", "feedback"],
        "answer": ["9", "Late parcel. Mail me: bob.smith@example.com", "Call 07700 900456 today. Cheers, Anna Bell",
                   "Great prices"],
    })
    report = ws.ingest("responses", answers)
    assert report.pii["answer"] == "masked" and report.rows_accepted == 4
    stored = ws.store.table("responses").order_by(["customer_id", "question"]).to_pyarrow().to_pandas()
    assert stored.answer.tolist() == ["Late parcel. Mail me: [email]", "9", "Call [phone] today. Cheers, [name]",
                                      "Great prices"]
    text = " ".join(stored.answer)
    assert "bob.smith" not in text and "07700" not in text and "Anna" not in text


def test_tfidf_embedder_round_trips_as_json():
    import json

    from segmint.text.embed import TfidfSvd

    texts = ["cheap sale deals", "discount price offer", "late parcel delivery", "courier lost parcel"] * 3
    e = TfidfSvd(n_components=3).fit(texts)
    again = TfidfSvd.from_dict(json.loads(json.dumps(e.to_dict())))
    assert (abs(again.embed(texts) - e.embed(texts)) < 1e-5).all()
    with pytest.raises(ConfigError, match="not fitted"):
        TfidfSvd().embed(["x"])


def test_wordllama_weights_hash_is_checked(monkeypatch):
    pytest.importorskip("wordllama")
    from segmint.text import embed

    vectors = embed.WordLlamaEmbedder().embed(["fast delivery", "quick shipping", "broken item"])
    assert vectors.shape == (3, 256)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # meaning, not spelling
    monkeypatch.setattr(embed, "_LOADED", {})
    monkeypatch.setattr(embed, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(DataError, match="SHA-256"):
        embed.WordLlamaEmbedder()


def test_topic_model_assigns_its_own_answers_as_fitted():
    from segmint.text.topics import assign, fit_topics

    answers = [f"{w} price discount sale offer" for w in ("great", "good", "nice", "ok", "fine")] * 3 + \
              [f"{w} parcel courier late delivery" for w in ("very", "so", "too", "quite", "rather")] * 3
    model = fit_topics(answers, "q", kind="tfidf", max_topics=4)
    labels = assign(model, answers)
    assert set(labels[:15]).isdisjoint(set(labels[15:]))  # the two themes never share a topic
    assert sum(t["size"] for t in model["topics"]) == len(answers)
    with pytest.raises(DataError, match="at least 10"):
        fit_topics(["a", "b"], "q", kind="tfidf")


def test_scale_scores_reverse_coding_and_half_rule(ws):
    from segmint.config import Config
    from segmint.features.asof import make_context
    from segmint.features.scales import features

    rows = [("C1", "q1", "5"), ("C1", "q2", "4"), ("C1", "q3", "1"),  # q3 reversed: 5 -> mean 14/3
            ("C2", "q1", "2"), ("C2", "q3", "5"),  # 2 of 3 answered: (2 + 1) / 2
            ("C3", "q2", "3")]  # 1 of 3: below half, no score
    ws.ingest("orders", pd.DataFrame({"order_id": ["O1"], "customer_id": ["C1"], "ordered_at": ["2024-02-01"],
                                      "amount": ["10"]}))
    ws.ingest("responses", pd.DataFrame(rows, columns=["customer_id", "question", "answer"]).assign(
        answered_at="2024-01-01"))
    cfg = Config.parse({"psychographics": {"scales": {"price": ["q1", "q2", "q3r"]}}})
    ctx = make_context(ws.store, "2024-03-01", cfg.features)
    got = features(ctx).to_pyarrow().to_pandas().set_index("customer_id")["scale_price"]
    assert got["C1"] == pytest.approx(14 / 3) and got["C2"] == pytest.approx(1.5) and pd.isna(got["C3"])
    bad = Config.parse({"psychographics": {"scales": {"price": ["q1", "qq9"]}}})
    with pytest.raises(ConfigError, match="qq9"):
        features(make_context(ws.store, "2024-03-01", bad.features))


@pytest.mark.skipif(importlib.util.find_spec("wordllama") is None, reason="needs segmint[text] (wordllama)")
def test_topic_k_is_chosen_by_stability_then_silhouette():
    """The generator's four planted themes (12 sentences each, with typo variants): the silhouette alone
    rewards splitting them further, the bootstrap stability gate (the segmentations' rule) keeps four."""
    from collections import Counter

    from segmint.datasets.psycho import _FIRST, _WORDS, ATTITUDES
    from segmint.text.topics import assign, fit_topics

    answers = _WORDS[:_FIRST["_pii"]]
    theme = [next(a for a in reversed(ATTITUDES) if i >= _FIRST[a]) for i in range(len(answers))]
    model = fit_topics(answers, "feedback", kind="wordllama", max_topics=8)
    table = {r["k"]: r for r in model["selection"]}
    assert sorted(table) == list(range(2, 9)) and all(r["stability"] is not None for r in table.values())
    assert model["k"] == 4 and "silhouette" in model["k_reason"]
    assert max(table, key=lambda k: table[k]["silhouette"]) > 4  # the silhouette alone would have split further
    assert table[4]["stability"] > table[8]["stability"]
    topics = assign(model, answers)
    purity = sum(Counter(t for t, top in zip(theme, topics) if top == j).most_common(1)[0][1]
                 for j in set(topics)) / len(answers)
    assert purity >= 0.7


def test_fixed_topic_count_is_not_chosen():
    from segmint.text.topics import fit_topics

    answers = [f"{w} price discount sale" for w in ("great", "good", "nice", "ok", "fine")] * 3 + \
              [f"{w} parcel courier late" for w in ("very", "so", "too", "quite", "rather")] * 3
    model = fit_topics(answers, "q", kind="tfidf", n_topics=2)
    assert model["k"] == 2 and model["selection"] == [{"k": 2, "silhouette": model["selection"][0]["silhouette"]}]
    assert "fixed" in model["k_reason"]
