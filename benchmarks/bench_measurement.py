"""Measurement benchmark (issue 19): a campaign read-out and lookalike scoring at 1M customers, against the
pandas / scipy / scikit-learn notebook code that gives the same numbers, in the same run.

    python benchmarks/bench_measurement.py --customers 1000000 --runs 2

The shop is synthetic and small per customer (a few orders each), built once under benchmarks/.cache:
customers, pre-period orders, a feature snapshot at the campaign start, a rule segmentation on frequency, a
campaign with 10% held out, and in-window orders with a planted lift of 0.05 orders per treated customer.

Timed, segmint: ``Workspace.measure_campaign`` (outcomes, treatment vs holdout overall and per segment,
Welch intervals, CUPED, sample-ratio check, Holm, 200-replicate bootstrap) and ``Workspace.lookalike``
(read the snapshot, cross-fitted PU classifier, score everyone, bands, drivers).

Timed, the notebook: the same from frames already in memory (the time to load them is not counted):
``groupby`` outcomes, ``merge``, ``scipy.stats.ttest_ind`` per segment, CUPED with numpy, a 200-replicate
bootstrap of the overall difference; and ``HistGradientBoostingClassifier`` fitted seed-vs-rest, then
``predict_proba`` for everyone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from common import CACHE, machine, median, write_result  # noqa: E402

START, END, PRE = "2025-06-01", "2025-07-01", "2024-06-01"
LIFT = 0.05


def build(path: Path, n: int, seed: int = 0):
    from segmint.datasets.campaign import plant_orders
    from segmint.workspace import Workspace

    if (path / "built").exists():
        return Workspace.open(path)
    shutil.rmtree(path, ignore_errors=True)
    rng = np.random.default_rng(seed)
    ws = Workspace.init(path)
    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    ws.ingest("customers", pd.DataFrame({"customer_id": ids, "marketing_consent": rng.random(n) < 0.8,
                                         "age": rng.integers(18, 80, n)}))
    lam = rng.gamma(2.0, 1.0, n)
    k = rng.poisson(lam * 2)
    t0, t1 = np.datetime64(PRE, "s"), np.datetime64(START, "s")
    cust = np.repeat(ids, k)
    when = t0 + rng.integers(0, int((t1 - t0).astype(int)), len(cust)).astype("timedelta64[s]")
    pre = pd.DataFrame({"order_id": np.char.add("P", np.arange(len(cust)).astype(str)), "customer_id": cust,
                        "ordered_at": when, "amount": np.round(rng.gamma(3.0, 20.0, len(cust)) + 1, 2)})
    ws.ingest("orders", pre)
    ws.snapshot_features(START)
    (path / "segments" / "bench.yaml").write_text(
        "bench:\n  kind: rules\n  segments:\n    - {name: Heavy, where: 'frequency >= 5'}\n"
        "    - {name: Mid, where: 'frequency >= 2'}\n  else: Light\n", encoding="utf-8")
    ws.config = type(ws.config).load(path / "segmint.yaml")
    ws.segment("bench", START)
    ws.create_campaign("bench", "bench", holdout=0.1, start=START, end=END, outcome="orders")
    members = ws.campaign_members("bench").to_pyarrow().to_pandas()
    lam_of = pd.Series(lam, index=ids)
    base_k = rng.poisson(lam_of.reindex(members["customer_id"]).to_numpy() * 0.15)
    cust = np.repeat(members["customer_id"].to_numpy(), base_k)
    t0, t1 = np.datetime64(START, "s"), np.datetime64(END, "s")
    when = t0 + rng.integers(0, int((t1 - t0).astype(int)), len(cust)).astype("timedelta64[s]")
    window = pd.DataFrame({"order_id": np.char.add("W", np.arange(len(cust)).astype(str)), "customer_id": cust,
                           "ordered_at": when, "amount": np.round(rng.gamma(3.0, 20.0, len(cust)) + 1, 2)})
    planted = plant_orders(members.assign(persona="all"), {"all": LIFT}, START, END, seed=1)
    ws.ingest("orders", pd.concat([window, planted.drop(columns=["returned"])], ignore_index=True))
    (path / "built").write_text("ok")
    return ws


def notebook_measure(orders: pd.DataFrame, members: pd.DataFrame, pre: pd.DataFrame) -> dict:
    """What an analyst writes: outcomes per customer, Welch per segment, CUPED, a bootstrap."""
    from scipy import stats

    o = orders[(orders["ordered_at"] >= START) & (orders["ordered_at"] < END)]
    y = o.groupby("customer_id").size().rename("y")
    d = members.merge(y, left_on="customer_id", right_index=True, how="left").merge(pre, on="customer_id",
                                                                                      how="left")
    d["y"] = d["y"].fillna(0.0)
    d["x"] = d["x"].fillna(0.0)
    out = {}
    for seg, g in [("overall", d), *d.groupby("segment")]:
        t, h = g.loc[g["group"] == "treatment", "y"], g.loc[g["group"] == "holdout", "y"]
        r = stats.ttest_ind(t, h, equal_var=False)
        ci = r.confidence_interval()
        out[seg] = (t.mean() - h.mean(), ci.low, ci.high, r.pvalue)
    theta = np.cov(d["y"], d["x"])[0, 1] / d["x"].var()
    adj = d["y"] - theta * (d["x"] - d["x"].mean())
    t, h = adj[d["group"] == "treatment"], adj[d["group"] == "holdout"]
    out["cuped"] = stats.ttest_ind(t, h, equal_var=False).confidence_interval()
    rng = np.random.default_rng(0)
    yt, yh = d.loc[d["group"] == "treatment", "y"].to_numpy(), d.loc[d["group"] == "holdout", "y"].to_numpy()
    boots = [rng.choice(yt, len(yt)).mean() - rng.choice(yh, len(yh)).mean() for _ in range(200)]
    out["bootstrap"] = np.quantile(boots, [0.025, 0.975])
    return out


def notebook_lookalike(features: pd.DataFrame, seed: set) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = features.drop(columns=["customer_id"]).select_dtypes(include=["number", "bool"]).astype("float64")
    y = features["customer_id"].isin(seed).to_numpy()
    rng = np.random.default_rng(0)
    rest = np.flatnonzero(~y)
    rows = np.concatenate([np.flatnonzero(y), rng.choice(rest, min(len(rest), 200_000), replace=False)])
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X.to_numpy()[rows], y[rows])
    return model.predict_proba(X.to_numpy())[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("SEGMINT_SECRET", "benchmark-secret-key-not-for-production")
    path = CACHE / f"measurement-{args.customers}"
    t = time.perf_counter()
    cached = (path / "built").exists()
    ws = build(path, args.customers)
    built = time.perf_counter() - t
    built_note = "a workspace cached under benchmarks/.cache" if cached else f"built in {built:.0f} s"
    # the notebook's frames, loaded before its clock starts
    orders = ws.store.table("orders").select("customer_id", "ordered_at").to_pyarrow().to_pandas()
    orders["ordered_at"] = orders["ordered_at"].astype(str)
    members = ws.campaign_members("bench").select("customer_id", "segment", "group").to_pyarrow().to_pandas()
    from segmint.features.snapshot import load_features

    feats = load_features(ws.store, START).drop("as_of").to_pyarrow().to_pandas()
    pre = feats[["customer_id", "orders_last_30"]].rename(columns={"orders_last_30": "x"})
    seed = set(members.loc[members["segment"] == "Heavy", "customer_id"])

    # wall and CPU seconds (all threads of this process), and the load average around each part
    seg_m, nb_m, seg_l, nb_l = [], [], [], []
    cpu = {"seg_m": [], "nb_m": [], "seg_l": [], "nb_l": []}
    loads = []

    def timed(wall: list, key: str, fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu[key].append(time.process_time() - c)
        return out

    loads.append(os.getloadavg()[0])
    for _ in range(args.runs):
        r = timed(seg_m, "seg_m", lambda: ws.measure_campaign("bench"))
        nb = timed(nb_m, "nb_m", lambda: notebook_measure(orders, members, pre))
    loads.append(os.getloadavg()[0])
    for _ in range(args.runs):
        la = timed(seg_l, "seg_l", lambda: ws.lookalike("bench:Heavy", "customers", 0.05))
        timed(nb_l, "nb_l", lambda: notebook_lookalike(feats, seed))
    loads.append(os.getloadavg()[0])
    o = r["overall"]
    check = (f"segmint lift {o['lift']:.5f} [{o['lift_ci'][0]:.5f}, {o['lift_ci'][1]:.5f}]; notebook "
             f"{nb['overall'][0]:.5f} [{nb['overall'][1]:.5f}, {nb['overall'][2]:.5f}]; planted {LIFT}")
    n_cust = o["treatment"]["customers"] + o["holdout"]["customers"]
    md = f"""# Measurement benchmark: campaign read-out and lookalike scoring

