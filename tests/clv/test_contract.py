"""scikit-learn contract and JSON round trip of the CLV estimators."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sklearn.exceptions
from sklearn.base import clone

import segmint
from segmint.clv import BetaGeo, GammaGamma, ParetoNBD
from segmint.errors import ConfigError, ModelVersionError, NotFittedError
from segmint.features.summary import rfm_summary

MODELS = [BetaGeo, ParetoNBD, GammaGamma]


@pytest.fixture(scope="module")
def data(cdnow_transactions):
    # The CDNOW calibration summary in weeks, with spend: every model is identified on it.
    return rfm_summary(cdnow_transactions, "id", "date", "dollars", observation_period_end="1997-09-30",
                       freq="D", freq_multiplier=7)


# scikit-learn's own estimator checks run on every model in tests/test_estimator_checks.py.


@pytest.mark.parametrize("Model", MODELS)
def test_fit_returns_self_and_clone_is_unfitted(Model, data):
    model = Model(penalizer_coef=0.001, tol=1e-8, max_iter=500)
    assert model.fit(data) is model
    assert model.get_params() == {"penalizer_coef": 0.001, "tol": 1e-8, "max_iter": 500}
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "params_")
    learned = [k for k in vars(model) if k.endswith("_")]
    assert {"params_", "log_likelihood_", "standard_errors_", "n_iter_", "converged_"} <= set(learned)


@pytest.mark.parametrize("Model", MODELS)
def test_not_fitted_errors(Model, data):
    model = Model()
    methods = {
        BetaGeo: ["probability_alive", "conditional_expected_purchases", "to_dict"],
        ParetoNBD: ["probability_alive", "conditional_expected_purchases", "to_dict"],
        GammaGamma: ["expected_spend", "to_dict", "summary"],
    }[Model]
    for method in methods:
        fn = getattr(model, method)
        args = {"probability_alive": (data,), "conditional_expected_purchases": (10, data),
                "expected_spend": (data,)}.get(method, ())
        with pytest.raises(NotFittedError, match="not fitted yet"):
            fn(*args)
        # Also caught as scikit-learn's own NotFittedError.
        with pytest.raises(sklearn.exceptions.NotFittedError):
            fn(*args)


@pytest.mark.parametrize("Model", MODELS)
def test_json_round_trip(Model, data):
    model = Model(penalizer_coef=0.001).fit(data)
    doc = json.loads(json.dumps(model.to_dict()))
    assert doc["format"] == "segmint.clv/1" and doc["segmint_version"] == segmint.__version__
    loaded = Model.from_dict(doc)
    assert loaded.params_ == model.params_
    assert loaded.get_params() == model.get_params()
    assert loaded.standard_errors_ == model.standard_errors_
    if Model is GammaGamma:
        pd.testing.assert_series_equal(loaded.expected_spend(data), model.expected_spend(data))
    else:
        pd.testing.assert_series_equal(loaded.probability_alive(data), model.probability_alive(data))


def test_from_dict_refuses_unknown_versions_and_models(data):
    doc = BetaGeo(penalizer_coef=0.001).fit(data).to_dict()
    with pytest.raises(ModelVersionError, match="format 'segmint.clv/99'.*Refit"):
        BetaGeo.from_dict(dict(doc, format="segmint.clv/99"))
    with pytest.raises(ModelVersionError, match="holds a 'BetaGeo', not a ParetoNBD"):
        ParetoNBD.from_dict(doc)
    with pytest.raises(ModelVersionError, match="lacks parameter"):
        BetaGeo.from_dict(dict(doc, params={"r": 1.0}))


@pytest.mark.parametrize("settings", [{"penalizer_coef": -1.0}, {"tol": 0.0}, {"max_iter": 0}])
def test_bad_settings(settings, data):
    with pytest.raises(ConfigError):
        BetaGeo(**settings).fit(data)
