"""Customer lifetime value from a purchase model and a spend model, with the time unit explicit.

CLV over ``horizon`` months is the discounted sum, month by month, of the expected
number of purchases in that month times the expected spend per purchase:

    CLV = sum_{m=1..H} spend * (E[N(m k)] - E[N((m - 1) k)]) / (1 + d)^m

where ``k`` is the number of the model's time units in one month and ``d`` the
monthly discount rate. This is Lifetimes' formula, with two fixes:

- the model's time unit is a required argument (``time_unit``): Lifetimes' own docs
  fit on data in days and predict with months of weeks (or the reverse), which
  inflates CLV fourfold; here nothing defaults, so the unit is always stated;
- a month is 365.25 / 12 = 30.44 days (4.35 weeks) in every unit, where Lifetimes
  used 30 days but 4.345 weeks, so the same data in days and in weeks disagreed.

Examples
--------
>>> import pandas as pd
>>> from segmint.clv import BetaGeo, GammaGamma
>>> bg = BetaGeo.from_dict({"format": "segmint.clv/1", "model": "BetaGeo",
...     "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}})
>>> gg = GammaGamma.from_dict({"format": "segmint.clv/1", "model": "GammaGamma",
...     "params": {"p": 6.25, "q": 3.74, "v": 15.44}})
>>> X = pd.DataFrame({"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 38.86],
...                   "monetary_value": [30.0, 0.0]})
>>> clv = customer_lifetime_value(bg, X, horizon=12, discount_rate=0.01, time_unit="W", spend_model=gg)
>>> bool(clv.iloc[0] > clv.iloc[1] > 0)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.clv._base import check_time, read_columns
from segmint.errors import ConfigError, DataError, did_you_mean

__all__ = ["PERIODS_PER_MONTH", "customer_lifetime_value"]

#: How many of each time unit make one month (a twelfth of a 365.25-day year).
PERIODS_PER_MONTH = {"D": 365.25 / 12, "W": 365.25 / 12 / 7, "M": 1.0, "h": 365.25 * 24 / 12}


def customer_lifetime_value(
    transaction_model,
    X: pd.DataFrame,
    horizon: int,
    discount_rate: float,
    time_unit: str,
    spend_model=None,
) -> pd.Series:
    """Discounted expected value of each customer over the next ``horizon`` months.

    Parameters
    ----------
    transaction_model : BetaGeo or ParetoNBD
        Fitted purchase model.
    X : pandas.DataFrame
        ``frequency, recency, T`` in the unit the model was fitted in, and
        ``monetary_value`` (needed by ``spend_model``, or used as the spend per purchase
        when there is no ``spend_model``: then it must be finite and >= 0, else a
        :class:`~segmint.errors.DataError` names the rows).
    horizon : int
        Number of months to sum over.
    discount_rate : float
        Discount rate per month (e.g. 0.01; an annual 12.7% is about 0.01 a month).
    time_unit : {"D", "W", "M", "h"}
        What one period of the fitted data is: recency and T in days, weeks, months or hours.
    spend_model : GammaGamma, optional
        Fitted spend model; its :meth:`expected_spend` gives the spend per purchase.

    Returns
    -------
    pandas.Series
        CLV per customer, named ``clv``, on X's index.
    """
    if time_unit not in PERIODS_PER_MONTH:
        raise ConfigError(
            f"time_unit={time_unit!r} is unknown ({did_you_mean(str(time_unit), PERIODS_PER_MONTH)}); "
            f"it says what one period of the fitted data is: one of {', '.join(PERIODS_PER_MONTH)}"
        )
    if int(horizon) != horizon or horizon < 1:
        raise ConfigError(f"horizon is a whole number of months >= 1, got {horizon!r}")
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise ConfigError(f"discount_rate is a monthly rate > -1 (e.g. 0.01), got {discount_rate!r}")
    if not isinstance(X, pd.DataFrame):
        raise DataError("customer_lifetime_value needs a DataFrame with frequency, recency, T and monetary_value")
    if spend_model is not None:
        spend = np.asarray(spend_model.expected_spend(X), dtype=float)
    elif "monetary_value" in X.columns:
        # Used as it is, so it must be a spend: NaN or negative values would come out as NaN or
        # negative CLV without a word (read_columns names the rows).
        spend = read_columns(X, ("monetary_value",), "customer_lifetime_value")["monetary_value"]
    else:
        raise DataError("customer_lifetime_value: give a spend_model or a 'monetary_value' column in X")

    k = PERIODS_PER_MONTH[time_unit]
    months = range(1, int(horizon) + 1)
    many = getattr(transaction_model, "_cumulative", None)
    if many is not None:
        # One pass for every month (BetaGeo): the same numbers as month-by-month calls, computed once per
        # distinct history where they can be.
        transaction_model._check_fitted()
        rows = transaction_model._read(X, "conditional_expected_purchases")
        by_month = many(np.array([check_time(month * k) for month in months]), rows)
    else:
        by_month = (np.asarray(transaction_model.conditional_expected_purchases(month * k, X), dtype=float)
                    for month in months)
    clv = np.zeros(len(X))
    previous = np.zeros(len(X))
    for month, cumulative in zip(months, by_month):
        # Predictions are cumulative: the month's purchases are the increment over the previous month.
        clv += spend * (cumulative - previous) / (1.0 + discount_rate) ** month
        previous = cumulative
    return pd.Series(clv, index=X.index, name="clv")
