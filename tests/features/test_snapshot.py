"""Snapshots: stored by (as_of, customer_id), replaced atomically, listed and loaded back."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from .conftest import AS_OF

from segmint.errors import DataError
from segmint.features import compute_features, features_frame, list_snapshots, load_features, snapshot


def test_store_list_load_and_replace(shop):
    assert list_snapshots(shop.store) == []
    with pytest.raises(DataError, match="segmint features"):
        load_features(shop.store)
    info = snapshot(shop.store, AS_OF)
    assert info["as_of"] == "2024-07-01" and info["customers"] == 7
    assert "recency_days" in info["features"] and "customer_id" not in info["features"]
    assert "predictive" in info["skipped"]  # too few repeat buyers here
    snapshot(shop.store, "2024-03-01")
    assert list_snapshots(shop.store) == [{"as_of": "2024-03-01", "customers": 5},
                                          {"as_of": "2024-07-01", "customers": 7}]
    # Recomputing a date replaces it: no duplicated rows.
    snapshot(shop.store, AS_OF)
    assert shop.store.count("features") == 12
    latest = load_features(shop.store).to_pyarrow().to_pandas()
    assert set(latest.as_of) == {pd.Timestamp(AS_OF)} and latest.customer_id.is_unique
    computed = compute_features(shop.store, AS_OF).to_pyarrow().to_pandas()
    stored = latest.drop(columns="as_of").set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(stored[computed.columns[1:]],
                                  computed.set_index("customer_id").sort_index(), check_dtype=False)


def test_missing_date_names_the_stored_ones(shop):
    snapshot(shop.store, AS_OF)
    with pytest.raises(DataError, match=r"no feature snapshot as of 2024-01-01; stored snapshots: 2024-07-01"):
        load_features(shop.store, "2024-01-01")


def test_new_feature_columns_are_added(shop):
    # Early on there are no events, so no engagement columns; a later snapshot adds them.
    snapshot(shop.store, "2023-03-01")
    assert "emails_sent" not in shop.store.table("features").columns
    snapshot(shop.store, AS_OF)
    early = load_features(shop.store, "2023-03-01").to_pyarrow().to_pandas()
    assert "emails_sent" in early.columns and early.emails_sent.isna().all()


def test_failed_store_keeps_the_previous_snapshot(shop, monkeypatch):
    snapshot(shop.store, AS_OF)
    before = shop.store.count("features")
    from segmint.features import snapshot as _  # noqa: F401 - the function; patch the module below
    import sys

    module = sys.modules["segmint.features.snapshot"]

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(shop.store.con, "insert", boom)
    with pytest.raises(RuntimeError):
        module.snapshot(shop.store, AS_OF)
    assert shop.store.count("features") == before


def test_features_frame_for_the_workspace(shop):
    df = features_frame(shop.store, dt.date(2024, 7, 1))
    assert len(df) == 7 and list_snapshots(shop.store)[0]["as_of"] == "2024-07-01"
    unsaved = features_frame(shop.store, "2024-03-01", save=False)
    assert len(unsaved) == 5 and len(list_snapshots(shop.store)) == 1
