"""rfm_summary: Lifetimes' definitions, checked on CDNOW and against a plain pandas reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmint.errors import ConfigError, DataError, UnknownNameError
from segmint.features.summary import rfm_summary


def load_cdnow_sample(data: Path) -> pd.DataFrame:
    tx = pd.read_csv(
        data / "cdnow_sample.txt", sep=r"\s+", header=None,
        names=["master_id", "id", "date", "cds", "dollars"], dtype={"date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


def reference(tx, cid, dt, mv=None, end=None, freq="D", mult=1, include_first=False):
    """Lifetimes' algorithm written plainly with pandas periods, one customer at a time."""
    tx = tx.copy()
    tx[dt] = pd.to_datetime(tx[dt])
    end_p = (pd.Timestamp(end) if end is not None else tx[dt].max()).to_period(freq)
    tx["p"] = tx[dt].dt.to_period(freq)
    tx = tx[tx["p"] <= end_p]
    per = tx.groupby([cid, "p"])[mv].sum() if mv else tx.groupby([cid, "p"]).size()
    rows = {}
    for c, grp in per.groupby(level=0):
        grp = grp.sort_index()
        periods = grp.index.get_level_values(1)
        first, last = periods.min(), periods.max()
        row = {
            "frequency": float(len(grp) - (0 if include_first else 1)),
            "recency": (last - first).n / mult,
            "T": (end_p - first).n / mult,
        }
        if mv:
            vals = grp.to_numpy() if include_first else grp.to_numpy()[1:]
            row["monetary_value"] = float(vals.mean()) if len(vals) else 0.0
        rows[c] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = cid
    return out


def random_log(n=400, seed=1, hours=False):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    unit = "h" if hours else "D"
    span = 400 * (24 if hours else 1)
    return pd.DataFrame({
        "cust": rng.choice([f"c{i:03d}" for i in range(60)], n),
        "when": start + pd.to_timedelta(rng.integers(0, span, n), unit=unit)
        + pd.to_timedelta(rng.integers(0, 3600, n), unit="s"),
        "amount": rng.gamma(2.0, 20.0, n).round(2),
    })


def test_cdnow_sample_matches_published_summary(shared_data):
    tx = load_cdnow_sample(shared_data)
    got = rfm_summary(tx, "id", "date", observation_period_end="1997-09-30", freq="D", freq_multiplier=7)
    pub = pd.read_csv(shared_data / "cdnow_customers_summary.csv", index_col="ID")
    assert list(got.index) == list(pub.index)
    np.testing.assert_array_equal(got["frequency"], pub["frequency"])
    np.testing.assert_array_equal(got["recency"].round(2), pub["recency"])
    np.testing.assert_array_equal(got["T"].round(2), pub["T"])
    assert (got["frequency"] > 0).sum() == 946


@pytest.mark.parametrize("freq", ["D", "W"])
@pytest.mark.parametrize("include_first", [False, True])
def test_matches_reference(freq, include_first):
    tx = random_log()
    got = rfm_summary(tx, "cust", "when", "amount", observation_period_end="2023-12-01", freq=freq,
                      include_first_transaction=include_first)
    want = reference(tx, "cust", "when", "amount", end="2023-12-01", freq=freq, include_first=include_first)
    pd.testing.assert_frame_equal(got, want[got.columns], check_exact=False, rtol=1e-12)


def test_matches_reference_hours_and_multiplier_without_money():
    tx = random_log(hours=True)
    got = rfm_summary(tx, "cust", "when", freq="h", freq_multiplier=24)
    want = reference(tx, "cust", "when", freq="h", mult=24)
    pd.testing.assert_frame_equal(got, want[got.columns], check_exact=False, rtol=1e-12)


def test_integer_ids_sparse_and_dense_agree():
    tx = random_log()
    codes = tx["cust"].str[1:].astype(int)
    dense = rfm_summary(tx.assign(cust=codes), "cust", "when", "amount")
    sparse = rfm_summary(tx.assign(cust=codes * 10**12), "cust", "when", "amount")
    np.testing.assert_allclose(dense.to_numpy(), sparse.to_numpy())
    assert list(sparse.index) == [i * 10**12 for i in dense.index]


def test_small_example_by_hand():
    tx = pd.DataFrame({
        "c": [1, 1, 1, 1, 2],
        "d": ["20240101 09:00", "20240101 18:00", "20240108 12:00", "20240201 10:00", "20240103 23:59"],
        "v": [10.0, 5.0, 30.0, 99.0, 7.0],
    })
    got = rfm_summary(tx, "c", "d", "v", observation_period_end="2024-01-20", datetime_format="%Y%m%d %H:%M")
    # Customer 1: same-day purchases are one period (15 spent), then one repeat on day 7;
    # the February purchase is after the end of observation.
    assert got.loc[1].tolist() == [1.0, 7.0, 19.0, 30.0]
    assert got.loc[2].tolist() == [0.0, 0.0, 17.0, 0.0]
    weeks = rfm_summary(tx, "c", "d", "v", observation_period_end="2024-01-20", freq="W",
                        datetime_format="%Y%m%d %H:%M")
    assert weeks.loc[1, ["frequency", "recency", "T"]].tolist() == [1.0, 1.0, 2.0]


def test_errors_name_the_problem():
    tx = random_log(20)
    with pytest.raises(UnknownNameError, match="did you mean 'cust'"):
        rfm_summary(tx, "custo", "when")
    with pytest.raises(ConfigError, match="freq"):
        rfm_summary(tx, "cust", "when", freq="Q")
    bad = tx.copy()
    bad.loc[3, "when"] = pd.NaT
    with pytest.raises(DataError, match=r"'when' is empty in 1 rows \(index 3\)"):
        rfm_summary(bad, "cust", "when")


@pytest.mark.parametrize("freq", ["D", "W", "h"])
def test_resolution_old_dates_and_time_zones(freq):
    tx = random_log(hours=True)
    tx["when"] = tx["when"] - pd.Timedelta(days=365 * 60)  # before 1970: floor, not truncation
    want = reference(tx, "cust", "when", "amount", freq=freq)
    for when in (tx["when"].astype("datetime64[us]"), tx["when"].astype("datetime64[s]"),
                 tx["when"].dt.tz_localize("Etc/GMT-2")):
        got = rfm_summary(tx.assign(when=when), "cust", "when", "amount", freq=freq)
        pd.testing.assert_frame_equal(got, want[got.columns], check_exact=False, rtol=1e-12)


def test_nothing_before_the_end_gives_an_empty_frame():
    tx = random_log(20)
    got = rfm_summary(tx, "cust", "when", "amount", observation_period_end="2000-01-01")
    assert got.empty and list(got.columns) == ["frequency", "recency", "T", "monetary_value"]
