"""Topic features from free-text answers (``psychographics.text_questions``).

For each text question, every answer before ``as_of`` gets a topic from the question's topic model
(:mod:`segmint.text.topics`): the one stored by ``segmint topics QUESTION`` (table
:data:`TOPICS_TABLE`), or, when none is stored, one fitted on the spot with the same seed (so the
same answers give the same topics). Per customer:

* ``topic_<question>``: their main topic, as ``t<n>: <label>`` (the most answers; ties: the lower number);
* ``topic_share_<question>_t<n>``: the share of their answers in topic ``n``.

Embedding runs in memory in batches; the per-customer result joins the snapshot as a memtable, as
the predictive family's does.
"""

from __future__ import annotations

import json
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from segmint.features.asof import Context
from segmint.features.mix import slugs

__all__ = ["features", "TOPICS_TABLE", "stored_model", "answers_of", "topic_name"]

TOPICS_TABLE = "text_topics"


def topic_name(topic: dict[str, Any]) -> str:
    """The category value of a topic: ``t<n>: <label>``."""
    return f"t{topic['topic']}: {topic['label']}"


def answers_of(responses: ir.Table, question: str) -> pd.DataFrame:
    """``customer_id``, ``answer`` of every non-empty answer to ``question`` (in memory)."""
    r = responses.filter((responses.question == question) & (responses.answer.strip().length() > 0))
    return r.select("customer_id", "answer").to_pyarrow().to_pandas()


def stored_model(con, question: str) -> dict[str, Any] | None:
    """The latest topic model stored for ``question`` on the connection, or None."""
    if TOPICS_TABLE not in con.list_tables():
        return None
    t = con.table(TOPICS_TABLE)
    rows = (t.filter(t.question == question).order_by(ibis.desc("fitted_at")).limit(1)
            .select("model").to_pyarrow().to_pylist())
    return json.loads(rows[0]["model"]) if rows else None


def features(ctx: Context) -> ir.Table | None:
    """Main topic and topic shares per customer and text question, or None without text questions."""
    from segmint.text.topics import assign, fit_topics

    cfg = getattr(ctx.settings, "_psychographics", None)
    if cfg is None or not cfg.text_questions:
        return None
    if ctx.responses is None:
        ctx.skipped["topics"] = "no survey responses before as_of"
        return None
    try:
        con = ibis.get_backend(ctx.responses)
    except Exception:  # noqa: BLE001 - an unbound table: no stored models
        con = None
    frames = []
    for question, slug in zip(cfg.text_questions, slugs(list(cfg.text_questions))):
        answers = answers_of(ctx.responses, question)
        if len(answers) < 10:
            ctx.skipped[f"topic_{slug}"] = f"{len(answers)} text answers to {question!r} before as_of (10 needed)"
            continue
        model = stored_model(con, question) if con is not None else None
        if model is None:
            model = fit_topics(answers.answer.tolist(), question, cfg.embedder, cfg.max_topics)
        answers["topic"] = assign(model, answers.answer.tolist())
        counts = pd.crosstab(answers.customer_id, answers.topic)
        numbers = [t["topic"] for t in model["topics"]]
        counts = counts.reindex(columns=numbers, fill_value=0)
        shares = counts.div(counts.sum(axis=1), axis=0)
        names = {t["topic"]: topic_name(t) for t in model["topics"]}
        main = counts.to_numpy().argmax(axis=1)  # the first maximum: the lower topic number
        frame = pd.DataFrame({f"topic_{slug}": [names[numbers[i]] for i in main]}, index=counts.index)
        for n in numbers:
            frame[f"topic_share_{slug}_t{n}"] = shares[n].astype(np.float64)
        frames.append(frame)
    if not frames:
        return None
    joined = pd.concat(frames, axis=1).rename_axis("customer_id").reset_index()
    joined["customer_id"] = joined["customer_id"].astype(str)
    return ibis.memtable(joined)
