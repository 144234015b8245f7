"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha) and has an
exponential lifetime with rate mu ~ Gamma(s, beta). The likelihood follows Fader &
Hardie, "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005),
with the Gauss hypergeometric function; it is computed in logs.

The gradient is by central differences in log-parameter space (step 1e-6): the
derivatives of 2F1 in its parameters have no short closed form. This stays cheap
because the objective runs on the collapsed (weighted) distinct rows only.

Examples
--------
>>> import pandas as pd
>>> from segmint.clv import ParetoNBD
>>> model = ParetoNBD.from_dict({"format": "segmint.clv/1", "model": "ParetoNBD",
...     "params": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}})
>>> X = pd.DataFrame({"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 38.86]})
>>> model.probability_alive(X).round(3).tolist()
[0.869, 0.295]
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from segmint.clv._base import CLVModel, check_time

__all__ = ["ParetoNBD"]


def _log_a0(r, alpha, s, beta, x, tx, T):
    """log A0 of Fader & Hardie's note, taking the hypergeometric branch with argument in [0, 1)."""
    rsx = r + s + x
    if alpha >= beta:
        big, second = alpha, s + 1.0
    else:
        big, second = beta, r + x
    diff = abs(alpha - beta)
    q1, q2 = big + tx, big + T
    with np.errstate(divide="ignore", invalid="ignore"):
        l1 = np.log(hyp2f1(rsx, second, rsx + 1.0, diff / q1)) - rsx * np.log(q1)
        l2 = np.log(hyp2f1(rsx, second, rsx + 1.0, diff / q2)) - rsx * np.log(q2)
        # A0 = e^l1 - e^l2 with l1 >= l2 (t_x <= T); -inf when t_x == T.
        return l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))


class ParetoNBD(CLVModel):
    """Pareto/NBD estimator with scikit-learn's contract.

    Parameters
    ----------
    penalizer_coef : float, default 0.0
        L2 penalty on the parameters added to the mean negative log-likelihood.
    tol : float, default 1e-9
        Gradient tolerance of L-BFGS-B.
    max_iter : int, default 2000
        Most optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r, alpha, s, beta``.
    log_likelihood_, standard_errors_, n_iter_, converged_, n_samples_, n_unique_rows_
        As for :class:`segmint.clv.BetaGeo`.
    """

    _param_names = ("r", "alpha", "s", "beta")
    _columns = ("frequency", "recency", "T")
    _analytic_gradient = False

    def _initial(self, data, weights):
        scale = float(weights @ data["T"]) / float(weights @ (data["frequency"] + 1.0))
        return np.array([1.0, max(scale, 1e-3), 1.0, max(float(weights @ data["T"]) / weights.sum(), 1e-3)])

    def _loglik(self, params, data, grad):
        r, alpha, s, beta = params
        x, tx, T = data["frequency"], data["recency"], data["T"]
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive_term = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead_term = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, tx, T)
        return a1 + np.logaddexp(alive_term, dead_term)

    # -- predictions --------------------------------------------------------------
    def expected_purchases(self, t, X=None):
        """Expected purchases in the next ``t`` periods: for a new customer, or given ``X``'s history."""
        if X is not None:
            return self.conditional_expected_purchases(t, X)
        r, alpha, s, beta = self._check_fitted()
        t = check_time(t)
        if abs(s - 1) < 1e-9:
            return r * beta / alpha * np.log((beta + t) / beta)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))

    def _alive(self, params, d):
        r, alpha, s, beta = params
        x, tx, T = d["frequency"], d["recency"], d["T"]
        log_a0 = _log_a0(r, alpha, s, beta, x, tx, T)
        log_ratio = np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(log_ratio))

    def probability_alive(self, X):
        """Probability that each customer is still alive at T, given their history."""
        params = self._check_fitted()
        d = self._read(X, "probability_alive")
        return self._wrap(X, self._alive(params, d), "probability_alive")

    def conditional_expected_purchases(self, t, X):
        """Expected purchases in the next ``t`` periods given frequency, recency and T."""
        params = self._check_fitted()
        r, alpha, s, beta = params
        d = self._read(X, "conditional_expected_purchases")
        t = check_time(t)
        x, T = d["frequency"], d["T"]
        if abs(s - 1) < 1e-9:
            rate = (r + x) * (beta + T) / (alpha + T) * np.log((beta + T + t) / (beta + T))
        else:
            rate = (r + x) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
        return self._wrap(X, rate * self._alive(params, d), "expected_purchases")
