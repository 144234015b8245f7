"""Predictive features: BG/NBD purchases and survival, Gamma-Gamma spend, 12-month CLV.

Two steps, as the design asks ("set work in the engine, model work in memory"):

1. :func:`aggregates` and :func:`inputs` compute the models' inputs in the engine with Lifetimes'
   definitions on daily periods (the same numbers as
   :func:`segmint.features.summary.rfm_summary` with ``freq="D"`` and
   ``observation_period_end=as_of``): ``clv_frequency`` (purchase days less the first),
   ``clv_recency`` (last less first purchase day), ``clv_T`` (as_of day less first
   purchase day) and ``clv_monetary_value`` (mean spend of the repeat purchase days).
2. :func:`attach` fetches those four columns of the buyers (a few MB even for a
   million customers), fits :class:`segmint.clv.BetaGeo` and
   :class:`segmint.clv.GammaGamma` with NumPy, and joins the predictions back.

When the data cannot support a fit (fewer than :data:`MIN_REPEAT_BUYERS` repeat
buyers, or the optimiser fails) the predictions are left out and the reason is
recorded in ``Context.skipped``; the rest of the snapshot is unaffected. When only
the Gamma-Gamma fit is unusable (spend so heavy-tailed that its mean is infinite,
``q <= 1``, or data that do not identify it, typically spend depending on frequency
across segments, as in the synthetic shop), ``predicted_clv_12m`` uses each customer's
mean purchase as the spend per purchase instead, and ``skipped`` says so.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from segmint.errors import FitError
from segmint.features.asof import SECONDS_PER_DAY, Context, day_of, exact_sum

__all__ = ["aggregates", "inputs", "attach", "fit_predictions", "MIN_REPEAT_BUYERS", "PREDICTIONS"]

#: Fewer repeat buyers than this and the BG/NBD parameters are not identified well enough.
MIN_REPEAT_BUYERS = 10
PREDICTIONS = ("expected_purchases_90d", "expected_purchases_365d", "probability_alive", "predicted_clv_12m")
INPUTS = ("clv_frequency", "clv_recency", "clv_T", "clv_monetary_value")
#: CLV settings: horizon in months and monthly discount rate (about 12.7% a year).
CLV_MONTHS, CLV_DISCOUNT = 12, 0.01


def aggregates(ctx: Context, o: ir.Table) -> dict[str, ir.Value]:
    """Purchase days and the first day's spend (see :mod:`.orders`).

    ``o`` holds the purchases with the window columns ``_prev_at`` and ``_first_at`` over
    each customer's purchases in time order: an order starts a new purchase day when there is
    no previous purchase or the previous one fell on another day, and the first day's spend is
    the sum over the orders on the first purchase's day. (A group-by of (customer, day) did the
    same with a hash table as large as the orders; it was the slowest step of the snapshot.)
    The first and last purchase days are the days of ``first_order_at`` and ``last_order_at``.
    """
    new_day = o._prev_at.isnull() | (day_of(o._prev_at) != o.day)
    return {
        "_n_days": o.day.count(where=new_day),
        "_first_spend": exact_sum(o.amount, where=o.day == day_of(o._first_at)),
    }


def inputs(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
    """Lifetimes' frequency, recency, T and monetary value in days, from :func:`aggregates` (null for non-buyers).

    Needs ``monetary_total``, ``first_order_at`` and ``last_order_at`` (from :mod:`.rfm`).
    """
    as_of_day = int((ctx.as_of - dt.datetime(1970, 1, 1)).total_seconds() // SECONDS_PER_DAY)
    buyer = t._n_days > 0
    first_day, last_day = day_of(t.first_order_at), day_of(t.last_order_at)
    repeat = (t._n_days - 1).cast("float64")
    repeat_spend = (t.monetary_total - t._first_spend).fill_null(0.0)

    def only_buyers(value: ir.Value) -> ir.Value:
        return ibis.ifelse(buyer, value, ibis.null("float64"))

    return {
        "clv_frequency": only_buyers(repeat),
        "clv_recency": only_buyers((last_day - first_day).cast("float64")),
        "clv_T": only_buyers((ibis.literal(as_of_day) - first_day).cast("float64")),
        "clv_monetary_value": only_buyers(ibis.ifelse(repeat > 0, repeat_spend / repeat, 0.0)),
    }


def fit_predictions(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Fit BG/NBD (+ Gamma-Gamma) on a buyers' summary and predict for each buyer.

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``customer_id, clv_frequency, clv_recency, clv_T, clv_monetary_value`` and
        optionally ``monetary_mean`` (the fallback spend per purchase).

    Returns
    -------
    predictions : pandas.DataFrame
        ``customer_id`` and the prediction columns that could be made.
    skipped : dict
        Prediction (or ``predictive``) -> why it was left out, or how it was made instead.
    """
    from segmint.clv import BetaGeo, GammaGamma, customer_lifetime_value

    skipped: dict[str, str] = {}
    # The engine returns the buyers in any order (parallel scans), and the fits sum their likelihoods in
    # row order: floating-point sums in another order differ in the last bits, which moved
    # predicted_clv_12m by up to 1.4e-10 between two snapshots of the same data (and a customer across a
    # value-tier boundary). In customer_id order the same data give the same bytes.
    summary = summary.sort_values("customer_id", kind="stable", ignore_index=True)
    X = pd.DataFrame({
        "frequency": summary["clv_frequency"].to_numpy(float),
        "recency": summary["clv_recency"].to_numpy(float),
        "T": summary["clv_T"].to_numpy(float),
        "monetary_value": summary["clv_monetary_value"].to_numpy(float),
    })
    repeaters = int((X["frequency"] > 0).sum())
    if repeaters < MIN_REPEAT_BUYERS:
        skipped["predictive"] = (f"only {repeaters} customers bought on more than one day before as_of; "
                                 f"the BG/NBD model needs at least {MIN_REPEAT_BUYERS}")
        return pd.DataFrame({"customer_id": summary["customer_id"]}), skipped
    try:
        # A small L2 penalty keeps the fit finite on data unlike the model (e.g. synthetic or B2B logs).
        with _unidentified() as flat:
            bg = BetaGeo(penalizer_coef=0.001).fit(X[["frequency", "recency", "T"]])
        if flat:  # the predictions still follow the limit the optimiser approached: say so in the docs
            for name in ("expected_purchases_90d", "expected_purchases_365d", "probability_alive"):
                skipped[name] = f"made by a BG/NBD fit whose parameters the data do not pin down: {flat[0]}"
    except (FitError, ValueError) as exc:
        skipped["predictive"] = f"BG/NBD fit failed: {exc}"
        return pd.DataFrame({"customer_id": summary["customer_id"]}), skipped
    out = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()})
    out["expected_purchases_90d"] = np.asarray(bg.conditional_expected_purchases(90, X), float)
    out["expected_purchases_365d"] = np.asarray(bg.conditional_expected_purchases(365, X), float)
    out["probability_alive"] = np.asarray(bg.probability_alive(X), float)
    spenders = (X["frequency"] > 0) & (X["monetary_value"] > 0)
    try:
        # No penalty here: an L2 penalty on v (in currency units) depends on the currency and
        # would hide the runaway p by which GammaGamma.fit recognises data it cannot model.
        with _unidentified() as flat:
            gg = GammaGamma().fit(X[spenders])
        if flat:  # unidentified parameters (q, v running away) are no spend model: take the fallback below
            raise FitError(flat[0])
        spend = np.asarray(gg.expected_spend(X), float)
    except (FitError, ValueError) as exc:
        # Heavy-tailed spend (q <= 1) or no repeat spend: fall back to each customer's own mean
        # purchase, which is what a marketer would use anyway, and say so.
        own = "monetary_mean" if "monetary_mean" in summary else "clv_monetary_value"
        spend = summary[own].fillna(0.0).to_numpy(float)
        skipped["predicted_clv_12m"] = (f"uses each customer's mean purchase as the spend per purchase; the "
                                        f"Gamma-Gamma spend model is not usable here: {exc}")
    # CLV is linear in the spend per purchase: compute it for a spend of 1 and scale.
    unit = customer_lifetime_value(bg, X.assign(monetary_value=1.0), horizon=CLV_MONTHS,
                                   discount_rate=CLV_DISCOUNT, time_unit="D")
    out["predicted_clv_12m"] = np.asarray(unit, float) * spend
    return out, skipped


