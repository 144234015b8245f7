"""Recency-frequency summary of a transaction log, with Lifetimes' exact definitions.

:func:`rfm_summary` turns a transaction log (one row per purchase) into the
``frequency, recency, T [, monetary_value]`` table that the CLV models of
:mod:`segmint.clv` fit, with the definitions of Lifetimes'
``summary_data_from_transaction_data`` so that users who come from Lifetimes get
the same numbers:

- time is cut into periods (``freq``); several purchases in one period count once
  and their values are summed;
- ``frequency`` is the number of *repeat* periods (periods with a purchase, less
  the first one);
- ``recency`` is the age of the customer at the last purchase: last period less
  first period; ``T`` is the age at the end of observation: end period less first
  period; both in periods, divided by ``freq_multiplier``;
- ``monetary_value`` is the mean of the per-period sums over the repeat periods,
  0 for a customer with no repeat period.

It is vectorised (factorised ids, integer period ordinals, ``bincount``): no
Python loop over customers and no sort of the transactions.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "customer": ["a", "a", "a", "b"],
...     "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-03"]),
...     "amount": [10.0, 5.0, 20.0, 7.0],
... })
>>> rfm_summary(tx, "customer", "date", "amount", observation_period_end="2024-01-10")  # doctest: +NORMALIZE_WHITESPACE
          frequency  recency    T  monetary_value
customer
a               1.0      4.0  9.0            20.0
b               0.0      0.0  7.0             0.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.errors import ConfigError, DataError, UnknownNameError, did_you_mean, examples

__all__ = ["FREQUENCIES", "rfm_summary"]

#: Period lengths understood by :func:`rfm_summary`, as in Lifetimes (pandas/numpy codes).
#: "W" is pandas' "W-SUN": calendar weeks from Monday to Sunday.
FREQUENCIES = ("D", "W", "h")


_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def _period_ordinal(values: pd.Series, freq: str) -> np.ndarray:
    """Integer period number of each timestamp (days, hours or Monday-based weeks since 1970)."""
    arr = values.to_numpy()
    unit = np.datetime_data(arr.dtype)[0] if arr.dtype.kind == "M" else None
    if unit not in _UNIT_NS:
        arr, unit = values.to_numpy(dtype="datetime64[ns]"), "ns"
    # Integer division of the raw counts is much cheaper than casting between datetime units;
    # floor division keeps dates before 1970 in the right period.
    ticks = arr.view(np.int64)
    per_hour = 3_600_000_000_000 // _UNIT_NS[unit]
    if freq == "h":
        return ticks // per_hour
    days = ticks // (24 * per_hour)
    if freq == "D":
        return days
    # 1970-01-01 is a Thursday: shifting by 3 days makes weeks start on Monday, as pandas' "W-SUN" periods do.
    return (days + 3) // 7


def _factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (codes, sorted unique ids); integer ids in a compact range skip hashing."""
    if ids.dtype.kind in "iu" and len(ids):
        lo, hi = int(ids.min()), int(ids.max())
        if hi - lo <= 4 * len(ids) + 1_000_000:
            present = np.bincount(ids - lo) > 0
            remap = np.cumsum(present) - 1
            return remap[ids - lo], (np.flatnonzero(present) + lo).astype(ids.dtype)
    codes, uniques = pd.factorize(ids, sort=True)
    return codes, np.asarray(uniques)


def _to_datetime(values: pd.Series | object, what: str, datetime_format: str | None = None) -> pd.Series:
    try:
        out = pd.to_datetime(values, format=datetime_format)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what} cannot be read as dates: {exc}") from exc
    if isinstance(out, pd.Series) and getattr(out.dt, "tz", None) is not None:
        # Periods are calendar periods of the local wall clock, as in Lifetimes (which drops the zone).
        out = out.dt.tz_localize(None)
    return out


