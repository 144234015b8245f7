"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While alive, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each
purchase they drop out with probability p ~ Beta(a, b). Fitted on
``frequency`` (repeat purchases x), ``recency`` (t_x) and ``T``, all in one time unit.

Examples
--------
>>> import pandas as pd
>>> from segmint.clv import BetaGeo
>>> X = pd.DataFrame({"frequency": [0, 1, 2, 0, 5, 3, 0, 1, 0, 2],
...                   "recency": [0.0, 10.0, 30.4, 0.0, 35.0, 20.0, 0.0, 5.0, 0.0, 12.0],
...                   "T": [38.9, 38.9, 38.9, 38.0, 37.0, 36.0, 35.0, 34.0, 33.0, 32.0]})
>>> model = BetaGeo(penalizer_coef=0.01).fit(X)
>>> sorted(model.params_)
['a', 'alpha', 'b', 'r']
>>> bool(model.probability_alive(X).between(0, 1).all())
True
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from segmint.clv._base import CLVModel, by_value, check_time, distinct_pairs

#: Above this many rows, predictions evaluate their special functions per distinct (x, T).
DISTINCT_ROWS = 1_000

__all__ = ["BetaGeo"]

#: Within this distance of a = 1 the growth formula is interpolated between a = 1 -+ this (see _growth).
_A_NEAR_ONE = 1e-5


def _growth_raw(r, alpha, a, b, t, x, T):
    """(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)], z = t / (alpha+T+t).

    Fader, Hardie & Lee's form where it is finite; Euler's transformation of it where not (see _growth).
    """
    t, x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, T)))
    shape = t.shape
    t, x, T = (np.ravel(v) for v in (t, x, T))
    z = t / (alpha + T + t)
    log_keep = np.log1p(-z)  # log(1 - z) = log((alpha+T) / (alpha+T+t))
    with np.errstate(over="ignore", invalid="ignore"):
        product = np.exp((r + x) * log_keep) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    out = 1.0 - product
    # 0 x inf, inf, or a power that underflowed; and every z <= 1/2 (horizon within alpha + T), where
    # the transformed form is the better conditioned (its 2F1 has small parameters; the original's
    # cancellation 1 - product amplified 2F1's rounding a millionfold for frequencies in the thousands).
    bad = ~np.isfinite(out) | ((product == 0) & (z > 0)) | (z <= 0.5)
    if bad.any():
        # 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z): the new 2F1 tends to 1 as x grows.
        # F may be negative (with a + b + x < 1 its c is), so no log of it: 1 - k F = -((k - 1) F + (F - 1)).
        zb, kb = z[bad], log_keep[bad]
        f = hyp2f1(a + b - 1 - r, a - 1, a + b + x[bad] - 1, zb)
        out[bad] = -(np.expm1((a - 1) * kb) * f + (f - 1.0))
    return ((a + b + x - 1) / (a - 1) * out).reshape(shape)


def _growth(r, alpha, a, b, t, x, T):
    """Expected purchases in the next ``t`` periods of a customer alive at ``T`` with ``x`` repeats.

    Fader, Hardie & Lee's form, ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; z)]``, multiplies a power that underflows to 0 by a 2F1 that
    overflows to infinity once x reaches a few thousand (0 x inf = NaN, which went on into
    CLV). There Euler's transformation ``2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)``
    turns it into ``1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose 2F1 tends to 1 as x
    grows: finite for every x. (Elsewhere the original form stays: the transformed one loses
    digits for horizons far beyond alpha + T, where z nears 1.) At a = 1 the formula is 0/0; its limit is taken by interpolating
    between a = 1 -+ 1e-5 (the function is smooth in a; error ~1e-10 relative).
    """
    if abs(a - 1.0) >= _A_NEAR_ONE:
        return _growth_raw(r, alpha, a, b, t, x, T)
    lo = _growth_raw(r, alpha, 1.0 - _A_NEAR_ONE, b, t, x, T)
    hi = _growth_raw(r, alpha, 1.0 + _A_NEAR_ONE, b, t, x, T)
    share = (a - (1.0 - _A_NEAR_ONE)) / (2 * _A_NEAR_ONE)
    return lo + share * (hi - lo)