@contextmanager
def _unidentified() -> Iterator[list[str]]:
    """Collect the :class:`~segmint.clv.UnidentifiedWarning` of a fit made for the feature snapshot.

    A user fitting a model gets the warning; the snapshot instead records it in the feature docs
    (``skipped``) and, for the spend model, falls back to each customer's mean purchase: a small or
    unusual shop is no reason for a warning on every ``segmint features``. Other warnings pass on.
    """
    from segmint.clv import UnidentifiedWarning

    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnidentifiedWarning)
        yield found
    for w in caught:
        if issubclass(w.category, UnidentifiedWarning):
            found.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def attach(t: ir.Table, ctx: Context, inputs: ir.Table | None = None) -> ir.Table:
    """Fit the models on the buyers and left-join the predictions to ``t``.

    ``inputs`` is a table holding ``customer_id`` and the ``clv_*`` columns (default ``t``);
    passing the materialised joined table keeps the fetch query small.
    """
    src = t if inputs is None else inputs
    buyers = src.filter(src.clv_T.notnull()).select(
        "customer_id", *INPUTS, monetary_mean=src.monetary_total / src.frequency.cast("float64"))
    summary = buyers.to_pyarrow().to_pandas()
    predictions, skipped = fit_predictions(summary)
    ctx.skipped.update(skipped)
    if len(predictions.columns) == 1:
        return t
    table = ibis.memtable(pa.Table.from_pandas(predictions, preserve_index=False))
    return t.left_join(table, "customer_id").drop("customer_id_right")
