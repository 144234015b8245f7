"""Calibration/holdout split and report on CDNOW (39 + 39 weeks, ending 1998-06-30)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.clv import BetaGeo, calibration_and_holdout, holdout_report
from segmint.errors import DataError


@pytest.fixture(scope="module")
def cal_hold(cdnow_transactions) -> pd.DataFrame:
    return calibration_and_holdout(cdnow_transactions, "id", "date", "1997-09-30", "1998-06-30", freq="D",
                                   monetary_value_col="dollars", freq_multiplier=7)


def calibration(frame):
    return frame.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"})


def test_split(cal_hold, cdnow_summary):
    assert list(cal_hold.columns) == ["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
                                      "frequency_holdout", "monetary_value_holdout", "duration_holdout"]
    assert len(cal_hold) == 2357 and (cal_hold["duration_holdout"] == 39).all()
    np.testing.assert_array_equal(cal_hold["frequency_cal"], cdnow_summary["frequency"])
    np.testing.assert_array_equal(cal_hold["T_cal"].round(2), cdnow_summary["T"])
    # Customer 1 bought once more, on 1997-12-12, for 26.48.
    assert cal_hold.loc[1, ["frequency_holdout", "monetary_value_holdout"]].tolist() == [1.0, 26.48]


def test_report_reproduces_the_paper(cal_hold):
    model = BetaGeo().fit(calibration(cal_hold))
    report = holdout_report(model, cal_hold)
    assert list(report.index) == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    # Fader, Hardie & Lee (2005), conditional expectations for weeks 40-78 by calibration
    # purchases: actual and BG/NBD.
    actual = [0.237, 0.697, 1.393, 1.560, 2.532, 2.947, 3.862, 6.359]
    bgnbd = [0.225, 0.523, 1.044, 1.520, 2.164, 2.654, 3.504, 6.157]
    np.testing.assert_allclose(report["actual"].iloc[:8], actual, atol=6e-4)
    np.testing.assert_allclose(report["predicted"].iloc[:8], bgnbd, atol=2e-3)
    assert report.loc["all", "n_customers"] == 2357
    assert report["n_customers"].iloc[:8].sum() == 2357
    assert 0.55 < report.attrs["correlation"] < 0.7
    assert report.attrs["mean_absolute_error"] == pytest.approx(report.loc["all", "mean_absolute_error"])


def test_report_needs_holdout_columns(cal_hold):
    model = BetaGeo().fit(calibration(cal_hold))
    with pytest.raises(DataError, match="frequency_holdout"):
        holdout_report(model, cal_hold.drop(columns="frequency_holdout"))


def test_holdout_must_follow_calibration(cdnow_transactions):
    with pytest.raises(DataError, match="must be after"):
        calibration_and_holdout(cdnow_transactions, "id", "date", "1997-09-30", "1997-09-01")


def test_weekly_periods_without_money(cdnow_transactions):
    got = calibration_and_holdout(cdnow_transactions, "id", "date", "1997-09-30", "1998-06-30", freq="W")
    assert list(got.columns) == ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    # Weeks (Mon-Sun) from the one holding 1997-09-30 to the one holding 1998-06-30.
    assert (got["duration_holdout"] == 39).all()
    assert got["frequency_holdout"].sum() > 0


def test_split_is_by_timestamp_like_lifetimes():
    tx = pd.DataFrame({
        "c": [1, 1, 1, 2],
        "t": pd.to_datetime(["2024-01-01 10:00", "2024-01-10 09:00", "2024-01-10 15:00", "2024-01-05 00:00"]),
    })
    got = calibration_and_holdout(tx, "c", "t", "2024-01-10 12:00", "2024-01-20")
    # The 15:00 purchase is after the calibration end: holdout only, though on the same day.
    assert got.loc[1, ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout"]].tolist() == [1, 9, 9, 1]
    assert got.loc[2, "frequency_holdout"] == 0 and (got["duration_holdout"] == 10).all()
