"""Are the segments explainable? A shallow decision tree and its rules in plain words.

:func:`explain` fits a shallow tree that predicts each customer's segment from the
raw (unstandardised) features, so its thresholds read in the features' own units,
and reports:

* ``fidelity``: the share of customers the tree puts in their own segment, measured
  by cross-validation so a deeper tree cannot buy fidelity by memorising;
* ``recall`` per segment;
* ``rules``: one line per leaf, e.g. ``recency_days <= 45 and frequency > 3 ->
  Champions``, with its support and precision.

Categorical features enter as indicators of their most common values and read as
``region is North`` / ``region is not North``.

Examples
--------
>>> import pandas as pd
>>> f = pd.DataFrame({"recency_days": [5, 10, 20, 200, 300, 250] * 10,
...                   "frequency": [9, 8, 7, 1, 2, 1] * 10})
>>> labels = pd.Series((["Champions"] * 3 + ["Lost"] * 3) * 10)
>>> e = explain(f, labels, max_depth=2)
>>> round(e.fidelity, 2), e.rules.text.tolist()
(1.0, ['frequency > 4.5 -> Champions', 'frequency <= 4.5 -> Lost'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier

from segmint.errors import DataError
from segmint.evaluate.inputs import Segmented, as_float, prepare

#: Categorical features contribute indicators for at most this many of their values.
MAX_DUMMIES = 12


@dataclass
class Explanation:
    """A shallow tree's account of the segments."""

    fidelity: float
    train_fidelity: float
    recall: dict[str, float]
    rules: pd.DataFrame  # segment, text, conditions, support, precision
    max_depth: int
    features_used: list[str] = field(default_factory=list)

    def rules_for(self, segment: str) -> list[str]:
        return self.rules.loc[self.rules["segment"] == segment, "text"].tolist()


def fmt_number(v: float) -> str:
    """A threshold rounded the way a person would write it.

    >>> fmt_number(45.5), fmt_number(1234.56), fmt_number(0.31249), fmt_number(3.0), fmt_number(4.2e-05)
    ('45.5', '1,235', '0.31', '3', '0')
    """
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    if a >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    if a < 0.005:  # a split between 0 and the smallest positive value reads as "> 0"
        return "0"
    return f"{v:.2g}"


def design_matrix(seg: Segmented, max_dummies: int = MAX_DUMMIES) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """Raw numeric features and indicators of common categories; NaN kept (trees split on it)."""
    cols, names = [], []
    for c in seg.numeric():
        cols.append(as_float(seg.features[c]))
        # A yes/no column reads better as "marketing_consent is true" than "> 0.5".
        names.append((c, "true" if pd.api.types.is_bool_dtype(seg.features[c]) else None))
    for c in seg.categorical():
        values = seg.features[c].astype("object")
        for v in values.value_counts().index[:max_dummies]:
            cols.append((values == v).to_numpy(float))
            names.append((c, str(v)))
    X = np.column_stack(cols) if cols else np.empty((len(seg.features), 0))
    return X, names


def explain(features: pd.DataFrame | None = None, labels=None, catalog=None, max_depth: int | None = None,
            folds: int = 3, random_state: int = 0, *, prepared: Segmented | None = None) -> Explanation:
    """Fit a shallow tree reproducing the segments; its cross-validated fidelity and rules.

    ``max_depth`` defaults to enough levels for one leaf per segment plus one, at most 5.
    ``prepared``: the inputs already aligned (:func:`~segmint.evaluate.inputs.prepare`), given instead.

    Raises
    ------
    DataError
        ``labels`` are overlapping audiences (a boolean frame): a tree explains one segment per customer.
    """
    seg = prepared if prepared is not None else prepare(features, labels, catalog)
    if seg.overlapping:
        raise DataError(f"explain needs one segment per customer, but the labels are {len(seg.segments)} "
                        "overlapping audiences (a boolean DataFrame); pass a Series with one label per customer, "
                        "or explain one audience at a time as a yes/no Series (labels[audience])")
    y = seg.labels.to_numpy().astype(str)
    k = len(seg.segments)
    depth = max_depth or int(min(5, max(2, math.ceil(math.log2(max(k, 2))) + 1)))
    X, names = design_matrix(seg)
    min_leaf = max(5, int(0.005 * len(y)))
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf, random_state=random_state)
    counts = pd.Series(y).value_counts()
    nfolds = min(folds, int(counts.min()))
    if nfolds >= 2 and k >= 2:
        cv = StratifiedKFold(nfolds, shuffle=True, random_state=random_state)
        pred_cv = cross_val_predict(tree, X, y, cv=cv)
    else:
        pred_cv = None
    tree.fit(X, y)
    pred = tree.predict(X)
    pred_eval = pred if pred_cv is None else pred_cv
    recall = {s: float(np.mean(pred_eval[y == s] == s)) for s in seg.segments}
    rules = tree_rules(tree, names, len(y))
    used = sorted({names[i][0] for i in tree.tree_.feature if i >= 0})
    return Explanation(
        fidelity=float(np.mean(pred_eval == y)), train_fidelity=float(np.mean(pred == y)), recall=recall,
        rules=rules, max_depth=depth, features_used=used,
    )


def tree_rules(tree: DecisionTreeClassifier, names: list[tuple[str, str | None]], n: int) -> pd.DataFrame:
    """One rule per leaf of a fitted tree, in plain words, sorted by segment and support."""
    t = tree.tree_
    rows = []

    def walk(node: int, conds: list[tuple[int, str, float]]) -> None:
        if t.children_left[node] == -1:
            counts = t.value[node][0]
            cls = int(np.argmax(counts))
            segment = str(tree.classes_[cls])
            text = describe(conds, names)
            support = int(t.n_node_samples[node])
            rows.append([segment, f"{text} -> {segment}" if text else f"everyone -> {segment}", text,
                         support, support / n, float(counts[cls] / counts.sum())])
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), conds + [(f, "<=", thr)])
        walk(int(t.children_right[node]), conds + [(f, ">", thr)])

    walk(0, [])
    out = pd.DataFrame(rows, columns=["segment", "text", "conditions", "support", "support_share", "precision"])
    return out.sort_values(["segment", "support"], ascending=[True, False]).reset_index(drop=True)


def describe(conds: list[tuple[int, str, float]], names: list[tuple[str, str | None]]) -> str:
    """Merge a path's conditions (tightest bound per feature) and write them in words."""
    lower: dict[int, float] = {}
    upper: dict[int, float] = {}
    order: list[int] = []
    for f, op, thr in conds:
        if f not in order:
            order.append(f)
        if op == "<=":
            upper[f] = min(upper.get(f, math.inf), thr)
        else:
            lower[f] = max(lower.get(f, -math.inf), thr)
    parts = []
    for f in order:
        col, value = names[f]
        lo, hi = lower.get(f), upper.get(f)
        if value is not None:  # an indicator of one category: <= 0.5 means "not"
            parts.append(f"{col} is {value}" if lo is not None else f"{col} is not {value}")
        elif lo is not None and hi is not None:
            parts.append(f"{fmt_number(lo)} < {col} <= {fmt_number(hi)}")
        elif hi is not None:
            parts.append(f"{col} <= {fmt_number(hi)}")
        else:
            parts.append(f"{col} > {fmt_number(lo)}")
    return " and ".join(parts)
