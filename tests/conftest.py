"""Shared fixtures: small workspaces in tmp_path, the shared real data, artifacts folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A fresh workspace with a fixed pseudonymisation key."""
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    w = Workspace.init(tmp_path / "shop")
    yield w
    w.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data sets (../shared/data); the tests need them, as CI has them."""
    from segmint.datasets.real import data_dir

    return data_dir()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave screenshots and reports for a person to look at."""
    path = Path(os.environ.get("SEGMINT_TEST_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
