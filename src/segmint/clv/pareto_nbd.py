"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha) and has an
exponential lifetime with rate mu ~ Gamma(s, beta). The likelihood follows Fader &
Hardie, "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005),
with the Gauss hypergeometric function; it is computed in logs.

The gradient is analytic, from the integral behind the likelihood rather than from 2F1
(whose derivatives in its parameters have no closed form). Per customer,

    L = G(r+x) alpha^r beta^s / G(r) * [E_alive + E_dead],
    E_alive = (alpha+T)^-(r+x) (beta+T)^-s,
    E_dead = s * integral from t_x to T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau,

(the dead term is the customer dying at tau, between the last purchase and T; Fader and
Hardie's A0 with 2F1 is its closed form). The derivative of E_dead in each parameter is
the integral of the integrand times ``-log(alpha+tau)`` (r), ``-(r+x)/(alpha+tau)``
(alpha), ``1/s - log(beta+tau)`` (s) or ``-(s+1)/(beta+tau)`` (beta): no branch on
alpha >= beta is needed. These integrals are taken by Gauss-Legendre quadrature after
the substitution ``tau = (m+t_x) exp(u/a) - m`` (``m = max(alpha, beta)``,
``a = r+s+x``), which turns the integrand into ``exp(-u)`` times a smooth bounded factor
(the same substitution that gives the 2F1 form); panels are graded towards ``u = 0``,
where that factor varies fastest, and stop at ``u = 50`` (``exp(-50)`` is below double
precision). The value itself still comes from 2F1; the tests check the gradient against
finite differences and the quadrature's dead term against the 2F1 one.

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
from scipy.special import digamma, gammaln, hyp2f1

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


#: Panel edges of the quadrature in u (see the module notes): 0, then a factor 3 apart from 1e-8
#: to 1 (the factor by the integrand may have a pole just left of 0, at about -a (1 - z); panels
#: [e, 3e] keep it two half-widths away, where 10 Gauss nodes are exact to ~1e-11), then up to 50.
_EDGES = np.concatenate([[0.0], 1e-8 * 3.0 ** np.arange(17), [1.2, 1.6, 2.0, 3.0, 4.5, 6.5, 9.0, 12.0, 16.0, 21.0,
                                                               28.0, 36.0, 50.0]])
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(10)


def _dead_gradient(r, alpha, s, beta, x, tx, T):
    """log E_dead and d log E_dead / d(r, alpha, s, beta) per row, by quadrature (module notes).

    Rows with ``t_x == T`` (no time to die in) get ``-inf`` and zero derivatives.
    """
    a = r + s + x
    m = max(alpha, beta)
    U = np.minimum(a * np.log((m + T) / (m + tx)), _EDGES[-1])
    # The factor (1 - z exp(-u/a))^-k (k = s+1 when alpha >= beta, else r+x) falls by e over
    # about a (1 - z) / k near u = 0. Edges well below that scale are not needed (one panel from 0
    # covers them); each row walks only its own panels, from there up to U, so the arrays are as
    # wide as the most demanding row, not as all edges. Never beyond the graded edges: the
    # exp(-u) factor needs the short panels from 1 on.
    order = np.where(alpha >= beta, s + 1.0, r + x)
    scale = a * (np.minimum(alpha, beta) + tx) / (m + tx) / np.maximum(order, 1.0)
    first = np.searchsorted(_EDGES, np.minimum(scale / 3.0, 0.5), side="right") - 1  # last edge <= that
    last = np.searchsorted(_EDGES, U, side="left")  # first edge >= U
    width = max(int(np.max(last - first)), 1)
    k = first[:, None] + np.arange(width)[None, :]
    lo = np.where(k == first[:, None], 0.0, _EDGES[np.minimum(k, len(_EDGES) - 1)])
    hi = _EDGES[np.minimum(k + 1, len(_EDGES) - 1)]
    lo, hi = np.minimum(lo, U[:, None]), np.minimum(hi, U[:, None])  # panels beyond U: length 0
    half = (hi - lo) / 2
    u = (lo + half)[:, :, None] + half[:, :, None] * _NODES  # (n, panels, nodes)
    w = half[:, :, None] * _WEIGHTS
    tau_m = (m + tx)[:, None, None] * np.exp(u / a[:, None, None])  # m + tau
    at, bt = tau_m - m + alpha, tau_m - m + beta  # alpha + tau, beta + tau
    la, lb = np.log(at), np.log(bt)
    rx = (r + x)[:, None, None]
    # log of integrand * dtau/du, dtau/du = (m + tau) / a; the constant 1/a is added at the end.
    log_f = -rx * la - (s + 1) * lb + np.log(tau_m)
    top = log_f.max(axis=(1, 2), keepdims=True)
    f = w * np.exp(log_f - np.where(np.isfinite(top), top, 0.0))
    total = f.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        def mean(d):
            return (f * d).sum(axis=(1, 2)) / total
        grads = np.stack([
            -mean(la),
            -mean(rx / at),
            1.0 / s - mean(lb),
            -mean((s + 1) / bt),
        ])
        log_dead = np.log(s) + np.log(total) + top[:, 0, 0] - np.log(a)
    empty = ~(total > 0)
    grads[:, empty] = 0.0
    log_dead[empty] = -np.inf
    return log_dead, grads


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

    def _initial(self, data, weights):
        scale = float(weights @ data["T"]) / float(weights @ (data["frequency"] + 1.0))
        return np.array([1.0, max(scale, 1e-3), 1.0, max(float(weights @ data["T"]) / weights.sum(), 1e-3)])

    def _loglik(self, params, data, grad):
        r, alpha, s, beta = params
        x, tx, T = data["frequency"], data["recency"], data["T"]
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive_term = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead_term = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, tx, T)
        ll = a1 + np.logaddexp(alive_term, dead_term)
        if not grad:
            return ll
        # d ll = d a1 + P_alive d log E_alive + (1 - P_alive) d log E_dead, P_alive = E_alive / (E_alive + E_dead).
        log_dead_q, g_dead = _dead_gradient(r, alpha, s, beta, x, tx, T)
        share_alive = np.exp(alive_term - np.logaddexp(alive_term, log_dead_q))
        g_alive = np.stack([-np.log(alpha + T), -(r + x) / (alpha + T), -np.log(beta + T), -s / (beta + T)])
        g_a1 = np.stack([digamma(r + x) - digamma(r) + np.log(alpha), np.full_like(x, r / alpha),
                         np.full_like(x, np.log(beta)), np.full_like(x, s / beta)])
        return ll, g_a1 + share_alive * g_alive + (1.0 - share_alive) * g_dead

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
