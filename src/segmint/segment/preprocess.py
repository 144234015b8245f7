"""Preprocessing chosen per feature type, with every learned parameter a plain number.

Distance-based clustering is only as good as the space it measures in. Customer
tables mix skewed amounts (spend, order counts), flags (opted in) and attributes
(region, gender); :class:`Preprocessor` puts them on one scale:

* **numeric**: fill missing with the fitted median, winsorise at fitted quantiles
  (default 1 % / 99 %), apply ``log(1 + x)`` when the feature is non-negative and its
  fitted skewness exceeds ``skew_threshold`` (the decision and the skewness are
  recorded), then scale robustly (median / IQR, or the standard deviation when that is
  larger) or by mean / standard deviation.
* **boolean**: 0 / 1, missing filled with the most frequent value.
* **categorical**: one-hot with every level column multiplied by ``categorical_weight``,
  missing filled with the most frequent level; a level not seen in fit (or beyond the
  ``max_categories`` most frequent) gets all zeros, so it is equally far from all levels.

Why ``1/sqrt(2)`` is the default categorical weight: two customers in different levels
differ in two one-hot columns, so their squared distance is ``2 * w**2 = 1``; that is the
squared distance between two customers one scale unit apart on a numeric feature (an
IQR or a standard deviation, whichever robust scaling chose, or one standard deviation
with standard scaling). One categorical feature thus
weighs about as much as one numeric feature, whatever its number of levels.

Every learned parameter is a float, a bool or a string, so :meth:`Preprocessor.to_dict`
is JSON and :mod:`segmint.segment.assign` can replay the same steps in the engine.

With the default ``features=()`` every column of the input is a feature (a NumPy array's
columns are named ``x0``, ``x1``... as scikit-learn names them), so ``Preprocessor()`` fits
any numeric array, and scikit-learn's estimator checks run on it.

Examples
--------
>>> import pandas as pd
>>> X = pd.DataFrame({"spend": [10.0, 20.0, None, 40.0], "vip": [True, False, False, True],
...                   "region": ["north", "south", "north", None]})
>>> pre = Preprocessor({"spend": "numeric", "vip": "boolean", "region": "categorical"},
...                    winsorize=None).fit(X)
>>> pre.get_feature_names_out()
['spend', 'vip', 'region=north', 'region=south']
>>> pre.params_["spend"]["fill"]
20.0
>>> pre.transform(X).shape
(4, 4)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from segmint._estimator import Pair, ValidatedParams, check_matrix
from segmint.errors import ConfigError, DataError, NotFittedError, UnknownNameError, did_you_mean

KINDS = ("numeric", "boolean", "categorical")
SCALINGS = ("robust", "standard", None)
TRUE_STRINGS = ("true", "t", "yes", "y", "1")
FALSE_STRINGS = ("false", "f", "no", "n", "0")
DEFAULT_CATEGORICAL_WEIGHT = 1.0 / math.sqrt(2.0)


def _infer_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    return "categorical"


def as_boolean(series: pd.Series) -> np.ndarray:
    """Map booleans, 0/1 numbers and yes/no strings to 1.0 / 0.0, anything else to NaN."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        return np.where(np.isnan(values), np.nan, (values != 0).astype("float64"))
    text = series.astype("string").str.strip().str.lower()
    out = np.full(len(series), np.nan)
    out[text.isin(TRUE_STRINGS).fillna(False).to_numpy(bool)] = 1.0
    out[text.isin(FALSE_STRINGS).fillna(False).to_numpy(bool)] = 0.0
    # Python bools in an object column stringify to "True"/"False" and are caught above.
    return out


def as_category(series: pd.Series) -> pd.Series:
    """Categorical values as strings (missing stays missing), as the engine casts them."""
    return series.astype("string")


#: The settings' limits, shared with :class:`~segmint.segment.cluster.ClusterSegmenter` (which passes them on).
PARAMETER_CONSTRAINTS: dict[str, list] = {
    "features": [Mapping, list, tuple, np.ndarray],
    "log_skewed": ["boolean"],
    "skew_threshold": [Interval(Real, None, None, closed="neither")],
    "winsorize": [Pair(Interval(Real, 0, 1, closed="both"), strict=True), None],
    "scaling": [StrOptions({"robust", "standard"}), None],
    "categorical_weight": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "max_categories": [Interval(Integral, 1, None, closed="left")],
}


def array_names(n: int) -> list[str]:
    """Names of a NumPy array's columns, as scikit-learn names them: ``x0``, ``x1``..."""
    return [f"x{i}" for i in range(n)]


