"""Shared machinery of the CLV estimators: input checks, weights, optimiser, errors, JSON.

Each model declares its parameter names, the columns it reads and a per-row
log-likelihood with its gradient in the natural parameters (or a faster weighted
total); this module does the rest the same way for all of them:

- checks the frame (missing columns, NaN, negative values, recency > T...) and
  names the column, the number of bad rows and a few example indices, with the same
  error class (:class:`~segmint.errors.DataError`) in ``fit`` and in the predictions;
- declares the settings' limits as data (``_parameter_constraints``), checked once per fit;
- collapses identical rows into weights, which is where the speed comes from: a
  million customers summarised in weeks have only a few thousand distinct
  (frequency, recency, T) (in days fewer rows collapse; BG/NBD then also sums its
  special functions per distinct value, see ``BetaGeo._total``);
- minimises the weighted mean negative log-likelihood in log-parameter space with
  L-BFGS-B (positivity for free, and better scaled);
- derives standard errors from the Hessian at the optimum;
- serialises to and from JSON-able dicts (never pickle).
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from threadpoolctl import ThreadpoolController

import segmint
from segmint._estimator import ValidatedParams, check_matrix
from segmint.errors import (
    DataError,
    FitError,
    ModelVersionError,
    NotFittedError,
    UnknownNameError,
    did_you_mean,
    examples,
)

#: Format tag written by ``to_dict``; ``from_dict`` refuses any other.
FORMAT = "segmint.clv/1"

#: Fewest customers a fit accepts (repeat buyers for the spend model). The models describe how
#: customers differ (gamma and beta mixing distributions, 3-4 parameters); a handful of customers
#: cannot show that: BG/NBD on one customer "converged" to r = 2.4e7 with every standard error
#: undefined, Gamma-Gamma on 5 buyers to q = 4.8e7.
MIN_CUSTOMERS = 10


class UnidentifiedWarning(UserWarning):
    """A fit reached an optimum at which the data do not pin down every parameter.

    The Hessian of the log-likelihood is singular there (a standard error is undefined): the
    likelihood is flat along some direction, typically because a parameter ran towards 0 or
    infinity (e.g. Pareto/NBD's s -> 0 and beta -> infinity on a shop where nobody seems to
    drop out). Predictions may still be usable (they follow the limit), but the parameters
    that have no standard error mean nothing on their own. ``identified_`` is False.
    """


_controller: ThreadpoolController | None = None


def _one_blas_thread():
    """Context limiting BLAS to one thread (the controller is built once: building it scans libraries)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def read_columns(X, columns: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """Return the named columns of ``X`` as float arrays, or raise a DataError naming what is wrong.

    ``X`` is a DataFrame holding the columns (others are ignored), or a 2-D array whose columns
    are ``columns`` in that order (so scikit-learn's array-based tools can call us). A missing
    column is an :class:`~segmint.errors.UnknownNameError`; everything else (an array of the
    wrong shape, NaN, negative values, recency > T...) a :class:`~segmint.errors.DataError`.
    ``fit`` and the predictions both read their input here, so the same input gets the same
    error from both.
    """
    if isinstance(X, pd.DataFrame):
        index = X.index
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise UnknownNameError(
                f"{what}: the frame has no column {missing[0]!r} "
                f"({did_you_mean(missing[0], map(str, X.columns))}); it needs {', '.join(columns)}"
            )
        raw = {c: X[c] for c in columns}
    else:
        arr = check_matrix(X, what.split(".")[0], what)
        if arr.shape[1] != len(columns):
            raise DataError(
                f"{what}: X has {arr.shape[1]} feature(s), but {what.split('.')[0]} is expecting "
                f"{len(columns)} features as input ({', '.join(columns)} in that order); "
                f"or pass a DataFrame with those columns"
            )
        index = pd.RangeIndex(arr.shape[0])
        raw = {c: arr[:, i] for i, c in enumerate(columns)}
    out = {}
    for c, v in raw.items():
        try:
            out[c] = np.asarray(v, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{what}: column {c!r} is not numeric ({exc})") from exc
    if len(index) == 0:
        raise DataError(f"{what}: the frame has no rows")

    def check(bad: np.ndarray, column: str, problem: str, fix: str) -> None:
        if bad.any():
            raise DataError(
                f"{what}: column {column!r} {problem} in {int(bad.sum())} of {len(bad)} rows "
                f"(index {examples(index[bad])}); {fix}"
            )

    for c, v in out.items():
        check(~np.isfinite(v), c, "is NaN or infinite", "drop or fill those rows")
        check(v < 0, c, "is negative", "frequency, recency, T and spend must be >= 0")
    if "frequency" in out:
        f = out["frequency"]
        check(f != np.round(f), "frequency", "is not a whole number", "frequency counts repeat purchases")
    if "recency" in out and "T" in out:
        check(out["recency"] > out["T"], "recency", "is greater than T", "recency and T must be in the same unit")
        if "frequency" in out:
            check(
                (out["frequency"] == 0) & (out["recency"] != 0),
                "recency",
                "is not 0 for a customer with frequency 0",
                "recency is the age at the last repeat purchase (0 when there is none)",
            )
    return out


def by_value(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (unique values, inverse): special functions then run once per distinct value.

    Frequencies take a few hundred values and recency/T a few thousand even for millions of
    customers, so gammaln/digamma/log on the uniques and a gather is far cheaper per evaluation.
    """
    codes, uniques = pd.factorize(values)
    return np.asarray(uniques, dtype=float), codes


def distinct_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (codes, x values, y values) of the distinct ``(x, y)`` pairs: ``x == xs[codes]``, ``y == ys[codes]``.

    Examples
    --------
    >>> codes, xs, ys = distinct_pairs(np.array([1.0, 2.0, 1.0]), np.array([5.0, 5.0, 5.0]))
    >>> codes.tolist(), xs.tolist(), ys.tolist()
    ([0, 1, 0], [1.0, 2.0], [5.0, 5.0])
    """
    # One hash pass over x + iy: the real and imaginary parts hold both doubles exactly.
    codes, pairs = pd.factorize(np.asarray(x, dtype=float) + 1j * np.asarray(y, dtype=float))
    return codes, np.ascontiguousarray(pairs.real), np.ascontiguousarray(pairs.imag)


#: The data key that carries each row's weight (``fit(X, sample_weight=...)``) through ``_prepare``'s row filter.
WEIGHT = "_weight"


def collapse(data: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Collapse identical rows into (unique rows, weights), sorted by the first column.

    A row's weight is 1, or its ``_weight`` entry: a row standing for that many customers (the
    counts of identical rows an engine computed, so the customers never leave it).
    """
    data = dict(data)
    weight = data.pop(WEIGHT, None)
    frame = pd.DataFrame(data)
    if weight is None:
        counts = frame.groupby(list(data), sort=False).size()
    else:
        counts = frame.assign(**{WEIGHT: weight}).groupby(list(data), sort=False)[WEIGHT].sum()
    uniq = counts.index.to_frame(index=False)
    # Ordered by the first column (frequency) so models can slice off the x = 0 rows.
    order = np.argsort(uniq.iloc[:, 0].to_numpy(), kind="stable")
    return {c: uniq[c].to_numpy(dtype=float)[order] for c in data}, counts.to_numpy(dtype=float)[order]


class CLVModel(ValidatedParams, BaseEstimator):
    """Base of the CLV estimators: fitting, standard errors, checks and JSON.

    Subclasses set ``_param_names``, ``_columns`` and implement ``_loglik``,
    ``_initial`` (and may override ``_prepare`` to filter rows).

    ``n_features_in_`` is the number of columns the model reads (``len(_columns)``) and
    ``feature_names_in_`` their names when fitted on a DataFrame: a frame's other columns
    are ignored, by fit and by the predictions alike.
    """

    _param_names: tuple[str, ...] = ()
    _columns: tuple[str, ...] = ()
    _parameter_constraints: dict[str, list] = {
        "penalizer_coef": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }
    # True where ``_loglik`` returns an analytic gradient; else central differences are used.
    _analytic_gradient = True

    def __init__(self, penalizer_coef: float = 0.0, tol: float = 1e-9, max_iter: int = 2000):
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    # -- to implement -------------------------------------------------------------
    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray], grad: bool):
        """Return per-row log-likelihood (and the (k, n) gradient in natural parameters)."""
        raise NotImplementedError

    def _initial(self, data: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        return np.ones(len(self._param_names))

    def _precompute(self, data: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, object]:
        """Add what the likelihood reuses at every evaluation (e.g. unique values and their inverse)."""
        return data

    def _check_identified(self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray) -> None:
        """Raise FitError when the optimum says the data do not identify the model (default: never)."""

    def _prepare(self, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check model-specific conditions and select the rows the model fits."""
        if not (data["frequency"] > 0).any():
            raise FitError(
                f"{type(self).__name__}.fit: no customer has frequency > 0 (no repeat buyers among "
                f"{len(data['frequency'])} rows), so purchase rates and dropout cannot be told apart; "
                f"use a longer observation period, or check that frequency counts repeat purchases"
            )
        return data

    # -- fitting ------------------------------------------------------------------
    def _total(self, params: np.ndarray, data, weights: np.ndarray, grad: bool):
        """Weighted total log-likelihood (and its gradient in natural parameters).

        Models may override this with a version that sums per distinct value instead of per row.
        """
        if not grad:
            return float(weights @ self._loglik(params, data, grad=False))
        ll, g = self._loglik(params, data, grad=True)
        return float(weights @ ll), g @ weights

    def _objective(self, theta: np.ndarray, data, weights, wsum: float, grad: bool = True):
        """Weighted mean negative log-likelihood (plus penalty) in log-parameter space."""
        params = np.exp(theta)
        penalty = self.penalizer_coef * float(np.sum(params**2))
        if not self._analytic_gradient:
            value = -self._total(params, data, weights, grad=False) / wsum + penalty
            if not grad:
                return value
            return value, self._numeric_gradient(theta, data, weights, wsum)
        total, g = self._total(params, data, weights, grad=True)
        value = -total / wsum + penalty
        if not grad:
            return value
        # Chain rule to log space: d/dlog(p) = p * d/dp.
        gradient = -g / wsum * params + 2.0 * self.penalizer_coef * params**2
        return value, gradient

    def _numeric_gradient(self, theta, data, weights, wsum, h: float = 1e-6):
        out = np.empty_like(theta)
        for i in range(len(theta)):
            step = np.zeros_like(theta)
            step[i] = h
            up = self._objective(theta + step, data, weights, wsum, grad=False)
            down = self._objective(theta - step, data, weights, wsum, grad=False)
            out[i] = (up - down) / (2 * h)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # frequency, recency, T and spend are never negative (read_columns refuses them).
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model to a frame with columns ``frequency, recency, T`` (see the class).

        Parameters
        ----------
        X : pandas.DataFrame or array of shape (n_customers, n_columns)
            One row per customer.
        y : ignored
        sample_weight : array of shape (n_rows,), optional
            How many customers each row stands for (default 1 each): a fit on the counts of
            identical rows equals the fit on the customers.

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            A setting is outside its limits (``_parameter_constraints``).
        DataError
            ``X`` cannot be read as the model's columns (the predictions raise the same).
        FitError
            The data do not identify the model, or the optimiser did not converge.
        """
        name = type(self).__name__
        data = read_columns(X, self._columns, f"{name}.fit")
        if sample_weight is not None:
            weight = np.asarray(sample_weight, dtype=float)
            if weight.shape != data[self._columns[0]].shape or not (np.isfinite(weight) & (weight > 0)).all():
                raise DataError(f"{name}.fit: sample_weight must hold one positive count per row of X")
            data[WEIGHT] = weight
        data = self._prepare(data)
        uniq, weights = collapse(data)
        wsum = float(weights.sum())
        if wsum < MIN_CUSTOMERS:
            who = "repeat buyers" if "monetary_value" in self._columns else "customers"
            raise FitError(
                f"{name}.fit: {int(wsum)} {who} cannot identify the model: its {len(self._param_names)} "
                f"parameters ({', '.join(self._param_names)}) describe how customers differ from each other, "
                f"which needs at least {MIN_CUSTOMERS} {who} (on fewer the optimiser runs parameters off "
                f"towards infinity and every standard error is undefined). Fit on more customers (a longer "
                f"period, or one model for several segments)"
            )
        # One BLAS thread: the vectors are short and the problem has 3-4 parameters, so BLAS
        # threads only add start/stop cost, which on a busy machine made fits 10x slower.
        with np.errstate(all="ignore"), _one_blas_thread():
            theta0 = np.log(self._initial(uniq, weights))
            uniq = self._precompute(uniq, weights)
            res = self._minimize(theta0, uniq, weights, wsum, int(self.max_iter), self.tol)
        gnorm = float(np.max(np.abs(res.jac))) if res.jac is not None else np.inf
        # L-BFGS-B often stops with a line-search note at a point where the gradient is already ~0.
        converged = bool(np.isfinite(res.fun) and (res.success or gnorm < 1e-4))
        if not np.isfinite(res.fun):
            raise FitError(
                f"{name}.fit: the log-likelihood is not finite (it over- or underflows) after {res.nit} "
                f"iterations, at {', '.join(f'{p} = {v:.4g}' for p, v in zip(self._param_names, np.exp(res.x)))}: "
                f"a numerical failure of segmint on these data, not a convergence problem (please report it)"
            )
        if not converged:
            if np.all(np.isfinite(res.x)):
                # A runaway parameter also stops line searches: name that cause when it is the one.
                self._check_identified(np.exp(res.x), uniq, weights)
            raise FitError(
                f"{name}.fit did not converge after {res.nit} iterations ({res.message}; "
                f"largest gradient {gnorm:.3g}). Check that recency and T are in a sensible unit "
                f"(weeks rather than seconds), or set penalizer_coef > 0 (e.g. 0.001) or a larger max_iter"
            )
        at_bound = np.abs(res.x) >= 29.9
        if at_bound.any():
            names = [p for p, b in zip(self._param_names, at_bound) if b]
            raise FitError(
                f"{name}.fit: parameter(s) {', '.join(names)} ran off to 0 or infinity (log-parameter at the "
                f"+-30 bound); the data do not identify the model (too few customers or repeat buyers?). "
                f"Fit on more customers, or set penalizer_coef > 0 to keep parameters finite"
            )
        params = np.exp(res.x)
        self._check_identified(params, uniq, weights)
        with np.errstate(all="ignore"), _one_blas_thread():
            self._check_likelihood(params, uniq, weights)
        self.params_ = dict(zip(self._param_names, map(float, params)))
        self.log_likelihood_ = self._total(params, uniq, weights, grad=False)
        self.n_iter_ = int(res.nit)
        self.converged_ = converged
        self.convergence_message_ = str(res.message)
        self.n_samples_ = int(wsum)
        self.n_unique_rows_ = len(weights)
        self._set_inputs(X)
        with np.errstate(all="ignore"), _one_blas_thread():
            self.standard_errors_ = self._standard_errors(res.x, uniq, weights, wsum, np.asarray(res.jac))
        flat = [p for p, v in self.standard_errors_.items() if not np.isfinite(v)]
        self.identified_ = not flat
        if flat:
            warnings.warn(
                f"{name}.fit: the data do not identify {', '.join(flat)}: the log-likelihood is flat along "
                f"some direction at the optimum ({', '.join(f'{p} = {v:.3g}' for p, v in self.params_.items())}), "
                f"so the standard error of {', '.join(flat)} is undefined and those values mean nothing on "
                f"their own (predictions follow the limit the optimiser approached). Check with summary(); "
                f"a simpler model, more customers or penalizer_coef > 0 may pin them down",
                UnidentifiedWarning,
                stacklevel=2,
            )
        return self

    #: True where a row with frequency 0 has a likelihood that is a probability (<= 1).
    _zero_rows_are_probabilities = True

    def _check_likelihood(self, params: np.ndarray, data, weights: np.ndarray) -> None:
        """Refuse an optimum whose likelihood is not a likelihood: non-finite, or P > 1.

        For a customer without repeat purchases the likelihood is the probability of no
        purchase in (0, T], never above 1 (log never above 0). A special function that lost
        its digits reads as a better fit than the true optimum, and the optimiser goes for it;
        this check makes that a loud error rather than a fit with an impossible likelihood.
        """
        ll = np.asarray(self._loglik(params, data, grad=False), dtype=float)
        bad = ~np.isfinite(ll)
        if self._zero_rows_are_probabilities:
            bad |= (data["frequency"] == 0) & (ll > 1e-9)
        if bad.any():
            i = np.flatnonzero(bad)
            rows = "; ".join(
                ", ".join(f"{c} {data[c][j]:g}" for c in self._columns) + f": log L = {ll[j]:.4g}" for j in i[:3]
            )
            raise FitError(
                f"{type(self).__name__}.fit: the log-likelihood could not be evaluated correctly at the optimum "
                f"({', '.join(f'{p} = {v:.4g}' for p, v in zip(self._param_names, params))}) for "
                f"{len(i)} distinct customer histories (e.g. {rows}; a log-probability must be finite and "
                f"<= 0 for a customer without repeat purchases). This is a numerical failure of segmint, "
                f"not of your data: please report it; meanwhile set penalizer_coef > 0 or rescale the time unit"
            )

    def _set_inputs(self, X) -> None:
        """Record what scikit-learn records of the input: the columns read, by name for a frame."""
        self.n_features_in_ = len(self._columns)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(self._columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _minimize(self, theta0, data, weights, wsum, max_iter, tol):
        return minimize(
            self._objective,
            theta0,
            args=(data, weights, wsum),
            jac=True,
            method="L-BFGS-B",
            # Keep log-parameters in a range where exp() cannot overflow.
            bounds=[(-30.0, 30.0)] * len(theta0),
            options={"maxiter": max_iter, "ftol": tol * 1e-3, "gtol": tol},
        )

    def _standard_errors(self, theta, data, weights, wsum, gradient) -> dict[str, float]:
        """Standard errors from the inverse Hessian of the total negative log-likelihood.

        The Hessian is taken in log space by differences of the gradient (forward differences
        from the optimum's own gradient when it is analytic: k evaluations instead of 2k;
        central ones over the numeric gradient) and mapped back with the delta method
        (se(p) = p * se(log p)), valid at an optimum.
        """
        k = len(theta)
        hess = np.empty((k, k))
        for i in range(k):
            if self._analytic_gradient:
                step = np.zeros(k)
                step[i] = 1e-6
                hess[i] = (self._objective(theta + step, data, weights, wsum)[1] - gradient) / 1e-6
            else:
                step = np.zeros(k)
                step[i] = 1e-4
                g_up = self._objective(theta + step, data, weights, wsum)[1]
                g_down = self._objective(theta - step, data, weights, wsum)[1]
                hess[i] = (g_up - g_down) / 2e-4
        hess = (hess + hess.T) / 2 * wsum
        try:
            var = np.diag(np.linalg.inv(hess))
        except np.linalg.LinAlgError:
            var = np.full(k, np.nan)
        se = np.where(var > 0, np.exp(theta) * np.sqrt(np.abs(var)), np.nan)
        return dict(zip(self._param_names, map(float, se)))

    # -- use ----------------------------------------------------------------------
    def _check_fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) first or load one with from_dict"
            )
        return np.array([self.params_[p] for p in self._param_names])

    def _read(self, X, method: str) -> dict[str, np.ndarray]:
        return read_columns(X, self._columns, f"{type(self).__name__}.{method}")

    @staticmethod
    def _wrap(X, values: np.ndarray, name: str):
        """Return a Series on X's index for a frame, else the array."""
        if isinstance(X, pd.DataFrame):
            return pd.Series(values, index=X.index, name=name)
        return values

    def summary(self) -> pd.DataFrame:
        """Fitted parameters with standard errors and 95% Wald intervals."""
        params = self._check_fitted()
        se = np.array([self.standard_errors_[p] for p in self._param_names])
        return pd.DataFrame(
            {"estimate": params, "std_error": se, "lower_95": params - 1.96 * se, "upper_95": params + 1.96 * se},
            index=pd.Index(self._param_names, name="parameter"),
        )

    # -- JSON ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Return a JSON-able description of the model (settings and fitted state)."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "model": type(self).__name__,
            "segmint_version": segmint.__version__,
            "settings": {k: (float(v) if k != "max_iter" else int(v)) for k, v in self.get_params().items()},
            "params": dict(self.params_),
            "standard_errors": dict(self.standard_errors_),
            "log_likelihood": self.log_likelihood_,
            "n_iter": self.n_iter_,
            "converged": self.converged_,
            "identified": bool(getattr(self, "identified_", True)),
            "convergence_message": self.convergence_message_,
            "n_samples": self.n_samples_,
            "n_unique_rows": self.n_unique_rows_,
        }

    @classmethod
    def from_dict(cls, doc: dict):
        """Rebuild a fitted model from :meth:`to_dict` output.

        Raises
        ------
        ModelVersionError
            The document has another format version, or describes another model.
        """
        fmt = doc.get("format") if isinstance(doc, dict) else None
        if fmt != FORMAT:
            raise ModelVersionError(
                f"cannot read a CLV model in format {fmt!r} (written by segmint "
                f"{doc.get('segmint_version', '?') if isinstance(doc, dict) else '?'}); this segmint "
                f"{segmint.__version__} reads {FORMAT!r}. Refit the model with this version"
            )
        if doc.get("model") != cls.__name__:
            raise ModelVersionError(f"this document holds a {doc.get('model')!r}, not a {cls.__name__}")
        missing = [p for p in cls._param_names if p not in doc.get("params", {})]
        if missing:
            raise ModelVersionError(f"{cls.__name__} document lacks parameter(s) {', '.join(missing)}")
        known = cls._get_param_names()
        model = cls(**{k: v for k, v in doc.get("settings", {}).items() if k in known})
        model.params_ = {p: float(doc["params"][p]) for p in cls._param_names}
        model.standard_errors_ = {p: float(v) for p, v in doc.get("standard_errors", {}).items()}
        model.log_likelihood_ = float(doc.get("log_likelihood", np.nan))
        model.n_iter_ = int(doc.get("n_iter", 0))
        model.converged_ = bool(doc.get("converged", True))
        model.identified_ = bool(doc.get("identified", True))
        model.convergence_message_ = str(doc.get("convergence_message", ""))
        model.n_samples_ = int(doc.get("n_samples", 0))
        model.n_unique_rows_ = int(doc.get("n_unique_rows", 0))
        # A loaded model reads its columns from a frame by name (or an array's in that order).
        model.n_features_in_ = len(cls._columns)
        model.feature_names_in_ = np.asarray(cls._columns, dtype=object)
        return model


def check_time(t, what: str = "t") -> np.ndarray:
    """Return ``t`` as a float array, refusing negative or non-finite values."""
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise DataError(f"{what} must be finite and >= 0, got {t!r}")
    return arr
