"""Topics of free-text answers: embed, cluster with k chosen by evidence, label from the top terms.

:func:`fit_topics` embeds the answers (:mod:`segmint.text.embed`), then fits k-means on the
L2-normalised embeddings (cosine geometry) of the *distinct* answers (a stock answer repeated a thousand
times must not become a topic of its own; at most :data:`SAMPLE` of them, a seeded sample beyond) for every
``k`` from 2 to ``max_topics``, and chooses ``k`` by evidence with the rule cluster segmentations use
(:func:`segmint.segment.kselect.choose_k`): a **stability gate** first (the mean adjusted Rand index between
k-means fitted on :data:`N_BOOTSTRAP` bootstrap resamples of the answers, compared on the same reference
answers, at least 0.8: a ``k`` whose topics change from resample to resample is noise), then the best mean
**silhouette** (cosine) among the stable ``k``, the smaller ``k`` when the silhouettes are within 0.02 (no
Gaussian-mixture BIC here: full covariances in 64 to 256 dimensions are not estimable from a few thousand
answers). The table of both criteria per ``k`` and the sentence that says why are kept in the model
(``selection``, ``k_reason``). Each topic is labelled by its top terms by class-based TF-IDF (a term's frequency in the topic's answers
times ``log(1 + answers per topic / the term's frequency over all topics)``), with its size and the
answers nearest its centre as examples.

The fitted model is a JSON document: the embedder (WordLlama's version and weights hash, or the
TF-IDF + SVD parameters), the centres and the labels; :func:`assign` applies it to any answers.

Examples
--------
>>> answers = ["price too high, I wait for a price cut", "high price, I buy at sale price", "sale price please",
...            "discount price and sales"] * 5 + ["late delivery", "delivery arrived late and damaged",
...            "slow delivery again", "delivery late, courier lost it"] * 5
>>> model = fit_topics(answers, question="feedback", kind="tfidf", n_topics=2)
>>> model["k"], sorted(t["size"] for t in model["topics"])
(2, [20, 20])
>>> assign(model, ["late delivery", "sales and discounts"]).tolist() == [
...     next(t["topic"] for t in model["topics"] if "late" in t["terms"]),
...     next(t["topic"] for t in model["topics"] if "sales" in t["terms"] or "discount" in t["terms"])]
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from segmint.errors import ConfigError, DataError
from segmint.segment.kselect import bootstrap_stability, choose_k
from segmint.text.embed import embedder, from_dict

__all__ = ["fit_topics", "assign", "MODEL_FORMAT", "SAMPLE", "N_BOOTSTRAP"]

MODEL_FORMAT = 1
#: Distinct answers the k selection and the centres are fitted on (a seeded sample beyond it).
SAMPLE = 20_000
_SILHOUETTE_ROWS = 3_000
#: Bootstrap resamples per ``k`` for the stability gate, and the answers in each.
N_BOOTSTRAP = 5
_BOOTSTRAP_ROWS = 2_000


def _top_terms(texts: Sequence[str], labels: np.ndarray, k: int, n_terms: int = 5) -> list[list[str]]:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(stop_words="english", min_df=1, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    try:
        X = vec.fit_transform(texts)
    except ValueError:  # nothing but stop words
        return [[] for _ in range(k)]
    terms = np.asarray(vec.get_feature_names_out())
    per_topic = np.vstack([np.asarray(X[labels == j].sum(axis=0)).ravel() for j in range(k)]).astype(float)
    tf = per_topic / np.maximum(per_topic.sum(axis=1, keepdims=True), 1)
    avg = per_topic.sum() / k
    idf = np.log(1 + avg / np.maximum(per_topic.sum(axis=0), 1))
    score = tf * idf
    return [[str(terms[i]) for i in np.argsort(-score[j])[:n_terms] if score[j, i] > 0] for j in range(k)]


def _kmeans_model(k: int, seed: int, n_init: int = 2):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=n_init, random_state=seed)


def _kmeans(X: np.ndarray, k: int, seed: int):
    return _kmeans_model(k, seed, n_init=4).fit(X)


def fit_topics(texts: Sequence[str], question: str = "", kind: str = "auto", max_topics: int = 8,
               n_topics: int | None = None, random_state: int = 0, n_examples: int = 3) -> dict[str, Any]:
    """Cluster answers into topics; returns the model document (see the module notes).

    Raises
    ------
    DataError
        Fewer than 10 non-empty answers.
    """
    from sklearn.metrics import silhouette_score

    texts = [t for t in (str(x).strip() for x in texts if x is not None) if t]
    if len(texts) < 10:
        raise DataError(f"question {question!r} has {len(texts)} non-empty text answers; topics need at least 10")
    if max_topics < 2:
        raise ConfigError(f"max_topics must be at least 2, got {max_topics}")
    rng = np.random.default_rng(random_state)
    # Topics are fitted on the distinct answers: a stock answer given a thousand times ("ok", a template)
    # would otherwise be a dense point of its own, and the silhouette would reward one topic per stock answer.
    distinct, counts = np.unique(np.asarray(texts, dtype=object), return_counts=True)
    if len(distinct) > SAMPLE:
        keep = np.sort(rng.choice(len(distinct), SAMPLE, replace=False))
        distinct, counts = distinct[keep], counts[keep]
    sample = [str(t) for t in distinct]
    emb = embedder(kind).fit(texts if len(texts) <= 5 * SAMPLE else sample)
    X = emb.embed(sample)
    sil_rows = rng.choice(len(X), min(_SILHOUETTE_ROWS, len(X)), replace=False)
    table = []
    fits = {}
    candidates = [int(n_topics)] if n_topics else list(range(2, min(max_topics, len(set(sample)) - 1) + 1))
    if not candidates:
        raise DataError(f"question {question!r} has too few distinct answers for topics")
    # the same resamples and reference answers for every k (common random numbers): differences between k
    # are not sampling noise
    resamples = [] if n_topics else [rng.choice(len(X), min(_BOOTSTRAP_ROWS, len(X)), replace=True)
                                     for _ in range(N_BOOTSTRAP)]
    for k in candidates:
        km = _kmeans(X, k, random_state)
        labels = km.labels_
        sil = float(silhouette_score(X[sil_rows], labels[sil_rows], metric="cosine")) \
            if len(set(labels[sil_rows])) > 1 else -1.0
        row = {"k": k, "silhouette": round(sil, 4)}
        if resamples:
            stability, _ = bootstrap_stability(X, lambda b, k=k: _kmeans_model(k, random_state + 1 + b), resamples,
                                               sil_rows)
            row["stability"] = round(stability, 4)
        table.append(row)
        fits[k] = km
    if n_topics:
        chosen, reason = int(n_topics), f"k={int(n_topics)} was fixed (--topics), not chosen"
    else:
        chosen, reason, _ = choose_k(table)
    km = fits[chosen]
    centres = km.cluster_centers_ / np.maximum(np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12)
    labels = np.argmax(X @ centres.T, axis=1)
    terms = _top_terms(sample, labels, chosen)
    sizes = np.bincount(labels, weights=counts, minlength=chosen)  # answers, repeats counted
    order = np.argsort(-sizes, kind="stable")  # topic 1 is the largest
    topics = []
    for rank, j in enumerate(order, start=1):
        members = np.flatnonzero(labels == j)
        near = members[np.argsort(-(X[members] @ centres[j]))[:n_examples]]
        topics.append({"topic": rank, "label": ", ".join(terms[j][:3]) or f"topic {rank}", "terms": terms[j],
                       "size": int(sizes[j]), "share": round(float(sizes[j] / counts.sum()), 4),
                       "distinct_answers": int(len(members)), "examples": [sample[i] for i in near]})
    return {"format": MODEL_FORMAT, "question": question, "embedder": emb.to_dict(), "k": chosen,
            "selection": table, "k_reason": reason, "answers": len(texts), "distinct_answers": len(sample),
            "fitted_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds"),
            "centres": np.round(centres[order], 6).tolist(), "topics": topics}


def assign(model: dict[str, Any], texts: Sequence[str]) -> np.ndarray:
    """The topic number (1..k) of each answer: its nearest centre by cosine similarity."""
    if model.get("format") != MODEL_FORMAT:
        raise DataError(f"topic model format {model.get('format')!r} is not {MODEL_FORMAT}; fit it again")
    emb = from_dict(model["embedder"])
    centres = np.asarray(model["centres"], dtype=np.float32)
    texts = [str(t) if t is not None else "" for t in texts]
    out = np.empty(len(texts), dtype=np.int64)
    step = 8192
    for i in range(0, len(texts), step):  # bounded memory: one batch of embeddings at a time
        out[i:i + step] = np.argmax(emb.embed(texts[i:i + step]) @ centres.T, axis=1) + 1
    return out
