"""The reference pipeline of benchmarks/bench_e2e.py: customer segmentation as a data team writes it in a notebook.

Runs in benchmarks/.venv-peers (pandas 1.5 + Lifetimes 0.11.3 + scikit-learn; see make_peer_venv.sh and
requirements-notebook.txt), cell after cell, on the Parquet files of the generated shop:

1. load customers and orders (only the columns used);
2. RFM features per customer from the purchases before the as-of date (returns left out), RFM scores
   (quintiles) and the usual named RFM segments;
3. CLV with Lifetimes: ``summary_data_from_transaction_data``, BG/NBD + Gamma-Gamma, expected purchases,
   probability alive and 12-month CLV (the same penalty, horizon and discount as segmint's snapshot);
4. KMeans for k = 2..10 on the RFM features (clipped at the 1st/99th percentiles, log1p where skewed,
   robust-scaled: the recipe segmint applies by default), silhouette on a 10k sample, best k by silhouette;
5. profiles by groupby (per cluster, per RFM segment, per CLV tier).

    benchmarks/.venv-peers/bin/python benchmarks/peers/notebook_pipeline.py DATA_DIR OUT_DIR --as-of 2025-07-01

Writes OUT_DIR/labels.parquet (customer_id and the KMeans labels for every k, so the benchmark can compare
at segmint's k), OUT_DIR/result.json (seconds per step, the silhouette table, the chosen k) and the profiles
as CSV, as a notebook would.
"""

import argparse
import json
import os
import platform
import time

import lifetimes
import numpy as np
import pandas as pd
import pyarrow
import sklearn
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import RobustScaler

