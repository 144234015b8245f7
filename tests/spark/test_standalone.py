"""The parity suite against a real standalone cluster: a master and one worker started by the test.

The driver (this process) sends its jobs to the worker's executor, a separate JVM; the
warehouse is a local folder, which the worker shares, being on the same machine.
"""

from __future__ import annotations

import pytest

from tests.spark import parity
from tests.spark.test_parity import awkward_shop

pytestmark = [pytest.mark.spark, pytest.mark.slow,
              # PySpark 4.0 passes pandas 3 a deprecated keyword when it converts through Arrow
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
              # PySpark leaves the local sockets of its Arrow transfers to the garbage collector
              pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
              pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket"
                                         ":pytest.PytestUnraisableExceptionWarning")]


def test_awkward_shop_agrees_on_a_standalone_cluster(standalone_master, tmp_path):
    data = parity.write_shop(tmp_path / "data", awkward_shop())
    duck = parity.run(tmp_path / "duckdb", data, "duckdb")
    spark = parity.run(tmp_path / "spark", data, "spark", master=standalone_master)
    parity.assert_same(duck, spark)
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    assert context.master == standalone_master
    # the driver and the worker's executor: the work ran in another JVM than this process's
    assert context._jsc.sc().getExecutorMemoryStatus().size() >= 2
