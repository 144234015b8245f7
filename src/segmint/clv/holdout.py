"""Calibration/holdout split of a transaction log and a report of predicted vs actual holdout purchases.

:func:`calibration_and_holdout` works like Lifetimes' ``calibration_and_holdout_data``:
the calibration summary (``frequency_cal, recency_cal, T_cal [, monetary_value_cal]``)
comes from :func:`segmint.features.summary.rfm_summary` on the purchases up to
``calibration_period_end``; ``frequency_holdout`` counts the periods with a purchase
after it (by timestamp), up to ``observation_period_end``; ``duration_holdout`` is the holdout length
in the same unit. Only customers seen in the calibration period are kept.

One deliberate difference: ``monetary_value_holdout`` is the mean of per-period sums,
the same definition as the calibration ``monetary_value`` (Lifetimes averages the raw
transaction rows there, so the two columns did not measure the same thing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.errors import DataError
from segmint.features.summary import _period_ordinal, _to_datetime, rfm_summary

__all__ = ["calibration_and_holdout", "holdout_report"]


def calibration_and_holdout(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    calibration_period_end,
    observation_period_end=None,
    freq: str = "D",
    monetary_value_col: str | None = None,
    freq_multiplier: float = 1,
    datetime_format: str | None = None,
) -> pd.DataFrame:
    """Split a transaction log into a calibration summary and holdout counts per customer.

    Parameters
    ----------
    transactions, customer_id_col, datetime_col, monetary_value_col, freq, freq_multiplier, datetime_format
        As for :func:`segmint.features.summary.rfm_summary`.
    calibration_period_end : date-like
        Last moment of the calibration period (inclusive).
    observation_period_end : date-like, optional
        Last moment of the holdout period (inclusive). Default: the last purchase.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: ``frequency_cal, recency_cal, T_cal [, monetary_value_cal],
        frequency_holdout [, monetary_value_holdout], duration_holdout``.
    """
    cal_end = _to_datetime(calibration_period_end, "calibration_period_end")
    if datetime_col not in transactions.columns:  # let rfm_summary name the missing column
        rfm_summary(transactions, customer_id_col, datetime_col)
    when = _to_datetime(transactions[datetime_col], f"column {datetime_col!r}", datetime_format)
    obs_end = (
        _to_datetime(observation_period_end, "observation_period_end") if observation_period_end is not None
        else when.max()
    )
    if obs_end <= cal_end:
        raise DataError(
            f"observation_period_end ({obs_end.date()}) must be after calibration_period_end ({cal_end.date()})"
        )
    # Split on timestamps, as Lifetimes does: a purchase later on the last calibration day (or week)
    # belongs to the holdout, never to both.
    in_calibration = (when <= cal_end).to_numpy()
    calibration = rfm_summary(
        transactions[in_calibration], customer_id_col, datetime_col, monetary_value_col,
        observation_period_end=cal_end, freq=freq, freq_multiplier=freq_multiplier, datetime_format=datetime_format,
    )
    calibration.columns = [f"{c}_cal" for c in calibration.columns]

    cal_p, obs_p = (int(_period_ordinal(pd.Series([d]), freq)[0]) for d in (cal_end, obs_end))
    period = _period_ordinal(when, freq)
    in_holdout = ~in_calibration & (when <= obs_end).to_numpy()
    holdout = pd.DataFrame(
        {"id": transactions[customer_id_col].to_numpy()[in_holdout], "period": period[in_holdout]}
    )
    if monetary_value_col:
        holdout["value"] = np.nan_to_num(
            pd.to_numeric(transactions[monetary_value_col], errors="coerce").to_numpy(dtype=float)[in_holdout]
        )
        per_period = holdout.groupby(["id", "period"], sort=False)["value"].sum().groupby(level="id")
        counts = per_period.size()
        means = per_period.mean()
    else:
        counts = holdout.drop_duplicates(["id", "period"]).groupby("id").size()
    out = calibration.copy()
    out["frequency_holdout"] = counts.reindex(out.index).fillna(0).to_numpy(dtype=float)
    if monetary_value_col:
        out["monetary_value_holdout"] = means.reindex(out.index).fillna(0).to_numpy(dtype=float)
    out["duration_holdout"] = (obs_p - cal_p) / freq_multiplier
    return out


def holdout_report(model, cal_hold_frame: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Compare a fitted purchase model's holdout predictions with what customers did.

    Parameters
    ----------
    model : BetaGeo or ParetoNBD
        Fitted on the calibration columns (``frequency_cal, recency_cal, T_cal``).
    cal_hold_frame : pandas.DataFrame
        Output of :func:`calibration_and_holdout`.
    max_frequency : int, default 7
        Calibration purchase counts from this one up are pooled into one row ("7+").

    Returns
    -------
    pandas.DataFrame
        One row per number of calibration repeat purchases, then an ``"all"`` row, with
        ``n_customers``, ``actual`` and ``predicted`` (mean holdout purchases) and
        ``mean_absolute_error`` (per customer). ``attrs`` holds the customer-level
        ``correlation`` (Pearson) and ``mean_absolute_error`` of the whole frame.
    """
    needed = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    missing = [c for c in needed if c not in cal_hold_frame.columns]
    if missing:
        raise DataError(f"holdout_report needs columns {', '.join(missing)}; make the frame with calibration_and_holdout")
    cal = pd.DataFrame({
        "frequency": cal_hold_frame["frequency_cal"].to_numpy(),
        "recency": cal_hold_frame["recency_cal"].to_numpy(),
        "T": cal_hold_frame["T_cal"].to_numpy(),
    })
    duration = cal_hold_frame["duration_holdout"].to_numpy(dtype=float)
    predicted = np.asarray(model.conditional_expected_purchases(duration, cal), dtype=float)
    actual = cal_hold_frame["frequency_holdout"].to_numpy(dtype=float)
    freq = cal["frequency"].to_numpy()
    label = np.where(freq >= max_frequency, f"{max_frequency}+", freq.astype(int).astype(str))
    frame = pd.DataFrame({"group": label, "actual": actual, "predicted": predicted,
                          "error": np.abs(predicted - actual), "order": np.minimum(freq, max_frequency)})
    table = frame.groupby(["order", "group"]).agg(
        n_customers=("actual", "size"), actual=("actual", "mean"),
        predicted=("predicted", "mean"), mean_absolute_error=("error", "mean"),
    ).reset_index(level="order", drop=True)
    table.loc["all"] = [len(frame), actual.mean(), predicted.mean(), frame["error"].mean()]
    table["n_customers"] = table["n_customers"].astype(int)
    table.index.name = "frequency_cal"
    correlation = float(np.corrcoef(predicted, actual)[0, 1]) if actual.std() > 0 and predicted.std() > 0 else np.nan
    table.attrs["correlation"] = correlation
    table.attrs["mean_absolute_error"] = float(frame["error"].mean())
    return table
