"""segmint: an open-source customer segmentation engine.

The public API is importable from the package itself::

    import segmint

    with segmint.Workspace.open("my-shop") as ws:
        ws.segment("rfm")

Names are loaded on first use (PEP 562), so ``import segmint`` stays fast: it imports
neither Ibis, pandas nor scikit-learn until a name that needs them is asked for
(`segmint --help` and `segmint status` never pay for scikit-learn).

Examples
--------
>>> import segmint
>>> "Workspace" in segmint.__all__ and "BetaGeo" in dir(segmint)
True
>>> issubclass(segmint.ConfigError, ValueError)
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it. The one table both ``__getattr__`` and
#: ``__all__`` read, so a name cannot be listed without being importable (tests/test_api.py).
_EXPORTS: dict[str, str] = {
    # the façade and its configuration
    "Workspace": "segmint.workspace",
    "Config": "segmint.config",
    # errors: every class of segmint.errors
    "SegmintError": "segmint.errors",
    "ConfigError": "segmint.errors",
    "WorkspaceError": "segmint.errors",
    "DataError": "segmint.errors",
    "UnknownNameError": "segmint.errors",
    "FitError": "segmint.errors",
    "ModelVersionError": "segmint.errors",
    "NotFittedError": "segmint.errors",
    "SnapshotMissing": "segmint.errors",
    "RunMissing": "segmint.errors",
    "Conflict": "segmint.errors",
    # estimators (scikit-learn's contract)
    "BetaGeo": "segmint.clv",
    "ParetoNBD": "segmint.clv",
    "GammaGamma": "segmint.clv",
    "ClusterSegmenter": "segmint.segment.cluster",
    "Preprocessor": "segmint.segment.preprocess",
    "customer_lifetime_value": "segmint.clv",
    # what the façade returns
    "IngestReport": "segmint.ingest.report",
    "SegmentationResult": "segmint.segment.results",
    "SegmentationInfo": "segmint.segment.results",
    "History": "segmint.segment.results",
    "Migration": "segmint.segment.results",
    "Why": "segmint.segment.results",
    "RulePreview": "segmint.segment.results",
    "Scorecard": "segmint.evaluate.scorecard",
    "Profile": "segmint.profile.profiles",
    "Persona": "segmint.profile.personas",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segmint' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from segmint.clv import BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value
    from segmint.config import Config
    from segmint.errors import (
        ConfigError,
        Conflict,
        DataError,
        FitError,
        ModelVersionError,
        NotFittedError,
        RunMissing,
        SegmintError,
        SnapshotMissing,
        UnknownNameError,
        WorkspaceError,
    )
    from segmint.evaluate.scorecard import Scorecard
    from segmint.ingest.report import IngestReport
    from segmint.profile.personas import Persona
    from segmint.profile.profiles import Profile
    from segmint.segment.cluster import ClusterSegmenter
    from segmint.segment.preprocess import Preprocessor
    from segmint.segment.results import (
        History,
        Migration,
        RulePreview,
        SegmentationInfo,
        SegmentationResult,
        Why,
    )
    from segmint.workspace import Workspace