- command: `python benchmarks/bench_measurement.py --customers {args.customers} --runs {args.runs}`
- machine: {machine()} (shared with other jobs while measured)
- data: synthetic, {n_cust:,} campaign members ({built_note}: ingest, snapshot, segmentation, campaign, planted orders)
- times: median of {args.runs} runs, wall and CPU (`time.process_time`: every thread of the process); the notebook
  starts from pandas frames already loaded (loading not counted); load average (1 min) before, between and after
  the two parts: {", ".join(f"{x:.1f}" for x in loads)}

| step | customers | segmint s | notebook s | segmint CPU s | notebook CPU s | goal |
|---|---:|---:|---:|---:|---:|---|
| campaign measure (overall + 3 segments, CUPED, SRM, Holm, 200 bootstrap replicates) | {n_cust:,} | {median(seg_m):.2f} | {median(nb_m):.2f} | {median(cpu["seg_m"]):.2f} | {median(cpu["nb_m"]):.2f} | segmint <= 5 s |
| lookalike scoring (fit + score everyone outside the seed, bands, drivers) | {la['candidates'] + la['seed']:,} | {median(seg_l):.2f} | {median(nb_l):.2f} | {median(cpu["seg_l"]):.2f} | {median(cpu["nb_l"]):.2f} | segmint <= 30 s |

Check: {check}. CUPED on {r['covariate']}: [{o['cuped']['lift_ci'][0]:.5f}, {o['cuped']['lift_ci'][1]:.5f}]
(notebook [{nb['cuped'].low:.5f}, {nb['cuped'].high:.5f}], covariate orders_last_30). Lookalike: seed {la['seed']:,},
c = {la['c']:.3f}, top band expected precision {la['bands'][0]['expected_precision']:.3f}, trained on {la['trained_on']}.

Notes:

- segmint's read-out aggregates the sums the statistics need in DuckDB (only two columns of a million rows
  leave it, for the bootstrap); the bootstrap resamples 200,000 per group and rescales (m-out-of-n), where the
  notebook resamples every customer. The lookalike fits three cross-fitted models on bounded samples (at most
  50,000 seed members and 100,000 others, 50 rounds each, features binned once) and scores everyone outside
  its unlabelled sample with all three; the notebook fits one model (100 rounds) on the whole seed and 200,000
  others and scores everyone with it.
"""
    print(md)
    write_result("measurement", md)


if __name__ == "__main__":
    main()
