"""Every segmint estimator through scikit-learn's estimator checks, the fair refusals listed with their reasons.

scikit-learn's checks feed random arrays. The CLV models read customer summaries
(``frequency`` a whole number of repeat purchases, ``0 <= recency <= T``, spend > 0) in a
fixed number of columns, so a random array is rightly refused: those checks are expected
failures, each with the reason, and strict (scikit-learn >= 1.8), so a check that starts
passing must leave the list. Everything else passes. The tests below the checks pin what the checks cannot see:
fit and predict raise the same error class for the same input, and parameter errors are
generated from the declared limits.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.utils.estimator_checks import parametrize_with_checks

from segmint.clv import BetaGeo, GammaGamma, ParetoNBD
from segmint.errors import ConfigError, DataError, UnknownNameError
from segmint.segment.cluster import ClusterSegmenter
from segmint.segment.preprocess import Preprocessor

ESTIMATORS = [BetaGeo(), ParetoNBD(), GammaGamma(), Preprocessor(), ClusterSegmenter()]

#: What each check that a CLV model refuses fits on: (rows, columns, how the check draws them).
CLV_DRAWS = {
    "check_fit_score_takes_y": (30, 3, "random floats"),
    "check_estimators_overwrite_params": (21, 2, "make_blobs points"),
    "check_dont_overwrite_parameters": (20, 3, "random floats"),
    "check_estimators_fit_returns_self": (21, 2, "make_blobs points"),
    "check_readonly_memmap_input": (21, 2, "make_blobs points"),
    "check_n_features_in_after_fitting": (15, 4, "random normal floats"),
    "check_positive_only_tag_during_fit": (150, 4, "the iris data"),
    "check_estimators_dtypes": (20, 5, "random floats in float32/int32/int64"),
    "check_dtype_object": (56, 10, "random floats as objects"),
    "check_pipeline_consistency": (30, 3, "make_blobs points"),
    "check_estimators_nan_inf": (10, 3, "random floats (after refusing NaN and inf, as it should)"),
    "check_estimators_pickle": (30, 3, "make_blobs points"),
    "check_f_contiguous_array_estimator": (20, 3, "random floats"),
    "check_methods_sample_order_invariance": (20, 3, "random floats"),
    "check_methods_subset_invariance": (20, 3, "random floats"),
    "check_fit2d_1sample": (1, 10, "random floats"),
    "check_dict_unchanged": (20, 3, "random floats"),
    "check_fit_idempotent": (80, 2, "random normal floats"),
    "check_fit_check_is_fitted": (100, 2, "make_blobs points"),
    "check_n_features_in": (100, 2, "random floats"),
    "check_fit2d_predict1d": (20, 3, "random floats"),
}

#: ClusterSegmenter.predict returns segment names; these checks compare predictions with
#: assert_allclose, a numeric comparison (test_cluster_ids_are_invariant checks predict_ids instead).
STRING_PREDICTIONS = (
    "predict returns segment names ('cluster_1'...) and the check compares them with assert_allclose, "
    "which needs numbers; test_cluster_ids_are_invariant checks the integer predict_ids the same way"
)
CLUSTER_REFUSALS = {
    "check_estimators_pickle": STRING_PREDICTIONS,
    "check_methods_sample_order_invariance": STRING_PREDICTIONS,
    "check_methods_subset_invariance": STRING_PREDICTIONS,
    "check_fit_idempotent": STRING_PREDICTIONS,
    "check_fit2d_1feature": (
        "the check fits 10 rows, and the default k_range=(2, 10) asks for up to 10 segments, which need "
        "at least 11 rows; the refusal says so (test_cluster_refuses_too_few_rows)"
    ),
}


def clv_reason(model, check: str) -> str:
    """Why a CLV model refuses the data ``check`` fits on."""
    rows, width, drawn = CLV_DRAWS[check]
    name, columns = type(model).__name__, model._columns
    if width != len(columns):
        return (f"the check fits {drawn} in a {rows}x{width} array; {name} reads exactly {len(columns)} "
                f"columns ({', '.join(columns)}), so any other width is refused")
    order = ", with 0 <= recency <= T" if "T" in columns else " and monetary_value > 0"
    return (f"the check fits {drawn} in {width} columns; {name} needs frequency to be a whole number "
            f"of repeat purchases{order}; these are not")


#: Checks scikit-learn runs because the CLV models' fit takes ``sample_weight`` (the number of customers
#: in a (frequency, recency, T) cell: the Spark store fits on those counts, issue 22). Each fits a small
#: array of arbitrary numbers that is not a customer summary (or has every weight 0), which is refused.
SAMPLE_WEIGHT_CHECKS = ("check_all_zero_sample_weights_error", "check_sample_weight_equivalence_on_dense_data",
                        "check_sample_weights_list", "check_sample_weights_not_an_array",
                        "check_sample_weights_not_overwritten", "check_sample_weights_pandas_series",
                        "check_sample_weights_shape")


def sample_weight_reason(model, check: str) -> str:
    name, columns = type(model).__name__, model._columns
    return (f"{check} fits a small array of arbitrary numbers with sample weights; {name} reads customer "
            f"summaries ({', '.join(columns)}) and refuses columns that are not (the weighted fit is what every feature snapshot uses: "
            "tests/features/test_predictive.py and the Spark parity tests check its predictions)")


def expected_failed_checks(estimator) -> dict[str, str]:
    if isinstance(estimator, (BetaGeo, ParetoNBD, GammaGamma)):
        return {**{check: clv_reason(estimator, check) for check in CLV_DRAWS},
                **{check: sample_weight_reason(estimator, check) for check in SAMPLE_WEIGHT_CHECKS}}
    if isinstance(estimator, ClusterSegmenter):
        return CLUSTER_REFUSALS
    return {}  # Preprocessor passes every check


# Strict (scikit-learn >= 1.8): a listed check that starts passing fails until it leaves the list.
STRICT = {"xfail_strict": True} if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, **STRICT)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Model", [BetaGeo, ParetoNBD, GammaGamma])
def test_clv_refusals_are_for_the_stated_reason(Model):
    """Each generated reason names the cause; data of the shape the check draws is refused for it."""
    rng = np.random.default_rng(0)
    for check, (rows, width, _) in CLV_DRAWS.items():
        wrong_width = width != len(Model._columns)
        assert ("any other width is refused" in clv_reason(Model(), check)) == wrong_width
        cause = rf"X has {width} feature\(s\), but {Model.__name__} is expecting" if wrong_width else "not a whole number"
        with pytest.raises(DataError, match=cause):
            Model().fit(rng.uniform(0.1, 3.0, (rows, width)))


# -- fit and predict raise the same error class for the same input ------------------------------------
@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    """A small valid customer summary every CLV model fits."""
    rng = np.random.default_rng(3)
    n = 400
    T = rng.uniform(20, 40, n)
    frequency = rng.poisson(1.5, n).astype(float)
    recency = np.where(frequency > 0, T * rng.uniform(0.1, 1.0, n), 0.0)
    spend = np.where(frequency > 0, rng.gamma(6.0, 5.0, n), 0.0)
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": T, "monetary_value": spend})


def _clv_predict(model, X):
    return model.expected_spend(X) if isinstance(model, GammaGamma) else model.probability_alive(X)


BAD_SUMMARIES = {
    "NaN": (lambda X: X.assign(frequency=X["frequency"].where(X.index != 5, np.nan)), DataError),
    "negative": (lambda X: X.assign(frequency=-X["frequency"]), DataError),
    "fractional frequency": (lambda X: X.assign(frequency=X["frequency"] + 0.5), DataError),
    "missing column": (lambda X: X.drop(columns="frequency"), UnknownNameError),
    "empty": (lambda X: X.iloc[:0], DataError),
    "array of the wrong width": (lambda X: X.to_numpy()[:, :1], DataError),
    "1-D array": (lambda X: X["frequency"].to_numpy(), DataError),
    "sparse": (lambda X: scipy.sparse.csr_array(X.to_numpy()), DataError),
}


@pytest.mark.parametrize("bad", list(BAD_SUMMARIES))
@pytest.mark.parametrize("Model", [BetaGeo, ParetoNBD, GammaGamma])
def test_clv_fit_and_predict_raise_the_same_error(Model, bad, summary):
    change, error = BAD_SUMMARIES[bad]
    model = Model(penalizer_coef=0.01).fit(summary)
    X = change(summary)
    with pytest.raises(error) as at_fit:
        Model().fit(X)
    with pytest.raises(error) as at_predict:
        _clv_predict(model, X)
    assert type(at_fit.value) is type(at_predict.value)


def test_recency_after_t_is_the_same_error_in_fit_and_predict(summary):
    X = summary.assign(recency=summary["T"] + 1)
    model = BetaGeo(penalizer_coef=0.01).fit(summary)
    with pytest.raises(DataError, match="BetaGeo.fit: column 'recency' is greater than T"):
        BetaGeo().fit(X)
    with pytest.raises(DataError, match="BetaGeo.probability_alive: column 'recency' is greater than T"):
        model.probability_alive(X)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame({"spend": rng.lognormal(3, 1, 300), "orders": rng.poisson(3, 300).astype(float),
                         "region": rng.choice(["n", "s"], 300)})


BAD_FEATURES = {
    "missing column": (lambda X: X.drop(columns="spend"), UnknownNameError),
    "array of the wrong width": (lambda X: X.to_numpy()[:, :2], DataError),
    "1-D array": (lambda X: X["spend"].to_numpy(), DataError),
    "sparse": (lambda X: scipy.sparse.csr_array(X[["spend", "orders"]].to_numpy()), DataError),
}


@pytest.mark.parametrize("bad", list(BAD_FEATURES))
@pytest.mark.parametrize("Model", [Preprocessor, ClusterSegmenter])
def test_segment_fit_and_predict_raise_the_same_error(Model, bad, features):
    change, error = BAD_FEATURES[bad]
    kinds = {"spend": "numeric", "orders": "numeric", "region": "categorical"}
    settings = {} if Model is Preprocessor else {"k": 2, "n_bootstrap": 0}
    model = Model(kinds, **settings).fit(features)
    apply = model.transform if Model is Preprocessor else model.predict
    X = change(features)
    with pytest.raises(error) as at_fit:
        Model(kinds, **settings).fit(X)
    with pytest.raises(error) as at_predict:
        apply(X)
    assert type(at_fit.value) is type(at_predict.value)


# -- defaults fit plain data ----------------------------------------------------------------------------
def test_defaults_fit_a_plain_array_and_frame():
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(8, 1, (60, 2))])
    pre = Preprocessor().fit(X)
    assert pre.get_feature_names_out() == ["x0", "x1"] and pre.n_features_in_ == 2
    assert not hasattr(pre, "feature_names_in_")
    assert pre.transform(X).shape == (120, 2)
    seg = ClusterSegmenter().fit(X)
    assert seg.k_ == 2 and seg.n_features_in_ == 2
    assert sorted(set(seg.predict(X))) == ["cluster_1", "cluster_2"]
    frame = pd.DataFrame(X, columns=["a", "b"])
    seg = ClusterSegmenter().fit(frame)
    assert list(seg.feature_names_in_) == ["a", "b"]
    # A frame is read by name: extra columns are ignored, as the CLV models ignore them.
    assert (seg.predict(frame.assign(other=1.0)) == seg.predict(frame)).all()
    with pytest.raises(DataError, match="X has 3 features, but ClusterSegmenter is expecting 2"):
        seg.predict(np.ones((2, 3)))


def test_clv_records_the_columns_it_reads(summary):
    model = GammaGamma().fit(summary)  # four columns, two read
    assert model.n_features_in_ == 2 and list(model.feature_names_in_) == ["frequency", "monetary_value"]
    assert list(GammaGamma.from_dict(model.to_dict()).feature_names_in_) == ["frequency", "monetary_value"]
    on_array = BetaGeo(penalizer_coef=0.01).fit(summary[["frequency", "recency", "T"]].to_numpy())
    assert on_array.n_features_in_ == 3 and not hasattr(on_array, "feature_names_in_")


def test_cluster_refuses_too_few_rows():
    with pytest.raises(DataError, match=r"k=10 segments on 10 sample\(s\).*at least k \+ 1 = 11"):
        ClusterSegmenter().fit(np.random.default_rng(0).normal(size=(10, 1)))


def test_cluster_ids_are_invariant():
    """What check_methods_subset_invariance and check_methods_sample_order_invariance ask, on the ids."""
    rng = np.random.default_rng(6)
    X = np.vstack([rng.normal(c, 0.5, (40, 3)) for c in (0, 4, 8)])
    seg = ClusterSegmenter(k_range=(2, 4), n_bootstrap=2).fit(X)
    ids = seg.predict_ids(X)
    order = rng.permutation(len(X))
    np.testing.assert_array_equal(seg.predict_ids(X[order]), ids[order])
    for part in np.array_split(np.arange(len(X)), 4):
        np.testing.assert_array_equal(seg.predict_ids(X[part]), ids[part])
    again = ClusterSegmenter(k_range=(2, 4), n_bootstrap=2).fit(X)
    np.testing.assert_array_equal(again.predict_ids(X), ids)


# -- parameter limits are data --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BetaGeo(penalizer_coef=-1.0), r"'penalizer_coef' parameter of BetaGeo must be a float in the "
                                               r"range \[0(\.0)?, inf\)\. Got -1\.0 instead"),
        (lambda: ParetoNBD(tol=0.0), r"'tol' parameter of ParetoNBD must be a float in the range \(0(\.0)?, inf\)"),
        (lambda: GammaGamma(max_iter=0), r"'max_iter' parameter of GammaGamma must be an int in the range \[1, inf\)"),
        (lambda: Preprocessor(scaling="robst"), r"'scaling' parameter of Preprocessor must be .*"
                                                r"Got 'robst' instead\. Did you mean 'robust'\?"),
        (lambda: Preprocessor(winsorize=(0.9, 0.1)), r"'winsorize' .* a \(low, high\) pair with low < high, each a "
                                                     r"float in the range \[0(\.0)?, 1(\.0)?\]"),
        (lambda: Preprocessor(categorical_weight=0), r"'categorical_weight' .* a float in the range \(0(\.0)?, inf\)"),
        (lambda: ClusterSegmenter(stability_threshold=1.5), r"'stability_threshold' .* \[0(\.0)?, 1(\.0)?\]"),
        (lambda: ClusterSegmenter(min_cluster_size=1), r"'min_cluster_size' .* an int in the range \[2, inf\) or None"),
    ],
)
def test_parameter_errors_come_from_the_declared_limits(make, message):
    X = pd.DataFrame({"frequency": [1.0, 2.0, 0.0], "recency": [3.0, 4.0, 0.0], "T": [5.0, 6.0, 7.0],
                      "monetary_value": [10.0, 20.0, 0.0]})
    with pytest.raises(ConfigError, match=message):
        make().fit(X)


def test_docs_examples_run():
    """docs/estimators.md's examples, run as written."""
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "estimators.md"
    failures, tried = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
