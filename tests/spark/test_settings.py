"""engine.backend and engine.spark in segmint.yaml: parsed, checked, and the warehouse resolved (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmint.config import Config
from segmint.errors import ConfigError
from segmint.store.spark import FIXED_CONF, warehouse_uri


def test_spark_settings_parse():
    cfg = Config.parse({"engine": {"backend": "spark", "spark": {
        "master": "spark://10.0.0.5:7077", "warehouse": "s3a://bucket/shop", "conf": {"spark.executor.memory": "4g"}}}})
    assert cfg.engine.backend == "spark"
    assert cfg.engine.spark.master == "spark://10.0.0.5:7077"
    assert cfg.engine.spark.conf == {"spark.executor.memory": "4g"}
    assert Config.parse({}).engine.backend == "duckdb"


@pytest.mark.parametrize("master", ["local[x]", "spark:/host", "http://host:7077", "local [2]"])
def test_a_bad_master_is_refused_with_the_forms_that_work(master):
    with pytest.raises(ConfigError, match="is not a Spark master; write local"):
        Config.parse({"engine": {"backend": "spark", "spark": {"master": master}}})


def test_an_unknown_backend_is_refused():
    with pytest.raises(ConfigError, match="backend"):
        Config.parse({"engine": {"backend": "postgres"}})


def test_the_warehouse_is_a_uri(tmp_path):
    assert warehouse_uri(tmp_path, None) == (tmp_path / ".segmint" / "spark" / "warehouse").resolve().as_uri()
    assert warehouse_uri(tmp_path, "tables") == (tmp_path / "tables").resolve().as_uri()
    assert warehouse_uri(tmp_path, "/data/wh") == Path("/data/wh").as_uri()
    assert warehouse_uri(tmp_path, "hdfs://nn:8020/segmint") == "hdfs://nn:8020/segmint"


def test_the_answers_do_not_depend_on_the_users_conf():
    # what the parity rests on is fixed after the user's conf (docs/spark.md lists why)
    assert FIXED_CONF["spark.sql.session.timeZone"] == "UTC"
    assert FIXED_CONF["spark.sql.ansi.enabled"] == "false"
