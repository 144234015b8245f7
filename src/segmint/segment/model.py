"""JSON documents for fitted segmentation models.

A fitted segmentation is data, not a pickle: a JSON document with a header that says
what it is and which segmint wrote it, followed by kind-specific parameters. This
module holds the parts every kind (clusters, rules, tiers) shares:

* :func:`model_header` builds the header;
* :func:`check_model_header` refuses documents this segmint cannot read;
* :func:`to_jsonable` / :func:`from_jsonable` turn NumPy values into plain JSON
  values and back, keeping every float exactly (JSON numbers written with ``repr``
  precision round-trip bit for bit; NaN and infinities, which JSON lacks, are
  written as ``{"$float": "nan"}``);
* :func:`dumps` / :func:`loads` do both steps for a whole document.

Examples
--------
>>> doc = {**model_header("cluster"), "centroids": [[0.1, float("nan")]]}
>>> text = dumps(doc)
>>> back = loads(text)
>>> check_model_header(back, "cluster")["kind"]
'cluster'
>>> back["centroids"][0][0] == 0.1
True
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from segmint.errors import ConfigError, ModelVersionError

#: Name written in every document so a stray JSON file is not mistaken for a model.
FORMAT_NAME = "segmint.model"
#: Version of the document layout; bump when a reader of the old layout would misread the new.
FORMAT_VERSION = 1
#: Layout versions this module can read.
READABLE_FORMAT_VERSIONS = (1,)

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _segmint_version() -> str:
    # Imported late: segmint/__init__ may one day import this module.
    from segmint import __version__

    return __version__


def _major(version: str) -> int:
    """Major number of a ``X.Y.Z`` version string (0 when unreadable)."""
    head = str(version).split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def model_header(kind: str) -> dict[str, Any]:
    """Return the header fields every model document starts with.

    Parameters
    ----------
    kind : str
        Segmentation kind, e.g. ``"cluster"``, ``"rules"``, ``"tiers"``.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``segmint_version`` and ``kind``.

    Examples
    --------
    >>> sorted(model_header("rules"))
    ['format', 'format_version', 'kind', 'segmint_version']
    """
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "segmint_version": _segmint_version(),
        "kind": str(kind),
    }


def check_model_header(doc: Any, expected_kind: str) -> dict[str, Any]:
    """Check that ``doc`` is a model document of ``expected_kind`` this segmint can read.

    Parameters
    ----------
    doc : dict
        A parsed model document.
    expected_kind : str
        The kind the caller is about to load.

    Returns
    -------
    dict
        ``doc`` itself, for chaining.

    Raises
    ------
    ModelVersionError
        Unknown format version, or written by a newer major segmint version.
    ConfigError
        Not a segmint model document, or a document of another kind.

    Examples
    --------
    >>> check_model_header({**model_header("cluster"), "format_version": 99}, "cluster")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segmint.errors.ModelVersionError: model document has format version 99 ...
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        got = type(doc).__name__ if not isinstance(doc, dict) else repr(doc.get("format"))
        raise ConfigError(
            f"not a segmint model document (format field is {got}, expected {FORMAT_NAME!r}); "
            "load a file written by a segmint model's to_json()"
        )
    ours = _segmint_version()
    theirs = str(doc.get("segmint_version", "unknown"))
    fmt = doc.get("format_version")
    if fmt not in READABLE_FORMAT_VERSIONS:
        raise ModelVersionError(
            f"model document has format version {fmt!r} (written by segmint {theirs}); "
            f"segmint {ours} reads format versions {list(READABLE_FORMAT_VERSIONS)}. "
            f"Upgrade segmint to at least {theirs}, or refit the model with segmint {ours}."
        )
    if _major(theirs) > _major(ours):
        raise ModelVersionError(
            f"model document was written by segmint {theirs}, a newer major version than the "
            f"installed segmint {ours}. Upgrade segmint to {theirs} or later, or refit the model "
            f"with segmint {ours}."
        )
    if doc.get("kind") != expected_kind:
        raise ConfigError(
            f"model document is of kind {doc.get('kind')!r}, expected {expected_kind!r}; "
            "load it with the class for its kind"
        )
    return doc


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy arrays/scalars and non-finite floats into plain JSON values.

    Examples
    --------
    >>> to_jsonable({"a": np.array([1.5, np.inf]), "b": np.int64(3), "c": (True, None)})
    {'a': [1.5, {'$float': 'inf'}], 'b': 3, 'c': [True, None]}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if obj is None or isinstance(obj, str):
        return obj
    raise ConfigError(f"cannot store a {type(obj).__name__} in a model document: {obj!r}")


def from_jsonable(obj: Any) -> Any:
    """Undo :func:`to_jsonable`'s encoding of non-finite floats.

    Examples
    --------
    >>> from_jsonable([1.0, {"$float": "-inf"}])
    [1.0, -inf]
    """
    if isinstance(obj, dict):
        if set(obj) == {"$float"} and obj["$float"] in _NON_FINITE:
            return _NON_FINITE[obj["$float"]]
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj


def dumps(doc: dict[str, Any], indent: int | None = 1) -> str:
    """Serialise a model document to JSON text (floats exact, no NaN literals)."""
    return json.dumps(to_jsonable(doc), indent=indent, allow_nan=False)


def loads(text: str) -> dict[str, Any]:
    """Parse JSON text written by :func:`dumps`.

    Raises
    ------
    ConfigError
        The text is not JSON.
    """
    try:
        return from_jsonable(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"model document is not valid JSON: {exc}") from None
