"""Survey scales: questions grouped into attitudes (``psychographics.scales``), scored per customer.

A scale is a list of questions answered on the same range (``psychographics.scale_range``, 1 to 5
by default). An item written with a trailing ``r`` (``q3r``) is question ``q3`` reverse-coded
(``lo + hi - answer``), unless a question named ``q3r`` exists. Each customer's score
``scale_<name>`` is the mean of the latest answers to the scale's items, reverse-coded where
asked, when at least half of the items are answered (null otherwise). Computed in the engine.

:func:`reliability` gives Cronbach's alpha of each scale (on the customers who answered every
item), with a warning below 0.7; :func:`suggest_scales` runs an exploratory factor analysis
(scikit-learn's ``FactorAnalysis`` with varimax rotation, the number of factors by Kaiser's
rule: eigenvalues of the items' correlation matrix above 1) and proposes scales from the loadings.

Examples
--------
>>> resolve_items(["q1", "q2", "q3r"], {"q1", "q2", "q3"})
[('q1', False), ('q2', False), ('q3', True)]
>>> import pandas as pd
>>> items = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [1, 2, 3, 5, 4], "c": [2, 1, 3, 4, 5]})
>>> round(cronbach_alpha(items), 3)
0.951
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from segmint.errors import ConfigError, did_you_mean
from segmint.features.asof import Context

__all__ = ["resolve_items", "features", "latest_answers", "item_frame", "cronbach_alpha", "reliability",
           "suggest_scales", "ALPHA_WARNING"]

#: Cronbach's alpha below this is reported as a warning (Nunnally's usual threshold).
ALPHA_WARNING = 0.7


def resolve_items(items: Sequence[str], questions: Iterable[str]) -> list[tuple[str, bool]]:
    """``(question, reversed)`` per item; a trailing ``r`` means reverse-coded when only the stem exists."""
    known = set(questions)
    out = []
    for item in items:
        if item in known:
            out.append((item, False))
        elif item.endswith("r") and item[:-1] in known:
            out.append((item[:-1], True))
        else:
            raise ConfigError(f"psychographics.scales: item {item!r} is not a survey question; "
                              f"{did_you_mean(item, sorted(known))}")
    return out


def latest_answers(responses: ir.Table, questions: Iterable[str]) -> ir.Table:
    """The latest numeric answer per customer and question: ``customer_id``, ``question``, ``value``."""
    r = responses.filter(responses.question.isin(list(questions)))
    r = r.mutate(value=r.answer.strip().try_cast("float64"))
    w = ibis.window(group_by=[r.customer_id, r.question], order_by=[ibis.desc(r.answered_at), ibis.desc(r.answer)])
    r = r.mutate(_rank=ibis.row_number().over(w))
    return r.filter(r._rank == 0).select("customer_id", "question", "value")


def _questions(responses: ir.Table) -> set[str]:
    return {r["question"] for r in responses.select("question").distinct().to_pyarrow().to_pylist()}


def features(ctx: Context) -> ir.Table | None:
    """``scale_<name>`` per customer, or None without scales or survey answers."""
    cfg = getattr(ctx.settings, "_psychographics", None)
    if cfg is None or not cfg.scales:
        return None
    if ctx.responses is None:
        ctx.skipped["scales"] = "no survey responses before as_of"
        return None
    known = _questions(ctx.responses)
    resolved = {name: resolve_items(items, known) for name, items in cfg.scales.items()}
    lo, hi = cfg.scale_range
    questions = sorted({q for items in resolved.values() for q, _ in items})
    column = {q: f"_item{i}" for i, q in enumerate(questions)}
    latest = latest_answers(ctx.responses, questions)
    per = latest.group_by("customer_id").aggregate(
        **{column[q]: latest.value.max(where=latest.question == q) for q in questions})
    out = {}
    for name, items in resolved.items():
        vals = [(lo + hi - per[column[q]]) if rev else per[column[q]] for q, rev in items]
        total = vals[0].fill_null(0)
        count = vals[0].notnull().cast("int64")
        for v in vals[1:]:
            total = total + v.fill_null(0)
            count = count + v.notnull().cast("int64")
        out[f"scale_{name}"] = ibis.ifelse(count >= math.ceil(len(items) / 2), total / count.cast("float64"),
                                           ibis.null("float64"))
    return per.select("customer_id", **out)


def item_frame(responses: ir.Table, questions: Iterable[str] | None = None) -> pd.DataFrame:
    """Latest numeric answers as a customers x questions frame (the numeric questions only by default)."""
    if questions is None:
        r = responses.mutate(value=responses.answer.strip().try_cast("float64"))
        stats = r.group_by("question").aggregate(n=r.count(), numeric=r.value.count()).to_pyarrow().to_pylist()
        questions = [s["question"] for s in stats if s["numeric"] == s["n"]]
    questions = sorted(questions)
    if not questions:
        return pd.DataFrame()
    latest = latest_answers(responses, questions)
    wide = latest.group_by("customer_id").aggregate(
        **{f"q{i}": latest.value.max(where=latest.question == q) for i, q in enumerate(questions)})
    frame = wide.to_pyarrow().to_pandas().set_index("customer_id").sort_index()
    return frame.rename(columns={f"q{i}": q for i, q in enumerate(questions)})


def cronbach_alpha(items: pd.DataFrame) -> float | None:
    """Cronbach's alpha of the item columns over complete rows; None below two items or three rows."""
    data = items.dropna().to_numpy(dtype=float)
    k = data.shape[1] if data.ndim == 2 else 0
    if k < 2 or len(data) < 3:
        return None
    total = data.sum(axis=1).var(ddof=1)
    if total == 0:
        return None
    return float(k / (k - 1) * (1 - data.var(axis=0, ddof=1).sum() / total))


