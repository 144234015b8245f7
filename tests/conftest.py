"""Shared fixtures: small workspaces in tmp_path, the shared real data, artifacts folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Where a Spark session started by a test keeps its warehouse and Derby metastore: a temporary folder,
#: never the working directory (Spark's default, which once committed spark-warehouse/ to the repository).
_SPARK_HOME = Path(tempfile.mkdtemp(prefix="segmint-spark-"))


def pytest_configure(config):
    # PySpark passes PYSPARK_SUBMIT_ARGS to the JVM it launches, so this covers every session a test
    # starts (SparkSession.builder...getOrCreate() or Ibis' pyspark backend), unless the test sets its own.
    os.environ.setdefault(
        "PYSPARK_SUBMIT_ARGS",
        f"--conf spark.sql.warehouse.dir={_SPARK_HOME / 'warehouse'} "
        f"--driver-java-options -Dderby.system.home={_SPARK_HOME / 'derby'} pyspark-shell")


def pytest_unconfigure(config):
    shutil.rmtree(_SPARK_HOME, ignore_errors=True)


def invoke_cli(capsys, args) -> tuple[int, str, str]:
    """Run ``segmint ARGS`` in this process (fast): (exit code, stdout, stderr)."""
    from segmint.cli import _state, main

    _state["debug"] = False
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def segmint_cli(capsys, monkeypatch):
    """``segmint_cli(*args) -> (exit code, stdout, stderr)``: the CLI in this process, with a fixed
    pseudonymisation key, a wide terminal and no ``$SEGMINT_WORKSPACE``."""
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SEGMINT_WORKSPACE", raising=False)
    return lambda *args: invoke_cli(capsys, args)


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
