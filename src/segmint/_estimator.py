"""What segmint's scikit-learn estimators share: declared parameter limits and the array edge of their input.

Parameter limits are data: each estimator lists them in ``_parameter_constraints`` with
scikit-learn's ``Interval`` / ``StrOptions`` (and :class:`Pair` for a ``(low, high)``
setting), and ``fit`` is wrapped in scikit-learn's ``_fit_context``, which checks them once
per fit. :class:`ValidatedParams` turns scikit-learn's message, generated from those
declarations, into a :class:`~segmint.errors.ConfigError` with a "did you mean" for a
mistyped option. Predictions never re-check parameters (a fitted model's were checked
when it was fitted), so they cost nothing on a million rows.

:func:`check_matrix` is the array edge: a NumPy array (or anything array-like that is
not a DataFrame) goes through scikit-learn's ``check_array`` so sparse, complex, empty and
1-D input are refused with scikit-learn's usual words, as a :class:`~segmint.errors.DataError`.

Examples
--------
>>> from numbers import Integral
>>> from sklearn.utils._param_validation import Interval
>>> Pair(Interval(Integral, 2, None, closed="left")).is_satisfied_by((2, 5))
True
>>> str(Pair(Interval(Integral, 2, None, closed="left")))
'a (low, high) pair with low <= high, each an int in the range [2, inf)'
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError, Options, StrOptions, make_constraint
from sklearn.utils.validation import check_array

from segmint.errors import ConfigError, DataError, did_you_mean


class Pair(Options):
    """A ``(low, high)`` pair whose two values each satisfy ``each``, with ``low <= high`` (``<`` if ``strict``).

    scikit-learn's validation accepts only its own constraint classes, so this one is an
    ``Options`` whose test and description are its own.
    """

    def __init__(self, each, strict: bool = False):
        super().__init__(tuple, set())
        self.each = make_constraint(each)
        self.strict = strict

    def is_satisfied_by(self, val: Any) -> bool:
        if isinstance(val, (str, bytes)):
            return False
        try:
            low, high = val
        except (TypeError, ValueError):
            return False
        if not (self.each.is_satisfied_by(low) and self.each.is_satisfied_by(high)):
            return False
        return bool(low < high) if self.strict else bool(low <= high)

    def __str__(self) -> str:
        return f"a (low, high) pair with low {'<' if self.strict else '<='} high, each {self.each}"


class ValidatedParams:
    """Mixin: ``_validate_params`` raises :class:`~segmint.errors.ConfigError` (a ``ValueError``).

    The message is scikit-learn's, generated from ``_parameter_constraints``; for a string that
    is none of the allowed options it adds the closest one.
    """

    _parameter_constraints: dict[str, list] = {}

    def _validate_params(self) -> None:
        try:
            super()._validate_params()
        except InvalidParameterError as exc:
            raise ConfigError(f"{exc}{self._option_hint()}") from exc

    def _option_hint(self) -> str:
        """" Did you mean 'x'?" for a string close to an allowed option, else "" (the message lists them)."""
        params = self.get_params(deep=False)
        for name, constraints in self._parameter_constraints.items():
            value = params.get(name)
            if not isinstance(value, str):
                continue
            made = [make_constraint(c) for c in constraints]
            if any(c.is_satisfied_by(value) for c in made):
                continue
            options = [o for c in made if isinstance(c, StrOptions) for o in c.options]
            hint = did_you_mean(value, options) if options else ""
            if hint.startswith("did you mean"):
                return f" D{hint[1:]}"
        return ""


def check_matrix(X: Any, who: str, what: str, *, numeric: bool = True) -> np.ndarray:
    """Return a non-frame input as a 2-D array, or raise :class:`~segmint.errors.DataError`.

    Parameters
    ----------
    X : array-like
        Not a DataFrame (frames are read by column name by the callers).
    who : str
        The estimator's class name, as scikit-learn's messages name it.
    what : str
        Prefix of the message (e.g. ``"BetaGeo.fit"``).
    numeric : bool, default True
        Convert to float64 (object arrays of numbers included); False keeps the dtype, for
        estimators that read categorical text.

    Examples
    --------
    >>> check_matrix([[1, 2]], "Model", "Model.fit").dtype
    dtype('float64')
    >>> check_matrix(np.empty((0, 3)), "Model", "Model.fit")
    Traceback (most recent call last):
    ...
    segmint.errors.DataError: Model.fit: Found array with 0 sample(s) (shape=(0, 3)) while a minimum of 1 is required by Model.
    """
    try:
        # NaN and infinity are left to the callers, whose messages name the column and rows.
        return check_array(
            X,
            accept_sparse=False,
            dtype="float64" if numeric else None,
            ensure_all_finite=False,
            input_name="X",
            estimator=who,
        )
    except (TypeError, ValueError) as exc:  # sparse input is a TypeError there; one class for all
        raise DataError(f"{what}: {exc}") from exc
