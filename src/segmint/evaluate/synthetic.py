"""A small customer feature table with planted segments, for tests, docs and demos.

:func:`planted_features` draws customers from five well-separated personas (declared
as data in :data:`PERSONAS`), with the feature names of segmint's feature snapshot, so
evaluation, profiles, names and the report can be tried without a workspace.

Examples
--------
>>> f, labels = planted_features(500, seed=1)
>>> f.shape[0], sorted(labels.unique().tolist())
(500, [0, 1, 2, 3, 4])
>>> f.index.name
'customer_id'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: persona -> mean of each numeric feature; shares are drawn around these, counts from Poisson.
PERSONAS: dict[str, dict[str, float]] = {
    "high value regulars": {"recency_days": 12, "frequency": 14, "monetary_mean": 95, "tenure_days": 900, "promo_share": 0.10,
                                "return_share": 0.04, "email_open_rate": 0.55, "probability_alive": 0.95, "age": 46,
                                "online": 0.5, "books": 0.2, "fashion": 0.5, "consent": 0.85},
    "lapsed bargain hunters": {"recency_days": 300, "frequency": 4, "monetary_mean": 30, "tenure_days": 800,
                                   "promo_share": 0.70, "return_share": 0.08, "email_open_rate": 0.10,
                                   "probability_alive": 0.25, "age": 38, "online": 0.6, "books": 0.2, "fashion": 0.2, "consent": 0.5},
    "new customers": {"recency_days": 20, "frequency": 1.2, "monetary_mean": 45, "tenure_days": 30, "promo_share": 0.3,
                          "return_share": 0.05, "email_open_rate": 0.40, "probability_alive": 0.8, "age": 29, "online": 0.9,
                          "books": 0.3, "fashion": 0.4, "consent": 0.7},
    "bookworms": {"recency_days": 60, "frequency": 7, "monetary_mean": 25, "tenure_days": 600, "promo_share": 0.15,
                      "return_share": 0.01, "email_open_rate": 0.35, "probability_alive": 0.8, "age": 61, "online": 0.2,
                      "books": 0.85, "fashion": 0.05, "consent": 0.6},
    "fashion returners": {"recency_days": 45, "frequency": 6, "monetary_mean": 120, "tenure_days": 400, "promo_share": 0.25,
                              "return_share": 0.45, "email_open_rate": 0.30, "probability_alive": 0.7, "age": 33,
                              "online": 0.95, "books": 0.02, "fashion": 0.9, "consent": 0.3},
}
REGIONS = ("North", "South", "East", "West", "London")


def planted_features(n: int = 3000, seed: int = 0, noise: float = 0.15,
                     weights: tuple[float, ...] = (0.15, 0.25, 0.2, 0.2, 0.2)) -> tuple[pd.DataFrame, pd.Series]:
    """Features of ``n`` customers from the five :data:`PERSONAS`, and their planted segment (0-4).

    ``noise`` is the relative spread around each persona's means; 0.15 keeps the
    segments well apart, 1.0 blurs them together.
    """
    rng = np.random.default_rng(seed)
    k = len(PERSONAS)
    seg = rng.choice(k, size=n, p=np.asarray(weights) / np.sum(weights))
    P = pd.DataFrame(PERSONAS.values()).iloc[seg].reset_index(drop=True)

    def around(col: str, low: float = 0.0, high: float = np.inf) -> np.ndarray:
        return np.clip(P[col].to_numpy() * (1 + noise * rng.standard_normal(n)), low, high)

    def share(col: str) -> np.ndarray:
        return np.clip(P[col].to_numpy() + noise * 0.5 * rng.standard_normal(n), 0, 1)

    frequency = np.maximum(1, np.round(around("frequency"))).astype(int)
    monetary_mean = around("monetary_mean", 1)
    books, fashion = share("books"), share("fashion")
    home = np.clip(1 - books - fashion, 0, 1)
    total = books + fashion + home
    online = share("online")
    f = pd.DataFrame({
        "recency_days": around("recency_days", 0).round(),
        "frequency": frequency,
        "monetary_total": (frequency * monetary_mean).round(2),
        "monetary_mean": monetary_mean.round(2),
        "tenure_days": around("tenure_days", 1).round(),
        "orders_last_90": rng.poisson(frequency * np.exp(-P["recency_days"].to_numpy() / 120)),
        "category_share_books": books / total,
        "category_share_fashion": fashion / total,
        "category_share_home": home / total,
        "channel_share_online": online,
        "channel_share_store": 1 - online,
        "promo_share": share("promo_share"),
        "return_share": share("return_share"),
        "email_open_rate": share("email_open_rate"),
        "age": around("age", 18, 95).round().astype(int),
        "gender": rng.choice(["female", "male", "other"], size=n, p=[0.5, 0.47, 0.03]),
        "region": [REGIONS[(s + rng.integers(0, 2)) % len(REGIONS)] for s in seg],
        "marketing_consent": rng.random(n) < P["consent"].to_numpy(),
        "has_email": rng.random(n) < 0.95,
        "probability_alive": share("probability_alive"),
    }, index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id"))
    f["predicted_clv_12m"] = (f["probability_alive"] * f["frequency"] * f["monetary_mean"] * 0.8).round(2)
    return f, pd.Series(seg, index=f.index, name="segment")