def reliability(frame: pd.DataFrame, scales: Mapping[str, Sequence[str]],
                scale_range: tuple[float, float] = (1.0, 5.0)) -> list[dict[str, Any]]:
    """Per scale: its items, Cronbach's alpha, respondents with every item, and a warning below 0.7."""
    lo, hi = scale_range
    out = []
    for name, items in scales.items():
        resolved = resolve_items(items, frame.columns)
        cols = pd.DataFrame({f"{q}{' (reversed)' if rev else ''}": (lo + hi - frame[q]) if rev else frame[q]
                             for q, rev in resolved})
        alpha = cronbach_alpha(cols)
        warning = None
        if alpha is None:
            warning = "too few complete answers to compute alpha"
        elif alpha < ALPHA_WARNING:
            warning = (f"alpha {alpha:.2f} is below {ALPHA_WARNING}: the items may not measure one attitude; "
                       "check reverse-coded items or split the scale (see the suggested scales)")
        out.append({"scale": name, "feature": f"scale_{name}", "items": list(cols.columns),
                    "alpha": None if alpha is None else round(alpha, 4), "respondents": int(len(cols.dropna())),
                    "warning": warning})
    return out


def _varimax(loadings: np.ndarray, iterations: int = 100, tol: float = 1e-6) -> np.ndarray:
    p, k = loadings.shape
    if k < 2:
        return loadings
    rotation = np.eye(k)
    var = 0.0
    for _ in range(iterations):
        lam = loadings @ rotation
        u, s, vt = np.linalg.svd(loadings.T @ (lam ** 3 - lam @ np.diag((lam ** 2).sum(axis=0)) / p))
        rotation = u @ vt
        if s.sum() < var * (1 + tol):
            break
        var = s.sum()
    return loadings @ rotation


def suggest_scales(frame: pd.DataFrame, n_factors: int | None = None, min_loading: float = 0.4,
                   random_state: int = 0) -> dict[str, Any]:
    """Exploratory factor analysis of the items: suggested scales from the rotated loadings.

    Returns
    -------
    dict
        ``n_factors`` (Kaiser's rule unless given), ``eigenvalues``, ``respondents``, ``loadings``
        (item -> one value per factor) and ``scales`` (per factor: the items loading at least
        ``min_loading``, those loading negatively written with a trailing ``r`` as reverse-coded, and
        their alpha).
    """
    from sklearn.decomposition import FactorAnalysis

    data = frame.dropna()
    if data.shape[1] < 3 or len(data) < 10:
        raise ConfigError(f"a factor analysis needs at least 3 numeric questions and 10 customers who answered "
                          f"all of them; found {data.shape[1]} questions and {len(data)} customers")
    z = (data - data.mean()) / data.std(ddof=0).replace(0, 1)
    eig = np.sort(np.linalg.eigvalsh(np.corrcoef(z.to_numpy().T)))[::-1]
    k = int(n_factors) if n_factors else max(1, int((eig > 1).sum()))
    fa = FactorAnalysis(n_components=k, random_state=random_state).fit(z.to_numpy())
    loadings = _varimax(fa.components_.T)
    # Orient each factor so that most of its weight is positive.
    loadings = loadings * np.where(loadings.sum(axis=0) < 0, -1, 1)
    scales = []
    for j in range(k):
        items = [(q, loadings[i, j]) for i, q in enumerate(data.columns)
                 if abs(loadings[i, j]) >= min_loading and np.argmax(np.abs(loadings[i])) == j]
        if not items:
            continue
        names = [q if w > 0 else f"{q}r" for q, w in sorted(items, key=lambda x: -abs(x[1]))]
        cols = pd.DataFrame({q: data[q] if w > 0 else -data[q] for q, w in items})
        alpha = cronbach_alpha(cols)
        scales.append({"factor": j + 1, "items": names, "alpha": None if alpha is None else round(alpha, 4)})
    return {"n_factors": k, "eigenvalues": [round(float(e), 4) for e in eig], "respondents": int(len(data)),
            "loadings": {q: [round(float(v), 4) for v in loadings[i]] for i, q in enumerate(data.columns)},
            "scales": scales}