class BetaGeo(CLVModel):
    """BG/NBD estimator with scikit-learn's contract.

    Parameters
    ----------
    penalizer_coef : float, default 0.0
        L2 penalty on the parameters, added to the mean negative log-likelihood
        (Lifetimes' convention); 0 reproduces the published estimates.
    tol : float, default 1e-9
        Gradient tolerance of L-BFGS-B on the mean negative log-likelihood.
    max_iter : int, default 2000
        Most optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r, alpha, a, b``.
    log_likelihood_ : float
        Total log-likelihood at the optimum, in the data's own time unit.
    standard_errors_ : dict
        Standard errors from the Hessian at the optimum.
    n_iter_, converged_, convergence_message_ : optimiser report.
    identified_ : bool
        False when a standard error is undefined (the fit warns with
        :class:`~segmint.clv.UnidentifiedWarning`); fits on fewer than
        ``MIN_CUSTOMERS`` (10) customers are refused.
    n_samples_, n_unique_rows_ : customers fitted, and distinct rows after collapsing.
    """

    _param_names = ("r", "alpha", "a", "b")
    _columns = ("frequency", "recency", "T")

    def _initial(self, data, weights):
        # Start the purchase-rate scale near the observed one: alpha ~ T / (x + 1) on average.
        scale = float(weights @ data["T"]) / float(weights @ (data["frequency"] + 1.0))
        return np.array([1.0, max(scale, 1e-3), 1.0, 1.0])

    def _precompute(self, data, weights):
        out = dict(data)
        for c in self._columns:
            out[c + "_u"], out[c + "_i"] = by_value(data[c])
        # Rows come sorted by frequency: the first n0 have no repeat purchase.
        n0 = out["n0"] = int(np.searchsorted(data["frequency"], 0, side="right"))
        # Weights summed per distinct frequency and per distinct T, so that every term that
        # depends on one of them only is a short dot product (see _total).
        out["w_x"] = np.bincount(out["frequency_i"], weights, len(out["frequency_u"]))
        out["w_T"] = np.bincount(out["T_i"], weights, len(out["T_u"]))
        out["wx_T"] = np.bincount(out["T_i"], weights * data["frequency"], len(out["T_u"]))
        out["w_sum"] = float(weights.sum())
        out["w_rep"] = weights[n0:]
        return out

    def _total(self, params, data, weights, grad):
        r, alpha, a, b = params
        xu, n0 = data["frequency_u"], data["n0"]
        Tu, tu = data["T_u"], data["recency_u"]
        w_x, w_T, wx_T, w_rep = data["w_x"], data["w_T"], data["wx_T"], data["w_rep"]
        x_rep, xi_rep = data["frequency"][n0:], data["frequency_i"][n0:]
        Ti_rep, ti_rep = data["T_i"][n0:], data["recency_i"][n0:]
        log_at_u, log_atx_u = np.log(alpha + Tu), np.log(alpha + tu)
        a12_u = gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xu) - betaln(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_bx_u = np.where(xu > 0, 1.0 / np.where(xu > 0, b + xu - 1, 1.0), 0.0)
            log_a_bx_u = np.log(a) + np.log(inv_bx_u)  # -inf at x = 0, never gathered
        # sum_i w_i [A1 + A2 + A3] over all rows, by distinct frequency and distinct T.
        total = a12_u @ w_x - r * (log_at_u @ w_T) - log_at_u @ wx_T
        # Repeat buyers add log(1 + e^d): the only per-row transcendental work.
        gap = log_at_u[Ti_rep] - log_atx_u[ti_rep]
        d = log_a_bx_u[xi_rep] + (r + x_rep) * gap
        one_e = 1.0 + np.exp(np.minimum(d, 700.0))
        # log rather than log1p: the sum needs absolute, not relative, accuracy, and log is faster.
        total += w_rep @ np.log(one_e)
        if d.size and d.max() > 700.0:
            total += w_rep @ np.maximum(d - 700.0, 0.0)
        if not grad:
            return float(total)
        ww4 = w_rep - w_rep / one_e  # weight times P(dropped out right after the last purchase)
        inv_at_u, inv_atx_u = 1.0 / (alpha + Tu), 1.0 / (alpha + tu)
        dab_u = digamma(a + b) - digamma(a + b + xu)
        g = np.empty(4)
        g[0] = (digamma(r + xu) - digamma(r) + np.log(alpha)) @ w_x - log_at_u @ w_T + ww4 @ gap
        g[1] = (
            r / alpha * data["w_sum"] - r * (inv_at_u @ w_T) - inv_at_u @ wx_T
            + (ww4 * (r + x_rep)) @ (inv_at_u[Ti_rep] - inv_atx_u[ti_rep])
        )
        g[2] = dab_u @ w_x + ww4.sum() / a
        g[3] = (dab_u + digamma(b + xu) - digamma(b)) @ w_x - np.bincount(xi_rep, ww4, len(xu)) @ inv_bx_u
        return float(total), g

    def _loglik(self, params, data, grad):
        """Per-row log-likelihood and gradient (the reference that _total sums faster)."""
        r, alpha, a, b = params
        x, xu, xi, n0 = data["frequency"], data["frequency_u"], data["frequency_i"], data["n0"]
        # Transcendental functions run on distinct values only (a few hundred or thousand) and
        # are gathered per row; per row there is one exp and one log1p, on repeat buyers only.
        a12 = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xu) - betaln(a, b))[xi]
        log_at = np.log(alpha + data["T_u"])[data["T_i"]]
        ll = a12 - (r + x) * log_at
        # Repeat buyers add the chance of having dropped out right after the last purchase:
        # L = A3 (1 + e^d), d = log(a / (b + x - 1)) + (r + x) log((alpha + T) / (alpha + t_x)).
        xr, log_atx = x[n0:], np.log(alpha + data["recency_u"])[data["recency_i"][n0:]]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a_bx = (np.log(a) - np.log(np.where(xu > 0, b + xu - 1, 1.0)))[xi[n0:]]
        d = log_a_bx + (r + xr) * (log_at[n0:] - log_atx)
        e = np.exp(np.minimum(d, 700.0))
        ll[n0:] += np.where(d > 700.0, d, np.log1p(e))
        if not grad:
            return ll
        w4 = np.zeros(len(x))  # posterior weight of "dropped out after the last purchase"
        w4[n0:] = e / (1.0 + e)
        gap_log = np.zeros(len(x))
        gap_log[n0:] = log_at[n0:] - log_atx
        inv_at = (1.0 / (alpha + data["T_u"]))[data["T_i"]]
        gap_inv = np.zeros(len(x))
        gap_inv[n0:] = inv_at[n0:] - (1.0 / (alpha + data["recency_u"]))[data["recency_i"][n0:]]
        g = np.empty((4, len(x)))  # one contiguous row per parameter
        g[0] = (digamma(r + xu) - digamma(r) + np.log(alpha))[xi] - log_at + w4 * gap_log
        g[1] = r / alpha - (r + x) * (inv_at - w4 * gap_inv)
        dab = (digamma(a + b) - digamma(a + b + xu))[xi]
        g[2] = dab + w4 / a
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_bx = np.where(xu > 0, 1.0 / np.where(xu > 0, b + xu - 1, 1.0), 0.0)
        g[3] = dab + (digamma(b + xu) - digamma(b))[xi] - w4 * inv_bx[xi]
        return ll, g

    # -- predictions --------------------------------------------------------------
    def expected_purchases(self, t, X=None):
        """Expected number of purchases in the next ``t`` periods.

        Without ``X``: for a new customer, E[X(t)] (the population curve; ``t`` may be an
        array). With ``X``: conditional on each customer's history (as
        :meth:`conditional_expected_purchases`).
        """
        if X is not None:
            return self.conditional_expected_purchases(t, X)
        r, alpha, a, b = self._check_fitted()
        t = check_time(t)
        # A new customer is one alive at T = 0 with no repeat purchase.
        return _growth(r, alpha, a, b, t, 0.0, 0.0)

    def conditional_expected_purchases(self, t, X):
        """Expected purchases in the next ``t`` periods given frequency, recency and T.

        Examples
        --------
        The published figure (Fader, Hardie & Lee 2005): 1.226 purchases in 39 weeks.

        >>> import pandas as pd
        >>> m = BetaGeo.from_dict({"format": "segmint.clv/1", "model": "BetaGeo",
        ...     "params": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}})
        >>> X = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
        >>> round(float(m.conditional_expected_purchases(39, X).iloc[0]), 3)
        1.226
        """
        r, alpha, a, b = self._check_fitted()
        d = self._read(X, "conditional_expected_purchases")
        t = check_time(t)
        x, tx, T = d["frequency"], d["recency"], d["T"]
        if t.ndim == 0:
            out = self._cumulative(np.array([t]), d)[0]
        else:
            out = self._given_alive(r, alpha, a, b, t, x, T) * self._alive(r, alpha, a, b, x, tx, T)
        return self._wrap(X, out, "expected_purchases")

    def _cumulative(self, horizons: np.ndarray, d: dict[str, np.ndarray]) -> np.ndarray:
        """Expected purchases in the next ``t`` periods for each ``t`` of ``horizons``: shape (len(horizons), n).

        What :func:`segmint.clv.customer_lifetime_value` calls for its months: the chance of being
        alive is computed once, and the hypergeometric part once per distinct (x, T), which a
        million customers share in a few tens of thousands of pairs (the same numbers, 10x faster).
        """
        r, alpha, a, b = self._check_fitted()
        x, tx, T = d["frequency"], d["recency"], d["T"]
        alive = self._alive(r, alpha, a, b, x, tx, T)
        out = np.empty((len(horizons), len(x)))
        if len(x) > DISTINCT_ROWS:
            codes, xu, Tu = distinct_pairs(x, T)
            for i, t in enumerate(horizons):
                np.multiply(self._given_alive(r, alpha, a, b, t, xu, Tu)[codes], alive, out=out[i])
        else:
            for i, t in enumerate(horizons):
                np.multiply(self._given_alive(r, alpha, a, b, t, x, T), alive, out=out[i])
        return out

    @staticmethod
    def _given_alive(r, alpha, a, b, t, x, T):
        """Expected purchases in the next ``t`` periods of a customer still alive at ``T`` with ``x`` repeats."""
        return _growth(r, alpha, a, b, t, x, T)

    @staticmethod
    def _alive(r, alpha, a, b, x, tx, T):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # log of the odds of having dropped out, computed in logs to avoid overflow for large x.
            log_odds = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (
                np.log(alpha + T) - np.log(alpha + tx)
            )
            return np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds)), 1.0)

    def probability_alive(self, X):
        """Probability that each customer is still alive at T, given their history."""
        r, alpha, a, b = self._check_fitted()
        d = self._read(X, "probability_alive")
        return self._wrap(X, self._alive(r, alpha, a, b, d["frequency"], d["recency"], d["T"]), "probability_alive")
