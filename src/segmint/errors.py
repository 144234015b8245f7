"""Errors raised by segmint.

Every error derives from :class:`SegmintError`, and each subclass also inherits the
builtin exception a Python user would expect (``ValueError``, ``KeyError``...), so
``except ValueError`` keeps working in code that does not know segmint.

Messages name the table, the column, how many rows, a few examples and the fix.
Use :func:`did_you_mean` to suggest a close name for an unknown one.

Examples
--------
>>> from segmint.errors import did_you_mean
>>> did_you_mean("custmer_id", ["customer_id", "order_id"])
"did you mean 'customer_id'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SegmintError(Exception):
    """Root of every error segmint raises on purpose."""


class ConfigError(SegmintError, ValueError):
    """``segmint.yaml`` or an argument is invalid."""


class WorkspaceError(SegmintError, FileNotFoundError):
    """A workspace is missing, or not a workspace."""


class DataError(SegmintError, ValueError):
    """Input data cannot be used as it is (missing column, unreadable file...)."""


class UnknownNameError(SegmintError, KeyError):
    """A name (feature, segmentation, segment, column) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class SnapshotMissing(DataError):
    """No feature snapshot is stored at the date asked for (and the caller did not want one computed).

    ``as_of`` is the date (ISO text), ``available`` the dates that have one, newest first.
    """

    def __init__(self, message: str, as_of: str, available: list[str]) -> None:
        super().__init__(message)
        self.as_of = as_of
        self.available = available


class RunMissing(DataError):
    """A segmentation has no stored run (at all, or at the date asked for).

    ``as_of`` is the date asked for (ISO text, or None for "any run"), ``available`` the dates
    that have a run. The API answers it with 404: the request was well formed, the run it
    names does not exist.
    """

    def __init__(self, message: str, as_of: str | None = None, available: list[str] | None = None) -> None:
        super().__init__(message)
        self.as_of = as_of
        self.available = available or []


class Conflict(ConfigError):
    """What a request would create exists already (an active token with the same name); the API's 409."""


class FitError(SegmintError, RuntimeError):
    """A model cannot be fitted to the data, or its optimiser did not converge."""


class ModelVersionError(SegmintError, ValueError):
    """A saved model comes from a version or format this segmint cannot read."""


def _not_fitted_error() -> type:
    """``NotFittedError``: a model was used before ``fit``; also scikit-learn's ``NotFittedError``.

    Built on first use (see :func:`__getattr__`): deriving from scikit-learn's class means importing
    scikit-learn, a second of every command's start, which `segmint --help`, `status` or `ingest`
    never need.
    """
    try:  # make ``except sklearn.exceptions.NotFittedError`` catch ours too
        from sklearn.exceptions import NotFittedError as sklearn_not_fitted
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        sklearn_not_fitted = AttributeError

    class NotFittedError(SegmintError, sklearn_not_fitted):
        """A model was used before ``fit`` (also scikit-learn's ``NotFittedError``)."""

    NotFittedError.__module__, NotFittedError.__qualname__ = __name__, "NotFittedError"
    return NotFittedError


def __getattr__(name: str) -> type:
    # PEP 562: ``NotFittedError`` is made once, on first access, then kept as a module attribute.
    if name == "NotFittedError":
        cls = globals()["NotFittedError"] = _not_fitted_error()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def did_you_mean(name: str, choices: Iterable[str], n: int = 1) -> str:
    """Return "did you mean 'x'?" for the closest choice, or a list of what exists.

    Parameters
    ----------
    name : str
        The unknown name the user typed.
    choices : iterable of str
        The names that exist.
    n : int, default 1
        How many suggestions to offer.

    Examples
    --------
    >>> did_you_mean("amout", ["amount", "ordered_at"])
    "did you mean 'amount'?"
    >>> did_you_mean("zzz", ["a", "b"])
    'known names: a, b'
    """
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"
    shown = sorted(choices)[:30]
    more = "" if len(choices) <= 30 else f" (and {len(choices) - 30} more)"
    return "known names: " + ", ".join(shown) + more if shown else "nothing is defined yet"


def examples(values: Iterable[object], limit: int = 5) -> str:
    """Format up to ``limit`` example values for an error message.

    Examples
    --------
    >>> examples(["a", "b", "c"], limit=2)
    "'a', 'b', ..."
    """
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")
