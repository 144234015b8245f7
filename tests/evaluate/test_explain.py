"""The surrogate tree recovers planted rules and writes them in plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.evaluate import explain
from segmint.evaluate.explain import describe, fmt_number


def test_planted_rule_comes_back_in_words():
    rng = np.random.default_rng(0)
    n = 2000
    f = pd.DataFrame({"recency_days": rng.integers(0, 365, n), "frequency": rng.integers(1, 12, n),
                      "region": rng.choice(["North", "South"], n)})
    champions = (f.recency_days <= 45) & (f.frequency > 3)
    labels = pd.Series(np.where(champions, "Champions", "Others"), index=f.index)
    e = explain(f, labels)
    assert e.fidelity > 0.98
    assert e.recall["Champions"] > 0.95
    top = e.rules_for("Champions")[0]
    assert top in ("recency_days <= 45.5 and frequency > 3.5 -> Champions",
                   "frequency > 3.5 and recency_days <= 45.5 -> Champions")
    assert "region" not in e.features_used


def test_categories_and_booleans_read_as_words():
    names = [("region", "North"), ("marketing_consent", "true"), ("spend", None)]
    assert describe([(0, ">", 0.5), (1, "<=", 0.5)], names) == "region is North and marketing_consent is not true"
    assert describe([(2, ">", 10.0), (2, "<=", 250.0), (2, "<=", 99.5)], names) == "10 < spend <= 99.5"


def test_overlapping_audiences_are_refused():
    f = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="overlapping"):
        explain(f, pd.DataFrame({"a": [True, False], "b": [True, True]}))


@pytest.mark.parametrize("value,text", [(12345.6, "12,346"), (-0.25, "-0.25"), (7.0, "7")])
def test_fmt_number(value, text):
    assert fmt_number(value) == text


def test_explain_refuses_audiences_with_a_segmint_error_naming_the_fix():
    from segmint.errors import DataError
    from segmint.evaluate import explain

    f = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}, index=list("abcd"))
    audiences = pd.DataFrame({"big": [True, False, True, False], "new": [True, True, False, False]},
                             index=list("abcd"))
    with pytest.raises(DataError, match=r"overlapping audiences.*labels\[audience\]"):
        explain(f, audiences)