def rfm_summary(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str | None = None,
    observation_period_end: object = None,
    freq: str = "D",
    include_first_transaction: bool = False,
    freq_multiplier: float = 1,
    datetime_format: str | None = None,
) -> pd.DataFrame:
    """Summarise a transaction log into frequency, recency, T (and monetary value) per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase.
    customer_id_col, datetime_col : str
        Columns holding the customer id and the purchase time (anything
        :func:`pandas.to_datetime` reads).
    monetary_value_col : str, optional
        Column holding the value of each purchase; adds ``monetary_value``.
    observation_period_end : date-like, optional
        End of observation; later purchases are ignored. Default: the last purchase.
    freq : {"D", "W", "h"}, default "D"
        Length of one period: day, calendar week (Monday-Sunday, pandas' "W-SUN") or hour.
    include_first_transaction : bool, default False
        Count the first period in ``frequency`` and ``monetary_value`` (keep False for the
        BG/NBD, Pareto/NBD and Gamma-Gamma models, which model repeat purchases).
    freq_multiplier : float, default 1
        Divide ``recency`` and ``T`` by this: ``freq="D", freq_multiplier=7`` gives weeks
        as fractional day counts / 7, which is how the published CDNOW summary
        (``cdnow_customers_summary.csv``) is made; ``freq="W"`` instead counts whole
        calendar weeks, as Lifetimes does for ``freq="W"``.
    datetime_format : str, optional
        ``strftime`` format of ``datetime_col`` when it holds text (e.g. ``"%Y%m%d"``).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted, named ``customer_id_col``), with float columns
        ``frequency, recency, T`` and ``monetary_value`` when asked.

    Raises
    ------
    UnknownNameError
        A named column does not exist.
    DataError
        Missing customer ids or dates, or unreadable dates.
    ConfigError
        An unknown ``freq``.
    """
    if freq not in FREQUENCIES:
        raise ConfigError(f"freq={freq!r} is not supported; use one of {', '.join(FREQUENCIES)}")
    if not freq_multiplier > 0:
        raise ConfigError(f"freq_multiplier must be > 0, got {freq_multiplier!r}")
    needed = [customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col else [])
    for col in needed:
        if col not in transactions.columns:
            raise UnknownNameError(
                f"transactions has no column {col!r}; {did_you_mean(str(col), map(str, transactions.columns))}"
            )

    ids = transactions[customer_id_col]
    when = _to_datetime(transactions[datetime_col], f"column {datetime_col!r}", datetime_format)
    for name, missing in ((customer_id_col, ids.isna().to_numpy()), (datetime_col, when.isna().to_numpy())):
        if missing.any():
            bad = transactions.index[missing]
            raise DataError(
                f"transactions column {name!r} is empty in {missing.sum()} rows "
                f"(index {examples(bad)}); drop or fill them first"
            )

    ids = ids.to_numpy()
    period = _period_ordinal(when, freq)
    value = None
    if monetary_value_col:
        # Missing values count as 0, as in the per-period sums of Lifetimes (pandas sums skip NaN).
        value = pd.to_numeric(transactions[monetary_value_col], errors="coerce").to_numpy(dtype=float)
        if np.isnan(value).any():
            value = np.nan_to_num(value)
    if observation_period_end is None:
        end = int(period.max()) if len(period) else 0
    else:
        end = int(_period_ordinal(pd.Series([_to_datetime(observation_period_end, "observation_period_end")]), freq)[0])
        keep = period <= end
        if not keep.all():
            period, ids = period[keep], ids[keep]
            value = value[keep] if value is not None else None

    codes, uniques = _factorize(ids)
    n = len(uniques)
    # Distinct (customer, period) pairs, one purchase per period as in Lifetimes: sort the pair
    # keys (cheaper here than hashing). The sorted distinct keys come in one block per customer,
    # ordered by period, so each block's ends are the first and last periods.
    lo = int(period.min()) if len(period) else 0
    span = (int(period.max()) - lo + 1) if len(period) else 1
    key_type = np.int32 if n * span < np.iinfo(np.int32).max else np.int64
    pair = codes.astype(key_type)
    pair *= key_type(span)
    pair += (period - lo).astype(key_type)
    pair.sort()
    new_pair = np.empty(len(pair), bool)
    new_pair[:1] = True
    np.not_equal(pair[1:], pair[:-1], out=new_pair[1:])
    distinct = pair[new_pair]
    n_periods = np.bincount(distinct // span, minlength=n)
    block_end = np.cumsum(n_periods)
    first = (distinct[block_end - n_periods] % span).astype(np.int64) + lo
    last = (distinct[block_end - 1] % span).astype(np.int64) + lo

    frequency = n_periods if include_first_transaction else n_periods - 1
    out = pd.DataFrame(
        {
            "frequency": frequency.astype(float),
            "recency": (last - first) / freq_multiplier,
            "T": (end - first) / freq_multiplier,
        },
        index=pd.Index(uniques, name=customer_id_col),
    )
    if value is not None:
        total = np.bincount(codes, weights=value, minlength=n)
        if include_first_transaction:
            repeat_total, repeat_periods = total, n_periods
        else:
            # Repeat value = everything less what was spent in the first period.
            in_first = period == first[codes]
            first_total = np.bincount(codes[in_first], weights=value[in_first], minlength=n)
            repeat_total, repeat_periods = total - first_total, n_periods - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = repeat_total / repeat_periods
        out["monetary_value"] = np.where(repeat_periods > 0, mean, 0.0)
    return out
