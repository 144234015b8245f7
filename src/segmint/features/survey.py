"""Survey scores: the latest answer of each customer to each question.

One column ``survey_<question>`` per question answered before ``as_of`` (the
question slugged as in :func:`segmint.features.mix.slugs`). The *latest* answer is
used, not the mean, because it is the customer's current opinion; ties at the same
instant take the larger answer, so the result is deterministic. A question is numeric
(float) when every one of its answers reads as a number, text otherwise.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from segmint.features.asof import Context
from segmint.features.mix import slugs

__all__ = ["features", "MAX_QUESTIONS"]

#: Most survey questions turned into columns (the most answered first).
MAX_QUESTIONS = 50


def features(ctx: Context) -> ir.Table | None:
    """Latest answer per customer and question, pivoted to one column per question."""
    if ctx.responses is None:
        ctx.skipped["survey"] = "no survey responses before as_of"
        return None
    r = ctx.responses.mutate(number=ctx.responses.answer.strip().try_cast("float64"))
    psycho = getattr(ctx.settings, "_psychographics", None)
    if psycho is not None and psycho.text_questions:  # free text becomes topics (features.topics), not a column
        r = r.filter(~r.question.isin(list(psycho.text_questions)))
    stats = (r.group_by("question")
             .aggregate(n=r.count(), text=(r.number.isnull()).cast("int64").sum())
             .order_by([ibis.desc("n"), "question"]).limit(MAX_QUESTIONS)
             .to_pyarrow().to_pylist())
    rank = ibis.row_number().over(group_by=[r.customer_id, r.question],
                                  order_by=[ibis.desc(r.answered_at), ibis.desc(r.answer)])
    latest = r.mutate(rank=rank)
    latest = latest.filter(latest.rank == 0)
    questions = [s["question"] for s in stats]
    aggs = {}
    for s, slug in zip(stats, slugs(questions)):
        value = latest.number if s["text"] == 0 else latest.answer
        aggs[f"survey_{slug}"] = value.max(where=latest.question == s["question"])
    return latest.group_by("customer_id").aggregate(**aggs)