CLUSTER_FEATURES = ["recency_days", "frequency", "monetary_total", "monetary_mean", "tenure_days"]
RFM_SEGMENTS = {  # the segment map from the usual RFM tutorials, on recency and frequency scores
    r"[1-2][1-2]": "Hibernating", r"[1-2][3-4]": "At risk", r"[1-2]5": "Can't lose them",
    r"3[1-2]": "About to sleep", r"33": "Need attention", r"[3-4][4-5]": "Loyal customers",
    r"41": "Promising", r"51": "New customers", r"[4-5][2-3]": "Potential loyalists", r"5[4-5]": "Champions",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--as-of", default="2025-07-01")
    ap.add_argument("--k-min", type=int, default=2)
    ap.add_argument("--k-max", type=int, default=10)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    as_of = pd.Timestamp(args.as_of)
    steps = {}
    t = time.perf_counter()

    def step(name):
        nonlocal t
        now = time.perf_counter()
        steps[name] = round(now - t, 3)
        t = now

    # -- 1. load
    orders = pd.read_parquet(os.path.join(args.data, "orders.parquet"),
                             columns=["customer_id", "order_id", "ordered_at", "amount", "returned"])
    customers = pd.read_parquet(os.path.join(args.data, "customers.parquet"), columns=["customer_id", "signup_at"])
    customers["signup_at"] = pd.to_datetime(customers["signup_at"])
    step("load")

    # -- 2. RFM
    orders = orders[orders.ordered_at < as_of]
    buys = orders[~orders.returned.fillna(False)]
    rfm = buys.groupby("customer_id").agg(
        first_order_at=("ordered_at", "min"),
        last_order_at=("ordered_at", "max"),
        frequency=("order_id", "count"),
        monetary_total=("amount", "sum"),
    )
    rfm["monetary_mean"] = rfm.monetary_total / rfm.frequency
    rfm["recency_days"] = (as_of - rfm.last_order_at).dt.total_seconds() / 86400
    rfm = rfm.join(customers.set_index("customer_id"))
    start = rfm[["signup_at", "first_order_at"]].min(axis=1)
    rfm["tenure_days"] = (as_of - start).dt.total_seconds() / 86400
    rfm["r_score"] = pd.qcut(rfm.recency_days.rank(method="first", ascending=False), 5, labels=[1, 2, 3, 4, 5])
    rfm["f_score"] = pd.qcut(rfm.frequency.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    rfm["m_score"] = pd.qcut(rfm.monetary_total.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    rfm["rfm_segment"] = (rfm.r_score.astype(str) + rfm.f_score.astype(str)).replace(RFM_SEGMENTS, regex=True)
    step("rfm")

    # -- 3. CLV with Lifetimes
    summary = summary_data_from_transaction_data(buys, "customer_id", "ordered_at", "amount",
                                                 observation_period_end=as_of, freq="D")
    bgf = BetaGeoFitter(penalizer_coef=0.001)
    bgf.fit(summary["frequency"], summary["recency"], summary["T"])
    summary["expected_purchases_90d"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        90, summary["frequency"], summary["recency"], summary["T"])
    summary["expected_purchases_365d"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        365, summary["frequency"], summary["recency"], summary["T"])
    summary["probability_alive"] = bgf.conditional_probability_alive(
        summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    ggf = GammaGammaFitter(penalizer_coef=0.001)
    ggf.fit(repeat["frequency"], repeat["monetary_value"])
    summary["predicted_clv_12m"] = ggf.customer_lifetime_value(
        bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=12, discount_rate=0.01, freq="D")
    rfm = rfm.join(summary[["expected_purchases_90d", "expected_purchases_365d", "probability_alive",
                            "predicted_clv_12m"]])
    rfm["value_tier"] = pd.qcut(rfm.predicted_clv_12m.rank(method="first"), 4,
                                labels=["Low value", "Medium value", "High value", "Top value"])
    step("clv")

    # -- 4. KMeans for k = 2..10, silhouette on a 10k sample
    X = rfm[CLUSTER_FEATURES].astype(float)
    X = X.fillna(X.median())
    X = X.clip(X.quantile(0.01), X.quantile(0.99), axis=1)
    for col in CLUSTER_FEATURES:
        if X[col].min() >= 0 and X[col].skew() > 1:
            X[col] = np.log1p(X[col])
    Z = RobustScaler().fit_transform(X)
    step("prepare")
    rows = []
    labels = pd.DataFrame(index=rfm.index)
    for k in range(args.k_min, args.k_max + 1):
        km = KMeans(n_clusters=k, random_state=0).fit(Z)
        sil = silhouette_score(Z, km.labels_, sample_size=10_000, random_state=0)
        rows.append({"k": k, "silhouette": float(sil), "inertia": float(km.inertia_)})
        labels[f"k{k}"] = km.labels_.astype("int16")
    scores = pd.DataFrame(rows)
    best_k = int(scores.loc[scores.silhouette.idxmax(), "k"])
    rfm["cluster"] = labels[f"k{best_k}"]
    step("kmeans")

    # -- 5. profiles
    cols = CLUSTER_FEATURES + ["predicted_clv_12m", "probability_alive", "expected_purchases_365d"]
    profiles = {}
    for by in ("cluster", "rfm_segment", "value_tier"):
        groups = rfm.groupby(by)[cols]
        mean = groups.mean()
        # each segment against the population: the ratio of its mean to the overall mean
        prof = pd.concat({"mean": mean, "median": groups.median(), "lift": mean / rfm[cols].mean()}, axis=1)
        prof["customers"] = rfm.groupby(by).size()
        prof["share"] = prof["customers"] / len(rfm)
        profiles[by] = prof
    step("profiles")

    labels["predicted_clv_12m"] = rfm["predicted_clv_12m"]
    labels.reset_index().to_parquet(os.path.join(args.out, "labels.parquet"), index=False)
    for by, prof in profiles.items():
        prof.to_csv(os.path.join(args.out, f"profile_{by}.csv"))
    step("write")
    with open(os.path.join(args.out, "result.json"), "w") as fh:
        json.dump({"steps": steps, "customers": int(len(rfm)), "orders": int(len(orders)),
                   "purchases": int(len(buys)), "best_k": best_k, "scores": rows,
                   "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
                   "gamma_gamma": {k: float(v) for k, v in ggf.params_.items()},
                   "versions": {"python": platform.python_version(), "pandas": pd.__version__,
                                "numpy": np.__version__, "lifetimes": lifetimes.__version__,
                                "scikit-learn": sklearn.__version__, "pyarrow": pyarrow.__version__}}, fh)
    print(json.dumps({"steps": steps, "best_k": best_k}))


if __name__ == "__main__":
    main()
