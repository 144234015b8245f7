"""Loaders of the shared real data sets (skipped where the data folder is absent)."""

from __future__ import annotations

import gzip

import pytest

from segmint.datasets import real
from segmint.errors import DataError

try:
    real.data_dir()
    HAVE_DATA = True
except DataError:
    HAVE_DATA = False

needs_data = pytest.mark.skipif(not HAVE_DATA, reason="shared real data not found (set SEGMINT_DATA_DIR)")


@needs_data
def test_cdnow_summary_matches_the_paper_layout():
    s = real.load_cdnow_summary()
    assert list(s.columns) == ["sample_id", "frequency", "recency", "T"]
    assert len(s) == 2_357
    assert s.iloc[0].tolist() == [1, 2, 30.43, 38.86]
    assert (s["frequency"] > 0).sum() == 946  # the repeat buyers of the Gamma-Gamma paper


@needs_data
def test_cdnow_sample_columns_and_join_with_summary():
    x = real.load_cdnow_sample()
    assert list(x.columns) == ["customer_id", "sample_id", "date", "cds", "dollars"]
    assert len(x) == 6_919 and x["sample_id"].nunique() == 2_357
    assert x["customer_id"].iloc[0] == "00004" and str(x["date"].iloc[0].date()) == "1997-01-01"
    assert x["date"].dtype.kind == "M" and x["cds"].dtype.kind == "i" and x["dollars"].dtype.kind == "f"
    assert set(x["sample_id"]) == set(real.load_cdnow_summary()["sample_id"])


@needs_data
def test_cdnow_master_and_mall_customers():
    m = real.load_cdnow_master()
    assert len(m) == 69_659 and m["customer_id"].nunique() == 23_570
    mall = real.load_mall_customers()
    assert list(mall.columns) == ["customer_id", "gender", "age", "annual_income_thousands", "spending_score"]
    assert len(mall) == 200 and mall["customer_id"].iloc[0] == "0001"
    assert mall["spending_score"].between(1, 100).all()


@needs_data
def test_online_retail_path_points_at_the_gzip():
    path = real.online_retail_path()
    assert path.name == "online_retail.csv.gz"
    with gzip.open(path, "rt") as handle:
        assert handle.readline().strip().startswith("InvoiceNo,StockCode,Description,Quantity")


def test_env_var_wins_and_a_missing_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(real.ENV_VAR, str(tmp_path))
    assert real.data_dir() == tmp_path
    with pytest.raises(DataError, match="cdnow_sample.txt is missing"):
        real.load_cdnow_sample()
    monkeypatch.setenv(real.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataError, match="nope"):
        real.data_dir()


def test_nothing_found_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv(real.ENV_VAR, raising=False)
    monkeypatch.setattr(real, "_candidates", lambda: [tmp_path / "a" / "shared" / "data"])
    with pytest.raises(DataError) as info:
        real.online_retail_path()
    assert str(tmp_path / "a" / "shared" / "data") in str(info.value)
    assert real.ENV_VAR in str(info.value)
    assert isinstance(info.value, ValueError)


def test_search_goes_upward_from_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(real.ENV_VAR, raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    deep = tmp_path / "repo" / "sub"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert real.data_dir() == tmp_path / "shared" / "data"
