"""A few headline features' distributions, computed in the engine (what ``segmint features`` prints)."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir

__all__ = ["SUMMARY_FEATURES", "distributions"]

#: Features whose distribution the summary shows, when present.
SUMMARY_FEATURES = ("recency_days", "frequency", "monetary_total", "tenure_days", "email_open_rate",
                    "probability_alive", "predicted_clv_12m")


def distributions(table: ir.Table) -> dict[str, dict[str, Any]]:
    """Count, mean, min, quartiles and max of the :data:`SUMMARY_FEATURES` that ``table`` has."""
    names = [c for c in SUMMARY_FEATURES if c in table.columns]
    aggs = {}
    for c in names:
        col = table[c].cast("float64")
        aggs.update({f"{c}__n": col.count(), f"{c}__mean": col.mean(), f"{c}__min": col.min(),
                     f"{c}__p25": col.quantile(0.25), f"{c}__p50": col.quantile(0.5),
                     f"{c}__p75": col.quantile(0.75), f"{c}__max": col.max()})
    if not aggs:
        return {}
    row = table.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    return {c: {stat: row[f"{c}__{stat}"] for stat in ("n", "mean", "min", "p25", "p50", "p75", "max")}
            for c in names}
