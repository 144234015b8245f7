"""Shared CDNOW fixtures for the CLV tests (data from ../shared/data, never copied)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    path = DATA / "cdnow_customers_summary.csv"
    if not path.exists():
        pytest.skip("shared/data/cdnow_customers_summary.csv not present")
    return pd.read_csv(path, index_col="ID")


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    path = DATA / "cdnow_sample.txt"
    if not path.exists():
        pytest.skip("shared/data/cdnow_sample.txt not present")
    tx = pd.read_csv(path, sep=r"\s+", header=None, names=["master_id", "id", "date", "cds", "dollars"],
                     dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx
