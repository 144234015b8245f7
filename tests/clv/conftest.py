"""Shared CDNOW fixtures for the CLV tests (the real data sets, found as every test finds them; never copied)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def cdnow_summary(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "cdnow_customers_summary.csv", index_col="ID")


@pytest.fixture(scope="session")
def cdnow_transactions(shared_data) -> pd.DataFrame:
    tx = pd.read_csv(shared_data / "cdnow_sample.txt", sep=r"\s+", header=None,
                     names=["master_id", "id", "date", "cds", "dollars"],
                     dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx
