"""Tests for segmint.segment.preprocess."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SkNotFittedError

from segmint.errors import ConfigError, DataError, NotFittedError, UnknownNameError
from segmint.segment.preprocess import Preprocessor


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    return pd.DataFrame(
        {
            "spend": rng.lognormal(3.0, 1.0, n),
            "balance": rng.normal(0.0, 5.0, n),
            "vip": rng.random(n) < 0.3,
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )


KINDS = {"spend": "numeric", "balance": "numeric", "vip": "boolean", "region": "categorical"}


def test_numeric_winsorize_log_and_robust_scale(frame):
    pre = Preprocessor(KINDS).fit(frame)
    p = pre.params_["spend"]
    lo, hi = np.quantile(frame["spend"], [0.01, 0.99])
    assert p["clip"] == [lo, hi]
    assert p["log1p"] is True and p["skewness"] > 1.0
    out = pre.transform(frame)[:, 0]
    expected = np.log(np.clip(frame["spend"], lo, hi) + 1.0)
    assert np.allclose(
        out, (expected - np.median(expected)) / np.subtract(*np.quantile(expected, [0.75, 0.25]))
    )
    assert np.median(out) == pytest.approx(0.0, abs=1e-12)
    q25, q75 = np.quantile(out, [0.25, 0.75])
    assert q75 - q25 == pytest.approx(1.0)


def test_robust_scale_is_never_below_the_standard_deviation():
    """A share that is small for most customers: in IQR units the others would lie 10 or more out."""
    rng = np.random.default_rng(2)
    share = np.where(rng.random(2000) < 0.85, rng.uniform(0.0, 0.1, 2000), rng.uniform(0.5, 0.7, 2000))
    df = pd.DataFrame({"office": share, "spend": rng.normal(100.0, 10.0, 2000)})
    pre = Preprocessor({"office": "numeric", "spend": "numeric"}, log_skewed=False).fit(df)
    out = pre.transform(df)
    clipped = np.clip(share, *pre.params_["office"]["clip"])
    q25, q75 = np.quantile(clipped, [0.25, 0.75])
    assert q75 - q25 < 0.3 * np.std(clipped)
    assert pre.params_["office"]["scale"] == pytest.approx(np.std(clipped))
    assert out[:, 0].std() == pytest.approx(1.0)
    assert out[:, 0].max() < 4.0
    # Bell-shaped features keep the IQR (1.35 standard deviations), as before.
    q25, q75 = np.quantile(np.clip(df["spend"], *pre.params_["spend"]["clip"]), [0.25, 0.75])
    assert pre.params_["spend"]["scale"] == pytest.approx(q75 - q25)


def test_no_log_for_values_below_zero_or_symmetric(frame):
    pre = Preprocessor(KINDS).fit(frame)
    assert pre.params_["balance"]["log1p"] is False
    assert Preprocessor(KINDS, log_skewed=False).fit(frame).params_["spend"]["log1p"] is False
    skewed_negative = pd.DataFrame({"x": np.r_[-1.0, np.random.default_rng(1).lognormal(0, 1.5, 300)]})
    assert Preprocessor({"x": "numeric"}, winsorize=None).fit(skewed_negative).params_["x"]["log1p"] is False


def test_standard_scaling_and_no_winsorize(frame):
    pre = Preprocessor({"balance": "numeric"}, scaling="standard", winsorize=None).fit(frame)
    out = pre.transform(frame)[:, 0]
    assert pre.params_["balance"]["clip"] is None
    assert out.mean() == pytest.approx(0.0, abs=1e-12) and out.std() == pytest.approx(1.0)
    raw = Preprocessor({"balance": "numeric"}, scaling=None, winsorize=None).fit(frame).transform(frame)
    assert np.array_equal(raw[:, 0], frame["balance"].to_numpy())


def test_missing_values_filled_with_recorded_median_and_mode():
    df = pd.DataFrame(
        {"x": [1.0, None, 3.0, 10.0], "b": [True, None, True, False], "c": ["a", None, "a", "b"]}
    )
    pre = Preprocessor(
        {"x": "numeric", "b": "boolean", "c": "categorical"}, winsorize=None, scaling=None
    ).fit(df)
    assert pre.params_["x"]["fill"] == 3.0
    assert pre.params_["b"]["fill"] == 1.0
    assert pre.params_["c"]["fill"] == "a"
    out = pre.transform(df)
    assert out[1, 0] == 3.0 and out[1, 1] == 1.0
    assert out[1, 2] == pytest.approx(1 / math.sqrt(2)) and out[1, 3] == 0.0


def test_boolean_accepts_bools_numbers_and_words():
    pre = Preprocessor({"b": "boolean"}).fit(pd.DataFrame({"b": [True, False]}))
    for values in ([True, False, True], [1, 0, 5], ["yes", "No", "TRUE"]):
        out = pre.transform(pd.DataFrame({"b": values}))[:, 0]
        assert out.tolist() == [1.0, 0.0, 1.0]


def test_categorical_weight_makes_a_mismatch_one_unit(frame):
    pre = Preprocessor({"region": "categorical"}).fit(frame)
    assert pre.get_feature_names_out() == ["region=north", "region=south", "region=east"]
    out = pre.transform(pd.DataFrame({"region": ["north", "south", "mars"]}))
    assert np.sum((out[0] - out[1]) ** 2) == pytest.approx(1.0)
    assert out[2].tolist() == [0.0, 0.0, 0.0]  # unseen level: equally far from all
    capped = Preprocessor({"region": "categorical"}, max_categories=2, categorical_weight=2.0).fit(frame)
    assert capped.params_["region"]["levels"] == ["north", "south"]
    assert capped.transform(pd.DataFrame({"region": ["south"]})).tolist() == [[0.0, 2.0]]


def test_kinds_inferred_from_list(frame):
    pre = Preprocessor(list(KINDS)).fit(frame)
    assert pre.kinds_ == KINDS


def test_json_round_trip_is_exact(frame):
    pre = Preprocessor(KINDS).fit(frame)
    doc = json.loads(json.dumps(pre.to_dict()))
    back = Preprocessor.from_dict(doc)
    assert back.to_dict() == pre.to_dict()
    assert np.array_equal(back.transform(frame), pre.transform(frame))
    assert back.get_params() == pre.get_params()


def test_estimator_contract(frame):
    pre = Preprocessor(KINDS, scaling="standard")
    assert pre.get_params()["scaling"] == "standard"
    copy = clone(pre)
    assert copy.get_params() == pre.get_params() and not hasattr(copy, "params_")
    assert pre.set_params(scaling="robust") is pre and pre.scaling == "robust"
    with pytest.raises(NotFittedError, match="not fitted"):
        pre.transform(frame)
    with pytest.raises(SkNotFittedError):
        pre.get_feature_names_out()
    assert pre.fit(frame) is pre
    assert pre.fit_transform(frame).shape == (len(frame), 6)


def test_errors_name_the_problem(frame):
    with pytest.raises(UnknownNameError, match="did you mean 'spend'"):
        Preprocessor({"spnd": "numeric"}).fit(frame)
    with pytest.raises(ConfigError, match="did you mean 'numeric'"):
        Preprocessor({"spend": "numerc"}).fit(frame)
    with pytest.raises(ConfigError, match="scaling"):
        Preprocessor(KINDS, scaling="minmax").fit(frame)
    with pytest.raises(ConfigError, match="winsorize"):
        Preprocessor(KINDS, winsorize=(0.9, 0.1)).fit(frame)
    with pytest.raises(DataError, match="no finite values"):
        Preprocessor({"x": "numeric"}).fit(pd.DataFrame({"x": [np.nan, np.nan]}))
