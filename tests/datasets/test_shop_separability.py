"""The planted personas can be recovered from behaviour alone (k-means, ARI >= 0.8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from segmint.datasets import BEHAVIOURAL_PERSONAS, make_shop


def behaviour(shop) -> pd.DataFrame:
    """A handful of behavioural features, computed with plain pandas."""
    o, end = shop.orders, pd.Timestamp(shop.end)
    g = o.groupby("customer_id")
    first, last, n = g["ordered_at"].min(), g["ordered_at"].max(), g.size()
    signup = shop.customers.set_index("customer_id")["signup_at"]
    ev = shop.events
    sent = ev[ev["event"] == "email_sent"].groupby("customer_id").size()
    opened = ev[ev["event"] == "email_open"].groupby("customer_id").size()
    # A single order has no gap yet; use the time waited since it (a censored gap).
    cadence = np.where(n > 1, (last - first).dt.days / (n - 1).clip(lower=1), (end - first).dt.days)
    cat = pd.crosstab(o["customer_id"], o["category"], normalize="index")
    chan = pd.crosstab(o["customer_id"], o["channel"], normalize="index")
    features = pd.DataFrame(
        {
            "recency": (end - last).dt.days,
            "tenure": (end - signup.reindex(n.index)).dt.days,
            "log_frequency": np.log(n),
            "log_monetary_mean": np.log(g["amount"].mean()),
            "log_monetary_total": np.log(g["amount"].sum()),
            "log_cadence": np.log1p(cadence),
            "log_quantity": np.log(g["quantity"].mean()),
            "promo_share": g["promo"].mean(),
            "open_rate": (opened.reindex(n.index).fillna(0) / sent.reindex(n.index)).fillna(0),
        }
    )
    for name in cat.columns:
        features[f"share_{name}"] = cat[name]
    for name in ("web", "app", "store", "phone"):
        features[f"share_{name}"] = chan[name]
    return features


@pytest.fixture(scope="module")
def data():
    shop = make_shop(5_000, seed=0)
    x = behaviour(shop)
    z = (x - x.mean()) / x.std()
    truth = shop.ground_truth.set_index("customer_id")["persona"].reindex(z.index)
    return z, truth


def test_kmeans_recovers_the_planted_personas(data):
    z, truth = data
    k = len(BEHAVIOURAL_PERSONAS)
    labels = KMeans(k, n_init=5, random_state=0).fit_predict(z.to_numpy())
    ari = adjusted_rand_score(truth, labels)
    assert ari >= 0.8, f"ARI {ari:.3f}"


def test_personas_are_compact_relative_to_their_distances(data):
    z, truth = data
    centres = z.groupby(truth).mean()
    spread = np.sqrt(((z - centres.loc[truth].to_numpy()) ** 2).sum(axis=1)).groupby(truth).mean()
    gaps = np.sqrt(((centres.to_numpy()[:, None, :] - centres.to_numpy()[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(gaps, np.inf)
    # The closest pair of persona centres is further apart than the typical member is from its own.
    assert gaps.min() > spread.median()


@pytest.mark.slow
def test_silhouette_points_at_the_planted_number_of_groups(data):
    z, _ = data
    x = z.to_numpy()
    scores = {
        k: silhouette_score(
            x, KMeans(k, n_init=3, random_state=0).fit_predict(x), sample_size=3_000, random_state=0
        )
        for k in range(5, 10)
    }
    assert max(scores, key=scores.get) == len(BEHAVIOURAL_PERSONAS), scores
