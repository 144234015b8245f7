"""Spark test fixtures: PySpark installed by scripts/install-pyspark.sh, and a standalone cluster.

Every test here carries the ``spark`` marker. PySpark is installed on first use (it is not a
dependency of segmint); without Java the tests skip, as nothing else could run them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def pyspark():
    """PySpark, installed into this interpreter's environment when missing (the one install step)."""
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: the Spark tests need Java 17")
    try:
        import pyspark as module
    except ImportError:
        subprocess.run([str(REPO / "scripts" / "install-pyspark.sh"), sys.executable], check=True)
        import pyspark as module
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"the standalone Spark process did not say {text!r} in {seconds:.0f} s:\n"
                       + (log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"))


@pytest.fixture(scope="session")
def standalone_master(pyspark, tmp_path_factory):
    """A standalone Spark master and one worker (1 core) from the PySpark installation; its URL.

    Started with ``spark-class`` (PySpark ships ``bin/spark-class`` but not the ``sbin`` scripts);
    stopped, with their logs removed, at the end of the session.
    """
    home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("standalone")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_WORKER_DIR": str(logs / "work"), "PYSPARK_PYTHON": sys.executable}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    procs = []
    try:
        with open(logs / "master.log", "w") as out:
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(_free_port())], env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(logs / "master.log", "I have been elected leader", procs[0], 300)
        with open(logs / "worker.log", "w") as out:
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--cores", "1", "--memory", "1g",
                 "--webui-port", str(_free_port())], env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(logs / "worker.log", "Successfully registered with master", procs[1], 300)
        yield url
    finally:
        from pyspark import SparkContext

        context = SparkContext._active_spark_context
        if context is not None and context.master == url:
            context.stop()  # before its executors go: else Spark reports them lost
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