def as_frame(X: Any, names: Sequence[str] | None, who: str) -> pd.DataFrame:
    """``X`` as a DataFrame holding the columns ``names`` (None: all of an array's columns, ``x0``...).

    A frame is returned as it is (its other columns are ignored by the callers), after checking
    that it has every name (:class:`~segmint.errors.UnknownNameError` otherwise). Anything else is
    read as an array whose columns are ``names`` in that order (a
    :class:`~segmint.errors.DataError` when it is sparse, complex, empty or of another width).

    Examples
    --------
    >>> list(as_frame(np.ones((2, 2)), None, "Preprocessor").columns)
    ['x0', 'x1']
    >>> as_frame(np.ones((2, 2)), ["a"], "Preprocessor")
    Traceback (most recent call last):
    ...
    segmint.errors.DataError: X has 2 features, but Preprocessor is expecting 1 features as input (a in that order); or pass a DataFrame with those columns
    """
    if not isinstance(X, pd.DataFrame):
        arr = check_matrix(X, who, who, numeric=False)
        if names is None:
            names = array_names(arr.shape[1])
        if arr.shape[1] != len(names):
            raise DataError(
                f"X has {arr.shape[1]} features, but {who} is expecting {len(names)} features "
                f"as input ({', '.join(map(str, names))} in that order); or pass a DataFrame with those columns"
            )
        # An object array of numbers holds numbers (as scikit-learn reads it); text stays text.
        return pd.DataFrame(arr, columns=list(names)).infer_objects()
    missing = [n for n in names or () if n not in X.columns]
    if missing:
        raise UnknownNameError(
            f"feature {missing[0]!r} is not a column of the input ({len(X)} rows); "
            + did_you_mean(missing[0], map(str, X.columns))
        )
    return X


