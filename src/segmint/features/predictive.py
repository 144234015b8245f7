"""Predictive features: BG/NBD purchases and survival, Gamma-Gamma spend, 12-month CLV.

Two steps, as the design asks ("set work in the engine, model work in memory"):

1. :func:`aggregates` and :func:`inputs` compute the models' inputs in the engine with Lifetimes'
   definitions on daily periods (the same numbers as
   :func:`segmint.features.summary.rfm_summary` with ``freq="D"`` and
   ``observation_period_end=as_of``): ``clv_frequency`` (purchase days less the first),
   ``clv_recency`` (last less first purchase day), ``clv_T`` (as_of day less first
   purchase day) and ``clv_monetary_value`` (mean spend of the repeat purchase days).
2. :func:`attach` fetches their sufficient statistics (the number of buyers per
   (frequency, recency, T), and the repeat buyers' distinct (frequency, spend) pairs), fits
   :class:`segmint.clv.BetaGeo` and :class:`segmint.clv.GammaGamma` with NumPy on those
   counts, and joins the predictions back per cell: no customer list reaches the driver,
   which matters on Spark (issue 22).

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
from typing import NamedTuple

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from segmint.errors import FitError
from segmint.features.asof import SECONDS_PER_DAY, Context, day_of, exact_sum

__all__ = ["aggregates", "inputs", "attach", "fit_predictions", "fit_cells", "expected_spend", "MIN_REPEAT_BUYERS", "PREDICTIONS"]

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


#: Columns whose distinct triples are the BG/NBD's sufficient statistics (with their counts).
CELL = ("clv_frequency", "clv_recency", "clv_T")
#: Most distinct (frequency, spend) pairs the Gamma-Gamma fit reads; above it, an even sample of them in order.
MAX_SPEND_PAIRS = 200_000


class Fitted(NamedTuple):
    """The models fitted for a snapshot: BG/NBD per cell, Gamma-Gamma's (p, q, v) or None, and the notes."""

    cells: pd.DataFrame  # CELL columns and the per-cell predictions (expected purchases, alive, unit CLV)
    spend: tuple[float, float, float] | None
    skipped: dict[str, str]


def fit_cells(cells: pd.DataFrame, pairs: pd.DataFrame) -> Fitted:
    """Fit BG/NBD on the counts of buyers per (frequency, recency, T) and Gamma-Gamma on spend pairs.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``clv_frequency, clv_recency, clv_T`` and ``n`` (buyers with those values), in that column
        order (the engine's ``group_by``): their number does not grow with customers.
    pairs : pandas.DataFrame
        ``frequency, monetary_value`` and ``n`` of the repeat buyers with a positive spend.

    Returns
    -------
    Fitted
        ``cells`` gains the columns of :data:`PREDICTIONS` but ``predicted_clv_12m``, and
        ``_unit_clv``, the 12-month CLV for a spend of 1 per purchase (CLV is linear in the spend).
    """
    from segmint.clv import BetaGeo, GammaGamma, customer_lifetime_value

    skipped: dict[str, str] = {}
    # Sorted so that the fits sum their likelihoods in one order: the same data give the same bytes
    # whatever order an engine returns the groups in (parallel scans differ run to run).
    cells = cells.sort_values(list(CELL), kind="stable", ignore_index=True)
    X = pd.DataFrame({"frequency": cells["clv_frequency"].to_numpy(float),
                      "recency": cells["clv_recency"].to_numpy(float), "T": cells["clv_T"].to_numpy(float)})
    weight = cells["n"].to_numpy(float)
    repeaters = int(weight[X["frequency"].to_numpy() > 0].sum())
    if repeaters < MIN_REPEAT_BUYERS:
        skipped["predictive"] = (f"only {repeaters} customers bought on more than one day before as_of; "
                                 f"the BG/NBD model needs at least {MIN_REPEAT_BUYERS}")
        return Fitted(cells[list(CELL)], None, skipped)
    try:
        # A small L2 penalty keeps the fit finite on data unlike the model (e.g. synthetic or B2B logs).
        with _unidentified() as flat:
            bg = BetaGeo(penalizer_coef=0.001).fit(X, sample_weight=weight)
        if flat:  # the predictions still follow the limit the optimiser approached: say so in the docs
            for name in ("expected_purchases_90d", "expected_purchases_365d", "probability_alive"):
                skipped[name] = f"made by a BG/NBD fit whose parameters the data do not pin down: {flat[0]}"
    except (FitError, ValueError) as exc:
        skipped["predictive"] = f"BG/NBD fit failed: {exc}"
        return Fitted(cells[list(CELL)], None, skipped)
    out = cells[list(CELL)].copy()
    out["expected_purchases_90d"] = np.asarray(bg.conditional_expected_purchases(90, X), float)
    out["expected_purchases_365d"] = np.asarray(bg.conditional_expected_purchases(365, X), float)
    out["probability_alive"] = np.asarray(bg.probability_alive(X), float)
    out["_unit_clv"] = np.asarray(customer_lifetime_value(bg, X.assign(monetary_value=1.0), horizon=CLV_MONTHS,
                                                          discount_rate=CLV_DISCOUNT, time_unit="D"), float)
    pairs = pairs.sort_values(["frequency", "monetary_value"], kind="stable", ignore_index=True)
    try:
        # No penalty here: an L2 penalty on v (in currency units) depends on the currency and
        # would hide the runaway p by which GammaGamma.fit recognises data it cannot model.
        with _unidentified() as flat:
            gg = GammaGamma().fit(pairs[["frequency", "monetary_value"]], sample_weight=pairs["n"].to_numpy(float))
        if flat:  # unidentified parameters (q, v running away) are no spend model: take the fallback below
            raise FitError(flat[0])
        p, q, v = (float(x) for x in gg._check_fitted())
        if q <= 1:
            raise FitError(f"GammaGamma: q = {q:.4g} <= 1, so the mean spend is infinite; the fit is not usable")
        spend = (p, q, v)
    except (FitError, ValueError) as exc:
        # Heavy-tailed spend (q <= 1) or no repeat spend: fall back to each customer's own mean
        # purchase, which is what a marketer would use anyway, and say so.
        spend = None
        skipped["predicted_clv_12m"] = (f"uses each customer's mean purchase as the spend per purchase; the "
                                        f"Gamma-Gamma spend model is not usable here: {exc}")
    return Fitted(out, spend, skipped)


