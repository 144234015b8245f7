"""Predictive tiers: bands of one numeric feature (CLV tiers, churn-risk tiers).

A tier model is a JSON document holding the feature, the cut points and the labels,
lowest band first. A band holds values from its lower cut (included) to the next cut
(excluded): with cuts ``[100, 500]`` and labels ``[Low, Mid, High]``, 100 is ``Mid``
and 500 is ``High``. Null and NaN values get the ``missing`` label (or no segment).

With ``quantiles`` the cuts are fitted: the quantiles (linear interpolation, as NumPy
and pandas compute them) of the non-missing values of the snapshot. With
``thresholds`` they are the given numbers. Either way, assignment is an Ibis
expression (a ``CASE`` over the cuts), so it runs in the engine.

Examples
--------
>>> import ibis, pyarrow as pa
>>> from segmint.segment.definitions import parse_definition
>>> defn = parse_definition("value", {"kind": "tiers", "feature": "clv", "thresholds": [100, 500],
...                                   "labels": ["Low", "Mid", "High"]})
>>> t = ibis.memtable(pa.table({"clv": [50.0, 100.0, 499.9, 500.0, None]}))
>>> doc = fit_tiers(defn, t)
>>> t.select(tier=tier_expression(doc, t)).to_pyarrow()["tier"].to_pylist()
['Low', 'Mid', 'Mid', 'High', 'No prediction']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from segmint.errors import ConfigError, DataError, UnknownNameError, did_you_mean
from segmint.segment import model as docs

__all__ = ["KIND", "describe_band", "fit_tiers", "tier_expression"]

KIND = "tiers"


def _column(table: ir.Table, feature: str) -> ir.FloatingValue:
    if feature not in table.columns:
        raise UnknownNameError(f"tiers need feature {feature!r}, which the snapshot lacks; "
                               + did_you_mean(feature, table.columns))
    col = table[feature]
    if not col.type().is_numeric():
        raise ConfigError(f"tiers need a numeric feature; {feature!r} is {col.type()}")
    return col.cast("float64")


def fit_tiers(defn, table: ir.Table) -> dict[str, Any]:
    """Fit a tier model (quantile cuts) on ``table``, or build one from fixed thresholds.

    Parameters
    ----------
    defn : segmint.segment.definitions.TierDef
    table : ibis.Table
        The feature snapshot.

    Returns
    -------
    dict
        The JSON-ready model document (kind ``"tiers"``).
    """
    x = _column(table, defn.feature)
    if defn.quantiles is not None:
        # One column leaves the engine: exact quantiles the same on every engine (Spark's
        # percentile is approximate), and the pandas reference in the tests agrees.
        values = table.select(v=x).filter(lambda t: t.v.notnull() & ~t.v.isnan()).to_pyarrow()["v"]
        arr = values.to_numpy(zero_copy_only=False).astype("float64")
        if arr.size == 0:
            raise DataError(f"cannot fit quantile tiers: feature {defn.feature!r} has no values in the snapshot "
                            "(is the predictive family computed?)")
        cuts = [float(v) for v in np.quantile(arr, defn.quantiles)]
        method = "quantiles"
    else:
        cuts = [float(v) for v in defn.thresholds]
        method = "thresholds"
    return docs.to_jsonable({
        **docs.model_header(KIND),
        "feature": defn.feature,
        "method": method,
        "quantiles": defn.quantiles,
        "cuts": cuts,
        "labels": list(defn.labels),
        "missing": defn.missing,
    })


def tier_expression(doc: Mapping[str, Any], table: ir.Table) -> ir.StringValue:
    """The tier label of every row of ``table``, as an Ibis string expression."""
    doc = docs.check_model_header(docs.from_jsonable(dict(doc)), KIND)
    x = _column(table, doc["feature"])
    labels, cuts = doc["labels"], doc["cuts"]
    missing = ibis.literal(doc["missing"], type="string") if doc["missing"] else ibis.null("string")
    branches = [(x.isnull() | x.isnan(), missing)]
    # Quantile cuts can repeat (many customers at 0): the band between equal cuts is then empty.
    branches += [(x < ibis.literal(c, type="float64"), ibis.literal(lab, type="string"))
                 for c, lab in zip(cuts, labels)]
    return ibis.cases(*branches, else_=ibis.literal(labels[-1], type="string"))


def describe_band(doc: Mapping[str, Any], label: str) -> str:
    """Human text of a band, e.g. ``"100 <= predicted_clv_12m < 500"``.

    Examples
    --------
    >>> describe_band({"feature": "p", "cuts": [0.3, 0.7], "labels": ["H", "M", "L"], "missing": "?"}, "M")
    '0.3 <= p < 0.7'
    """
    labels, cuts, f = list(doc["labels"]), list(doc["cuts"]), doc["feature"]
    if label == doc.get("missing"):
        return f"{f} is missing"
    i = labels.index(label)
    low = f"{cuts[i - 1]:g} <= " if i > 0 else ""
    high = f" < {cuts[i]:g}" if i < len(cuts) else ""
    return f"{low}{f}{high}"