class Preprocessor(ValidatedParams, TransformerMixin, BaseEstimator):
    """Per-feature-type preprocessing for clustering (scikit-learn transformer).

    Parameters
    ----------
    features : dict of str to str, or list of str, default ()
        Feature names and their kind (``"numeric"``, ``"boolean"``, ``"categorical"``);
        with a list, kinds are inferred from the dtypes seen in :meth:`fit`; empty: every
        column of the input, kinds inferred (an array's columns are ``x0``, ``x1``...).
    log_skewed : bool, default True
        Apply ``log(1 + x)`` to non-negative numeric features whose skewness (after
        winsorising) exceeds ``skew_threshold``.
    skew_threshold : float, default 1.0
        Skewness above which a non-negative feature is log-transformed.
    winsorize : tuple of (float, float) or None, default (0.01, 0.99)
        Quantiles at which numeric features are clipped; None disables clipping.
    scaling : {"robust", "standard", None}, default "robust"
        Median/IQR (the standard deviation of the winsorised values when larger, as for
        zero-inflated shares), mean/std, or no scaling of numeric features.
    categorical_weight : float or "auto", default "auto"
        Value of a one-hot column; ``"auto"`` is ``1/sqrt(2)`` (see module notes).
    max_categories : int, default 20
        Keep at most this many most frequent levels per categorical feature.

    Attributes
    ----------
    kinds_ : dict
        Kind of each feature.
    params_ : dict
        Learned parameters per feature (fill value, clip bounds, skewness, log
        decision, centre, scale, levels, weight).
    feature_names_out_ : list of str
        Output column names.
    n_features_in_ : int
        Number of features read.
    feature_names_in_ : ndarray of str
        Their names, when fitted on a DataFrame (the frame's other columns are ignored, in
        fit and in transform).
    """

    _parameter_constraints = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        features: Mapping[str, str] | Sequence[str] = (),
        log_skewed: bool = True,
        skew_threshold: float = 1.0,
        winsorize: tuple[float, float] | None = (0.01, 0.99),
        scaling: str | None = "robust",
        categorical_weight: float | str = "auto",
        max_categories: int = 20,
    ):
        self.features = features
        self.log_skewed = log_skewed
        self.skew_threshold = skew_threshold
        self.winsorize = winsorize
        self.scaling = scaling
        self.categorical_weight = categorical_weight
        self.max_categories = max_categories

    # ------------------------------------------------------------------ checks
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are filled
        tags.input_tags.string = True  # categorical features are text
        return tags

    def _frame(self, X: Any, names: Sequence[str] | None) -> pd.DataFrame:
        return as_frame(X, names, type(self).__name__)

    def _resolve_kinds(self, X: Any) -> tuple[dict[str, str], pd.DataFrame]:
        """The kind of every feature, and ``X`` as a frame holding them."""
        if isinstance(self.features, Mapping):
            kinds = {str(k): str(v) for k, v in self.features.items()}
            for name, kind in kinds.items():
                if kind not in KINDS:
                    raise ConfigError(f"feature {name!r} has kind {kind!r}; {did_you_mean(kind, KINDS)}")
            X = self._frame(X, list(kinds))
        else:
            names = [str(n) for n in self.features]
            if not names and isinstance(X, pd.DataFrame):
                # Every column of the frame; names as text, as the fitted model stores them.
                X = X.rename(columns=str)
                names = list(X.columns)
            X = self._frame(X, names or None)
            kinds = {n: _infer_kind(X[n]) for n in (names or X.columns)}
        if not kinds:
            raise ConfigError("Preprocessor needs at least one feature (the input has no column)")
        return kinds, X

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: Any = None) -> Preprocessor:
        """Learn fill values, clip bounds, log decisions, scales and levels from ``X``.

        Raises
        ------
        ConfigError
            A setting is outside its limits, or a feature's kind is unknown.
        UnknownNameError
            A feature is not a column of ``X`` (:meth:`transform` raises the same).
        DataError
            ``X`` is empty, sparse or of the wrong shape, or a feature has no usable value.
        """
        X_in = X
        kinds, X = self._resolve_kinds(X)
        if len(X) == 0:
            raise DataError("cannot fit preprocessing on an empty table (0 rows)")
        weight = (
            DEFAULT_CATEGORICAL_WEIGHT
            if self.categorical_weight == "auto"
            else float(self.categorical_weight)
        )
        params: dict[str, dict[str, Any]] = {}
        for name, kind in kinds.items():
            if kind == "numeric":
                params[name] = self._fit_numeric(name, X[name])
            elif kind == "boolean":
                values = as_boolean(X[name])
                ones, zeros = np.sum(values == 1.0), np.sum(values == 0.0)
                params[name] = {"kind": kind, "fill": 1.0 if ones > zeros else 0.0}
            else:
                counts = as_category(X[name]).value_counts(dropna=True)
                if counts.empty:
                    raise DataError(
                        f"categorical feature {name!r} has no values ({len(X)} rows, all missing)"
                    )
                # Frequency first, then name, so ties resolve the same way on every run.
                ranked = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
                levels = [str(level) for level, _ in ranked[: int(self.max_categories)]]
                params[name] = {"kind": kind, "fill": levels[0], "levels": levels, "weight": weight}
        self.kinds_ = kinds
        self.params_ = params
        self.feature_names_out_ = self._names_out()
        self._set_inputs(X_in, list(kinds))
        return self

    def _set_inputs(self, X: Any, names: list[str]) -> None:
        """Record ``n_features_in_``, and ``feature_names_in_`` for a frame, as scikit-learn does."""
        self.n_features_in_ = len(names)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _fit_numeric(self, name: str, series: pd.Series) -> dict[str, Any]:
        raw = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        seen = raw[np.isfinite(raw)]
        if seen.size == 0:
            raise DataError(f"numeric feature {name!r} has no finite values ({len(raw)} rows)")
        out: dict[str, Any] = {"kind": "numeric", "fill": float(np.median(seen))}
        if self.winsorize is not None:
            lo, hi = np.quantile(seen, list(self.winsorize))
            out["clip"] = [float(lo), float(hi)]
            seen = np.clip(seen, lo, hi)
        else:
            out["clip"] = None
        skewness = float(stats.skew(seen)) if np.ptp(seen) > 0 else 0.0
        out["skewness"] = skewness
        out["log1p"] = bool(self.log_skewed and seen.min() >= 0 and skewness > self.skew_threshold)
        values = _numeric_steps(raw, {**out, "center": 0.0, "scale": 1.0})
        center, scale = 0.0, 1.0
        if self.scaling == "robust":
            q25, center, q75 = (float(v) for v in np.quantile(values, [0.25, 0.5, 0.75]))
            # The IQR understates the spread when most values sit at one point (a share that
            # is 0 for 85 % of customers): in IQR units the other 15 % lie 10 units out and
            # that one feature decides every distance (k = 2 on the demo shop). The standard
            # deviation of the winsorised values is then the larger scale; for bell-shaped
            # features the IQR (1.35 sd) stays the larger one, so outliers still do not set it.
            scale = max(q75 - q25, float(np.std(values)))
        elif self.scaling == "standard":
            center, scale = float(np.mean(values)), float(np.std(values))
        out["center"] = float(center)
        out["scale"] = float(scale) if scale > 0 else 1.0
        return out

    def _names_out(self) -> list[str]:
        names = []
        for name, p in self.params_.items():
            if p["kind"] == "categorical":
                names.extend(f"{name}={level}" for level in p["levels"])
            else:
                names.append(name)
        return names

    # -------------------------------------------------------------- transform
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError("this Preprocessor is not fitted yet; call fit(X) first")

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Apply the learned steps; returns a float64 array (rows, len(feature_names_out_))."""
        self._check_fitted()
        X = self._frame(X, list(self.params_))
        out = np.empty((len(X), len(self.feature_names_out_)))  # filled column by column
        col = 0
        for name, p in self.params_.items():
            if p["kind"] == "numeric":
                raw = pd.to_numeric(X[name], errors="coerce").astype("float64").to_numpy()
                out[:, col] = _numeric_steps(raw, p)
                col += 1
            elif p["kind"] == "boolean":
                values = as_boolean(X[name])
                out[:, col] = np.where(np.isnan(values), p["fill"], values)
                col += 1
            else:
                text = as_category(X[name]).fillna(p["fill"])
                for level in p["levels"]:
                    out[:, col] = np.where((text == level).to_numpy(bool), p["weight"], 0.0)
                    col += 1
        return out

    def transform_row(self, values: Mapping[str, Any]) -> np.ndarray | None:
        """:meth:`transform` of one customer given as plain numbers, without pandas; None when it cannot.

        A customer's stored reasons hold its features as JSON numbers or nulls, and explaining
        one customer's cluster (the REST look-up) would spend nearly all its time building and
        converting a one-row frame. For numeric features whose values are ``int``, ``float``
        or ``None`` this applies the very steps :meth:`transform` applies (``_numeric_steps``
        on the same float64 values), so the result is identical; anything else (a boolean or
        categorical feature, a string value) returns None and the caller uses :meth:`transform`.
        """
        self._check_fitted()
        raw = np.empty(len(self.params_))
        for i, (name, p) in enumerate(self.params_.items()):
            value = values.get(name)
            kind = type(value)
            if p["kind"] != "numeric" or not (value is None or kind is int or kind is float):
                return None
            raw[i] = np.nan if value is None else float(value)
        return np.array([_numeric_steps(raw[i:i + 1], p)[0] for i, p in enumerate(self.params_.values())])

    def get_feature_names_out(self, input_features: Any = None) -> list[str]:
        """Names of the output columns (one per level for categorical features)."""
        self._check_fitted()
        return list(self.feature_names_out_)

    # ------------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """Settings and learned parameters as plain JSON values."""
        self._check_fitted()
        return {
            "settings": {
                "log_skewed": bool(self.log_skewed),
                "skew_threshold": float(self.skew_threshold),
                "winsorize": None if self.winsorize is None else [float(v) for v in self.winsorize],
                "scaling": self.scaling,
                "categorical_weight": self.categorical_weight,
                "max_categories": int(self.max_categories),
            },
            "features": dict(self.kinds_),
            "params": {name: dict(p) for name, p in self.params_.items()},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Preprocessor:
        """Rebuild a fitted Preprocessor from :meth:`to_dict` output."""
        settings = dict(doc["settings"])
        if settings.get("winsorize") is not None:
            settings["winsorize"] = tuple(settings["winsorize"])
        pre = cls(features=dict(doc["features"]), **settings)
        pre.kinds_ = dict(doc["features"])
        pre.params_ = {name: dict(p) for name, p in doc["params"].items()}
        pre.feature_names_out_ = pre._names_out()
        pre.n_features_in_ = len(pre.kinds_)
        # The document names the features; a loaded model reads them from a frame by name (and
        # an array's columns in that order), whatever it was fitted on.
        pre.feature_names_in_ = np.asarray(list(pre.kinds_), dtype=object)
        return pre


def _numeric_steps(raw: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """Fill, clip, log and scale one numeric column, in the order the engine replays."""
    values = np.where(np.isnan(raw), p["fill"], raw)
    if p["clip"] is not None:
        values = np.clip(values, p["clip"][0], p["clip"][1])
    if p["log1p"]:
        # log(1 + x) rather than np.log1p: the engine has only ln(), and both sides
        # must compute the same numbers for assignments to agree.
        values = np.log(values + 1.0)
    return (values - p["center"]) / p["scale"]
