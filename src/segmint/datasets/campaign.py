"""A campaign with a known effect, planted on a generated shop (and simulated in bulk).

The statistics of :mod:`segmint.measure` are checked against a truth that only a
generator knows:

* :func:`plant_orders` adds the orders a campaign *caused*: each treated customer of
  persona ``p`` places ``Poisson(lift[p])`` extra orders inside the campaign window, so the
  true lift on orders per customer is ``lift[p]`` exactly (in expectation); holdout
  customers get nothing. Zero for a persona means the campaign does nothing there.
* :func:`simulate` draws many campaigns at once (vectorised, no engine): per customer a
  persona, a pre-period order count that predicts the in-window count (so CUPED has
  something to work with), the group, and the outcome with the planted lift. It returns
  the arrays the read-out's sums are made of, one row per replicate.

Examples
--------
>>> import pandas as pd
>>> members = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "group": ["treatment", "holdout", "treatment"],
...                         "persona": ["vip", "vip", "bargain"]})
>>> extra = plant_orders(members, {"vip": 3.0, "bargain": 0.0}, "2025-06-01", "2025-07-01", seed=1)
>>> sorted(set(extra["customer_id"]))
['C1']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["plant_events", "plant_orders", "simulate"]


def plant_orders(members: pd.DataFrame, lift: Mapping[str, float], start: str, end: str, seed: int = 0,
                 mean_amount: float = 60.0) -> pd.DataFrame:
    """The orders a campaign caused, in the orders table's columns (ingest them on top of the shop's).

    Parameters
    ----------
    members : DataFrame
        ``customer_id``, ``group`` (treatment/holdout) and ``persona``.
    lift : mapping of persona to float
        Extra orders per treated customer (expected); a persona not named gets 0.
    start, end : str
        The campaign window (ISO dates, end exclusive).
    """
    rng, ids, when = _caused(members, lift, start, end, seed)
    n = len(ids)
    return pd.DataFrame({
        "order_id": [f"CAMP{seed:03d}-{i:07d}" for i in range(n)],
        "customer_id": ids,
        "ordered_at": when,
        "amount": np.round(rng.gamma(4.0, mean_amount / 4.0, n) + 1.0, 2),
        "returned": False,
    })


def plant_events(members: pd.DataFrame, lift: Mapping[str, float], start: str, end: str, event: str = "email_click",
                 seed: int = 0) -> pd.DataFrame:
    """The events a campaign caused, in the events table's columns: ``Poisson(lift[p])`` extra ``event``
    events per treated customer of persona ``p`` in the window, so the true lift on ``event_count:EVENT``
    is ``lift[p]`` (and on ``event:EVENT``, the share with one, ``P(N = 0) - P(N + extra = 0)``).

    Examples
    --------
    >>> members = pd.DataFrame({"customer_id": ["C1", "C2"], "group": ["treatment", "holdout"],
    ...                         "persona": ["vip", "vip"]})
    >>> plant_events(members, {"vip": 4.0}, "2025-06-01", "2025-07-01", seed=2)["event"].unique().tolist()
    ['email_click']
    """
    _, ids, when = _caused(members, lift, start, end, seed)
    return pd.DataFrame({"customer_id": ids, "occurred_at": when, "event": event,
                         "properties": [f'{{"planted": {i}}}' for i in range(len(ids))]})


def _caused(members: pd.DataFrame, lift: Mapping[str, float], start: str, end: str, seed: int):
    """(rng, customer ids, times): ``Poisson(lift[persona])`` draws per treated member, uniform in the window."""
    rng = np.random.default_rng(seed)
    treated = members[members["group"] == "treatment"]
    rate = treated["persona"].map(lambda p: float(lift.get(p, 0.0))).to_numpy(float)
    ids = np.repeat(treated["customer_id"].to_numpy(), rng.poisson(rate))
    t0, t1 = np.datetime64(start, "s"), np.datetime64(end, "s")
    when = t0 + rng.integers(0, int((t1 - t0).astype(int)), len(ids)).astype("timedelta64[s]")
    return rng, ids, pd.to_datetime(when).strftime("%Y-%m-%d %H:%M:%S")


def simulate(n: int, reps: int, lift: Mapping[str, float], holdout: float = 0.1, seed: int = 0,
             personas: Mapping[str, float] | None = None, predictive: float = 0.8) -> dict[str, np.ndarray]:
    """``reps`` campaigns over ``n`` customers, all at once.

    Each customer has a persona (shares ``personas``, default equal), a latent order rate
    ``lambda`` (gamma, persona-specific mean), a pre-period count ``x ~ Poisson(lambda)`` and an
    in-window count ``y ~ Poisson(lambda * predictive + (1 - predictive) * mean)`` plus, when
    treated, ``Poisson(lift[persona])``.

    Returns
    -------
    dict
        ``persona`` (n,) indices into ``names``, ``names``, ``treated`` (reps, n) bool,
        ``x`` and ``y`` (reps, n) floats, ``true_lift`` per persona name.
    """
    rng = np.random.default_rng(seed)
    names = list(personas or lift)
    shares = np.array([float((personas or {}).get(p, 1.0)) for p in names])
    persona = rng.choice(len(names), size=n, p=shares / shares.sum())
    base = 1.0 + np.arange(len(names), dtype=float)  # persona means differ
    lam = rng.gamma(2.0, base[persona] / 2.0, size=(reps, n))
    x = rng.poisson(lam).astype(float)
    y = rng.poisson(lam * predictive + (1 - predictive) * base[persona]).astype(float)
    treated = rng.random((reps, n)) >= holdout
    eff = np.array([float(lift.get(p, 0.0)) for p in names])[persona]
    y += np.where(treated, rng.poisson(np.broadcast_to(eff, (reps, n))), 0)
    return {"persona": persona, "names": np.array(names), "treated": treated, "x": x, "y": y,
            "true_lift": {p: float(lift.get(p, 0.0)) for p in names}}
