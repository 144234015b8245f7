"""BG/NBD: published CDNOW figures, gradient, weights, predictions and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from segmint.clv import BetaGeo
from segmint.clv._base import collapse, read_columns
from segmint.errors import DataError, FitError, NotFittedError, UnknownNameError


@pytest.fixture(scope="module")
def fitted(cdnow_summary) -> BetaGeo:
    return BetaGeo().fit(cdnow_summary)


def test_published_parameters_and_log_likelihood(fitted):
    # Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", CDNOW sample in weeks.
    want = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in want.items():
        assert fitted.params_[name] == pytest.approx(value, abs=5e-4), name
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.converged_ and fitted.n_iter_ > 0
    assert fitted.n_samples_ == 2357 and fitted.n_unique_rows_ < 2357


def test_standard_errors_from_the_hessian(fitted):
    # The values Lifetimes reports for the same fit (autograd Hessian).
    want = {"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705}
    for name, value in want.items():
        assert fitted.standard_errors_[name] == pytest.approx(value, rel=0.02), name
    table = fitted.summary()
    assert list(table.index) == ["r", "alpha", "a", "b"]
    assert (table["lower_95"] < table["estimate"]).all()


def test_published_conditional_expectation(fitted):
    X = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]}, index=["x"])
    got = fitted.conditional_expected_purchases(39, X)
    assert round(float(got.loc["x"]), 3) == 1.226
    assert fitted.expected_purchases(39, X).loc["x"] == got.loc["x"]


def test_unconditional_curve(fitted):
    t = np.array([0.0, 13.0, 39.0, 78.0])
    curve = fitted.expected_purchases(t)
    assert curve[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(curve) > 0)


def test_expected_repeat_purchases_match_the_data(fitted, cdnow_summary):
    # Summed over customers, E[X(T)] is close to the repeat purchases actually made (2,457).
    total = fitted.expected_purchases(cdnow_summary["T"].to_numpy()).sum()
    assert total == pytest.approx(cdnow_summary["frequency"].sum(), rel=0.03)


def test_probability_alive(fitted, cdnow_summary):
    p = fitted.probability_alive(cdnow_summary)
    assert p.index.equals(cdnow_summary.index)
    assert ((p > 0) & (p <= 1)).all()
    assert (p[cdnow_summary["frequency"] == 0] == 1).all()
    # Same frequency, longer silence since the last purchase: less likely alive.
    X = pd.DataFrame({"frequency": [3, 3], "recency": [35.0, 5.0], "T": [38.0, 38.0]})
    a, b = fitted.probability_alive(X)
    assert a > b


def test_analytic_gradient_matches_numeric(cdnow_summary):
    model = BetaGeo()
    data, w = collapse(read_columns(cdnow_summary, model._columns, "t"))
    data = model._precompute(data, w)
    for theta in (np.log([0.5, 3.0, 1.2, 2.0]), np.log([2.0, 10.0, 0.3, 5.0])):
        err = check_grad(lambda t: model._objective(t, data, w, w.sum())[0],
                         lambda t: model._objective(t, data, w, w.sum())[1], theta)
        assert err < 1e-5
        # The fast total (sums by distinct value) equals the plain per-row sum.
        params = np.exp(theta)
        total, grad = model._total(params, data, w, grad=True)
        rows, row_grad = model._loglik(params, data, grad=True)
        assert total == pytest.approx(w @ rows, rel=1e-12)
        np.testing.assert_allclose(grad, row_grad @ w, rtol=1e-9)


def test_identical_rows_collapse_into_weights(cdnow_summary):
    once = BetaGeo().fit(cdnow_summary)
    twice = BetaGeo().fit(pd.concat([cdnow_summary, cdnow_summary]))
    assert twice.n_unique_rows_ == once.n_unique_rows_
    assert twice.log_likelihood_ == pytest.approx(2 * once.log_likelihood_, rel=1e-9)
    for name in once.params_:
        assert twice.params_[name] == pytest.approx(once.params_[name], rel=1e-5)


def test_time_unit_scales_alpha_only(cdnow_summary):
    weeks = BetaGeo().fit(cdnow_summary)
    days = BetaGeo().fit(cdnow_summary.assign(recency=cdnow_summary["recency"] * 7, T=cdnow_summary["T"] * 7))
    assert days.params_["alpha"] == pytest.approx(7 * weeks.params_["alpha"], rel=1e-4)
    for name in ("r", "a", "b"):
        assert days.params_[name] == pytest.approx(weeks.params_[name], rel=1e-4)


def test_penalizer_shrinks(cdnow_summary):
    plain = BetaGeo().fit(cdnow_summary)
    shrunk = BetaGeo(penalizer_coef=0.1).fit(cdnow_summary)
    size = lambda m: sum(v**2 for v in m.params_.values())
    assert size(shrunk) < size(plain)


@pytest.mark.parametrize(
    "change, error, message",
    [
        # Input that cannot be read as frequency/recency/T is a DataError, as in the predictions.
        (lambda X: X.assign(T=X["T"].where(X.index != 3, np.nan)), DataError, r"'T' is NaN .* in 1 of 2357 rows \(index 3\)"),
        (lambda X: X.assign(frequency=X["frequency"] * -1), DataError, r"'frequency' is negative in \d+ of"),
        (lambda X: X.assign(recency=X["recency"] + 100), DataError, "'recency' is greater than T"),
        (lambda X: X.assign(frequency=X["frequency"] + 0.5), DataError, "not a whole number"),
        # Valid input that does not identify the model is a FitError (predictions need no repeat buyers).
        (lambda X: X.assign(frequency=0, recency=0.0), FitError, "no repeat buyers"),
        (lambda X: X.rename(columns={"recency": "recncy"}), UnknownNameError, "did you mean 'recncy'"),
        (lambda X: X.iloc[:0], DataError, "no rows"),
    ],
)
def test_unfittable_data_is_named(cdnow_summary, change, error, message):
    with pytest.raises(error, match=message):
        BetaGeo().fit(change(cdnow_summary))


def test_non_convergence_is_a_fit_error(cdnow_summary):
    with pytest.raises(FitError, match="did not converge after 1 iterations"):
        BetaGeo(max_iter=1).fit(cdnow_summary)


def test_not_fitted_and_bad_prediction_input(cdnow_summary):
    model = BetaGeo()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.probability_alive(cdnow_summary)
    model.fit(cdnow_summary)
    with pytest.raises(DataError, match="t must be finite"):
        model.expected_purchases(-1.0)
    with pytest.raises(DataError, match="'recency' is NaN"):
        model.probability_alive(cdnow_summary.assign(recency=np.nan))


def test_array_input_matches_frame(cdnow_summary):
    frame = BetaGeo().fit(cdnow_summary)
    array = BetaGeo().fit(cdnow_summary[["frequency", "recency", "T"]].to_numpy())
    assert array.params_ == pytest.approx(frame.params_)
    out = array.probability_alive(cdnow_summary[["frequency", "recency", "T"]].to_numpy()[:5])
    assert isinstance(out, np.ndarray) and out.shape == (5,)
