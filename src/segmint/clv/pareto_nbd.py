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
precision). The value comes from the same quadrature, in logs: 2F1's closed form (``_log_a0``,
kept as the tests' second opinion) loses every digit when its argument nears 1 (a penalised
Online Retail fit drove beta to 1e-13 there and read log P(no purchase) = +5.7), and its powers
overflow for large frequencies. The tests check the value against 2F1 where 2F1 is sound,
against mpmath at 50 digits where it is not, and the gradient against finite differences.

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
#: Rows whose pole is nearer than 1e-8 (z within 1e-8 of 1: e.g. beta far below alpha, as a
#: penalised fit may try) get the factor-3 edges continued downwards as far as they need
#: (:func:`_edges`): that is where 2F1's closed form loses all its digits (its log A0 came out
#: above 0, an impossible log-probability).
_GRADED = 1e-8 * 3.0 ** np.arange(17)
_FIXED = np.array([1.2, 1.6, 2.0, 3.0, 4.5, 6.5, 9.0, 12.0, 16.0, 21.0, 28.0, 36.0, 50.0])
_EDGES = np.concatenate([[0.0], _GRADED, _FIXED])
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(10)
#: Rows per block of the quadrature (its arrays are rows x panels x nodes).
_BLOCK = 20_000


def _edges(smallest: float) -> np.ndarray:
    """The panel edges, continued below 1e-8 by factors of 3 down to ``smallest`` (at most 1e-300)."""
    if not smallest < _GRADED[0]:
        return _EDGES
    more = int(np.ceil(np.log(_GRADED[0] / max(smallest, 1e-300)) / np.log(3.0)))
    return np.concatenate([[0.0], _GRADED[0] * 3.0 ** np.arange(-more, 0), _GRADED, _FIXED])


def _dead_gradient(r, alpha, s, beta, x, tx, T):
    """log E_dead and d log E_dead / d(r, alpha, s, beta) per row, by quadrature (module notes).

    Everything is computed in logs (the integrand relative to its largest value), so no
    frequency overflows it: one customer with 10,000 repeat purchases has a finite likelihood.
    Rows with ``t_x == T`` (no time to die in) get ``-inf`` and zero derivatives.
    """
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    if len(x) > _BLOCK:
        parts = [_dead_gradient(r, alpha, s, beta, x[i:i + _BLOCK], tx[i:i + _BLOCK], T[i:i + _BLOCK])
                 for i in range(0, len(x), _BLOCK)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=1)
    a = r + s + x
    m = max(alpha, beta)
    U = np.minimum(a * np.log((m + T) / (m + tx)), _FIXED[-1])
    # The factor (1 - z exp(-u/a))^-k (k = s+1 when alpha >= beta, else r+x) falls by e over
    # about a (1 - z) / k near u = 0. Edges well below that scale are not needed (one panel from 0
    # covers them); each row walks only its own panels, from there up to U, so the arrays are as
    # wide as the most demanding row, not as all edges. Never beyond the graded edges: the
    # exp(-u) factor needs the short panels from 1 on.
    order = np.where(alpha >= beta, s + 1.0, r + x)
    scale = a * (np.minimum(alpha, beta) + tx) / (m + tx) / np.maximum(order, 1.0)
    start = np.minimum(scale / 3.0, 0.5)
    edges = _edges(float(start.min()) if len(start) else 1.0)
    first = np.searchsorted(edges, start, side="right") - 1  # last edge <= that
    last = np.searchsorted(edges, U, side="left")  # first edge >= U
    width = max(int(np.max(last - first)) if len(x) else 1, 1)
    k = first[:, None] + np.arange(width)[None, :]
    lo = np.where(k == first[:, None], 0.0, edges[np.minimum(k, len(edges) - 1)])
    hi = edges[np.minimum(k + 1, len(edges) - 1)]
    lo, hi = np.minimum(lo, U[:, None]), np.minimum(hi, U[:, None])  # panels beyond U: length 0
    half = (hi - lo) / 2
    u = (lo + half)[:, :, None] + half[:, :, None] * _NODES  # (n, panels, nodes)
    w = half[:, :, None] * _WEIGHTS
    tau_m = (m + tx)[:, None, None] * np.exp(u / a[:, None, None])  # m + tau
    # alpha + tau and beta + tau; the smaller one as (min + t_x) e^(u/a) + (m + t_x)(e^(u/a) - 1),
    # which keeps its digits when min is far below m (tau_m - m + min would lose them).
    grow = (m + tx)[:, None, None] * np.expm1(u / a[:, None, None])
    low = (np.minimum(alpha, beta) + tx)[:, None, None] + grow
    at, bt = (tau_m, low) if alpha >= beta else (low, tau_m)
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
        # The dead term by quadrature, in logs (2F1's closed form, _log_a0, loses every digit when its
        # argument nears 1, and overflows for large frequencies; the tests check the two agree elsewhere).
        dead_term, g_dead = _dead_gradient(r, alpha, s, beta, x, tx, T)
        ll = a1 + np.logaddexp(alive_term, dead_term)
        if not grad:
            return ll
        # d ll = d a1 + P_alive d log E_alive + (1 - P_alive) d log E_dead, P_alive = E_alive / (E_alive + E_dead).
        share_alive = np.exp(alive_term - ll + a1)
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
        log_dead, _ = _dead_gradient(r, alpha, s, beta, x, tx, T)
        log_ratio = (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_dead
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