def expected_spend(spend: tuple[float, float, float], x, m):
    """Gamma-Gamma's posterior mean spend p (v + x m) / (p x + q - 1), of arrays or Ibis columns alike.

    The same operations in the same order on NumPy and on an engine: the same doubles.
    """
    p, q, v = spend
    own = ibis.ifelse(x > 0, m, 0.0) if isinstance(x, ir.Expr) else np.where(x > 0, m, 0.0)
    return p * (v + x * own) / (p * x + q - 1)


def fit_predictions(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Fit BG/NBD (+ Gamma-Gamma) on a buyers' summary and predict for each buyer (in memory).

    The pandas twin of :func:`attach`, for a summary already in memory: the same fits on the same
    counts (:func:`fit_cells`), so the same numbers.

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
    summary = summary.sort_values("customer_id", kind="stable", ignore_index=True)
    cells = summary.groupby(list(CELL), sort=False).size().rename("n").reset_index()
    spenders = summary[(summary.clv_frequency > 0) & (summary.clv_monetary_value > 0)]
    pairs = spenders.groupby(["clv_frequency", "clv_monetary_value"], sort=False).size().rename("n").reset_index()
    pairs.columns = ["frequency", "monetary_value", "n"]
    fitted = fit_cells(cells, pairs)
    out = summary[["customer_id", *CELL]].merge(fitted.cells, on=list(CELL), how="left")
    if "_unit_clv" not in out:
        return pd.DataFrame({"customer_id": summary["customer_id"]}), fitted.skipped
    x, m = summary["clv_frequency"].to_numpy(float), summary["clv_monetary_value"].to_numpy(float)
    if fitted.spend is not None:
        spend = expected_spend(fitted.spend, x, m)
    else:
        own = "monetary_mean" if "monetary_mean" in summary else "clv_monetary_value"
        spend = summary[own].fillna(0.0).to_numpy(float)
    out["predicted_clv_12m"] = out.pop("_unit_clv").to_numpy(float) * spend
    return out[["customer_id", *PREDICTIONS]], fitted.skipped


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
    """Fit the models on counts computed in the engine and left-join the predictions to ``t``.

    Nothing per customer leaves the engine: the BG/NBD fit reads the number of buyers per
    (frequency, recency, T) (:data:`CELL`), whose count does not grow with customers; the
    Gamma-Gamma fit reads the distinct (frequency, spend) pairs of repeat buyers (at most
    :data:`MAX_SPEND_PAIRS`, an even sample in order above it). The predictions per cell go
    back as a small table joined on the cell; the spend is an expression with the fitted
    parameters. ``inputs`` is a table holding ``customer_id`` and the ``clv_*`` columns
    (default ``t``); passing the materialised joined table keeps the queries small.
    """
    src = t if inputs is None else inputs
    buyers = src.filter(src.clv_T.notnull())
    cells = buyers.group_by(list(CELL)).aggregate(n=buyers.count()).to_pyarrow().to_pandas()
    fitted = fit_cells(cells, _spend_pairs(buyers))
    ctx.skipped.update(fitted.skipped)
    if "_unit_clv" not in fitted.cells:
        return t
    table = ibis.memtable(pa.Table.from_pandas(fitted.cells, preserve_index=False))
    joined = buyers.join(table, [buyers[c] == table[c] for c in CELL])
    x, m = joined.clv_frequency, joined.clv_monetary_value
    if fitted.spend is not None:
        spend = expected_spend(fitted.spend, x, m)
    else:
        spend = (joined.monetary_total / joined.frequency.cast("float64")).fill_null(0.0)
    predictions = joined.select("customer_id", *PREDICTIONS[:-1], predicted_clv_12m=joined._unit_clv * spend)
    return t.left_join(predictions, "customer_id").drop("customer_id_right")


def _spend_pairs(buyers: ir.Table) -> pd.DataFrame:
    """The repeat buyers' distinct (frequency, mean repeat spend) pairs with their counts (bounded)."""
    spenders = buyers.filter((buyers.clv_frequency > 0) & (buyers.clv_monetary_value > 0))
    pairs = spenders.group_by(frequency=spenders.clv_frequency, monetary_value=spenders.clv_monetary_value).aggregate(
        n=spenders.count())
    total = int(pairs.count().execute())
    if total > MAX_SPEND_PAIRS:
        step = -(-total // MAX_SPEND_PAIRS)
        ranked = pairs.mutate(_i=ibis.row_number().over(order_by=["frequency", "monetary_value"]))
        pairs = ranked.filter(ranked._i % step == 0).drop("_i")
    return pairs.to_pyarrow().to_pandas()
