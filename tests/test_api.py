"""`import segmint` offers the documented API, lazily."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import segmint
from segmint import errors


def test_import_segmint_loads_no_heavy_library():
    # a fresh interpreter: this one has imported everything already
    code = ("import sys, segmint; heavy = [m for m in ('ibis', 'pandas', 'sklearn', 'duckdb', 'numpy') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"`import segmint` imported {out.strip()}"


def test_every_name_of_all_resolves():
    for name in segmint.__all__:
        assert getattr(segmint, name) is not None, name
    assert set(segmint.__all__) <= set(dir(segmint))


def test_all_lists_every_error_class():
    classes = {name for name, obj in vars(errors).items()
               if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == errors.__name__}
    classes.add("NotFittedError")  # made on first use (errors.__getattr__)
    assert classes <= set(segmint.__all__), classes - set(segmint.__all__)


def test_the_documented_names():
    from segmint.clv import BetaGeo
    from segmint.workspace import Workspace

    assert segmint.Workspace is Workspace and segmint.BetaGeo is BetaGeo
    assert {"Config", "ClusterSegmenter", "Preprocessor", "GammaGamma", "ParetoNBD"} <= set(segmint.__all__)
    assert segmint.NotFittedError is errors.NotFittedError


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Worksapce'"):
        segmint.Worksapce  # noqa: B018


def test_from_segmint_import_star():
    namespace: dict = {}
    exec("from segmint import *", namespace)
    assert namespace["Workspace"] is segmint.Workspace
