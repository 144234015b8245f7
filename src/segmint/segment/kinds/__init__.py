"""Segmentation kinds, found in a registry: ``kinds.get("cluster")``, ``kinds.register(MyKind())``.

Every kind implements :class:`~segmint.segment.kinds.base.SegmentationKind`; the built-in
ones live one module each (:mod:`.rules` for rules, audiences and rfm, :mod:`.cluster`,
:mod:`.hybrid`, :mod:`.tiers`) and register themselves when the registry is first used.
Definitions (:func:`segmint.segment.definitions.parse_definition`), runs, explanations and
stored reasons look kinds up here, so adding a kind is one module and its tests.

Examples
--------
>>> from segmint.segment import kinds
>>> kinds.get("cluster").model_kind, kinds.get("audiences").exclusive
('cluster', False)
>>> sorted(kinds.model_kinds())
['cluster', 'hybrid', 'rules', 'tiers']
>>> kinds.get("clustr")
Traceback (most recent call last):
...
segmint.errors.UnknownNameError: unknown segmentation kind 'clustr'; did you mean 'cluster'?
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

from segmint.errors import ConfigError, UnknownNameError, did_you_mean
from segmint.segment.kinds.base import FitContext, SegmentationKind

__all__ = ["FitContext", "SegmentationKind", "check_doc", "for_model", "get", "model_kinds", "names", "register",
           "unregister"]

#: The built-in kinds' modules, imported (and so registered) on the registry's first use.
BUILTIN_MODULES = ("rules", "cluster", "hybrid", "tiers")

_KINDS: dict[str, SegmentationKind] = {}
_MODELS: dict[str, SegmentationKind] = {}
_LOCK = threading.RLock()
_loaded = False


def _builtins() -> None:
    global _loaded
    if _loaded:
        return
    with _LOCK:
        if not _loaded:
            for module in BUILTIN_MODULES:
                importlib.import_module(f"{__name__}.{module}")
            # set last: another thread waits on the lock until every built-in kind is registered
            _loaded = True


def register(kind: SegmentationKind, replace: bool = False) -> SegmentationKind:
    """Add ``kind`` to the registry (returns it, so a module can write ``KIND = register(MyKind())``).

    Its ``model_kind`` is read by the first kind registered for it. A name already taken is
    an error unless ``replace=True``.
    """
    for attr in ("name", "model_kind", "definition"):
        if not hasattr(kind, attr):
            raise ConfigError(f"a segmentation kind needs a {attr!r} attribute; {type(kind).__name__} has none")
    with _LOCK:
        if kind.name in _KINDS and not replace:
            raise ConfigError(f"segmentation kind {kind.name!r} is registered already; pass replace=True to "
                              "replace it")
        old = _KINDS.get(kind.name)
        _KINDS[kind.name] = kind
        if old is not None and _MODELS.get(old.model_kind) is old:
            del _MODELS[old.model_kind]
        _MODELS.setdefault(kind.model_kind, kind)
    return kind


def unregister(name: str) -> None:
    """Remove the kind ``name`` (tests register toy kinds and take them out again)."""
    with _LOCK:
        kind = _KINDS.pop(name, None)
        if kind is not None and _MODELS.get(kind.model_kind) is kind:
            del _MODELS[kind.model_kind]
            # another kind writing the same model kind reads its documents from now on
            for other in _KINDS.values():
                if other.model_kind == kind.model_kind:
                    _MODELS[kind.model_kind] = other
                    break


def get(name: str) -> SegmentationKind:
    """The kind a definition's ``kind:`` names; :class:`UnknownNameError` with "did you mean" otherwise."""
    _builtins()
    kind = _KINDS.get(name)
    if kind is None:
        raise UnknownNameError(f"unknown segmentation kind {name!r}; {did_you_mean(str(name), list(_KINDS))}")
    return kind


def for_model(doc: Mapping[str, Any] | str) -> SegmentationKind:
    """The kind that reads model documents of ``doc``'s kind (or of the model kind named)."""
    _builtins()
    model_kind = doc if isinstance(doc, str) else doc.get("kind")
    kind = _MODELS.get(model_kind)
    if kind is None:
        raise ConfigError(f"model document of unknown kind {model_kind!r}; "
                          f"{did_you_mean(str(model_kind), list(_MODELS))}")
    return kind


#: The built-in kinds in the order the docs list them; messages list kinds so whatever module was imported first.
BUILTIN_ORDER = ("rules", "audiences", "rfm", "cluster", "hybrid", "tiers")


def _ordered(names: list[str]) -> tuple[str, ...]:
    """The built-in kinds first in :data:`BUILTIN_ORDER`, then the others in registration order."""
    rank = {n: i for i, n in enumerate(BUILTIN_ORDER)}
    return tuple(sorted(names, key=lambda n: rank.get(n, len(rank))))  # sorted() is stable for the others


def names() -> tuple[str, ...]:
    """Every registered definition kind: the built-in ones in :data:`BUILTIN_ORDER`, then the others."""
    _builtins()
    return _ordered(list(_KINDS))


def model_kinds() -> tuple[str, ...]:
    """Every model document kind a registered kind reads (the same order)."""
    _builtins()
    return _ordered(list(_MODELS))


def check_doc(doc: Mapping[str, Any] | str) -> dict[str, Any]:
    """A model document (or its JSON text) decoded and checked: a readable header and a registered kind."""
    from segmint.segment import model as docs

    doc = docs.loads(doc) if isinstance(doc, str) else docs.from_jsonable(dict(doc))
    kind = doc.get("kind") if isinstance(doc, dict) else None
    known = model_kinds()
    # The header check comes first, so a document from an unknown version is refused as such.
    docs.check_model_header(doc, kind if kind in known else str(kind))
    if kind not in known:
        raise ConfigError(f"model document of unknown kind {kind!r}; {did_you_mean(str(kind), known)}")
    return doc
