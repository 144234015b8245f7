"""A planted shop profile shared by the profile tests.

Plain cached functions rather than conftest.py fixtures (conftest.py files in folders without
``__init__.py`` clash by name under ``--doctest-modules``); computed once per session.
"""

from __future__ import annotations

from functools import cache

from segmint.evaluate import planted_features
from segmint.profile import profile


@cache
def get_planted():
    return planted_features(2500, seed=3)


@cache
def get_planted_profile():
    return profile(*get_planted())
