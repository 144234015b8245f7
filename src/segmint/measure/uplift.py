"""Who responds: a two-model uplift estimate on a measured campaign, its Qini curve and uplift at k.

The campaign's members are split in two halves (each group split alike). On the first, two
gradient-boosting regressors learn the outcome from the feature snapshot at the campaign's
start, one on the treated, one on the held out; a customer's predicted *uplift* is the
difference of their two predictions (the two-model, or T-, learner). On the second half,
which neither model saw, customers are ranked by predicted uplift and the Qini curve counts,
for the top share ``phi`` of them, the extra outcomes of the treated over what the holdout
rate predicts: ``Q(phi) = Y_t(phi) - Y_h(phi) * N_t(phi) / N_h(phi)``. A model that finds the
responders climbs above the straight line of random targeting; the Qini coefficient is the
area between the two, over the area under the line's end point (0: no better than random).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(4000, 2)); t = rng.random(4000) < 0.5
>>> y = rng.normal(size=4000) + t * (x[:, 0] > 0) * 2.0      # only x0 > 0 responds
>>> q = qini(y, t, x[:, 0])                                   # ranked by the true driver
>>> q["coefficient"] > 0.3, round(q["uplift_at"]["10%"], 1) > 1.5
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmint.errors import DataError

__all__ = ["qini", "two_model", "uplift_report"]

K = (0.1, 0.2, 0.3, 0.5)


def qini(y: np.ndarray, treated: np.ndarray, score: np.ndarray, points: int = 20) -> dict[str, Any]:
    """The Qini curve of a ranking by ``score`` (descending), its coefficient and the uplift in the top k."""
    order = np.argsort(-score, kind="stable")
    y, t = np.asarray(y, float)[order], np.asarray(treated, bool)[order]
    cy_t, cy_h = np.cumsum(y * t), np.cumsum(y * ~t)
    cn_t, cn_h = np.cumsum(t), np.cumsum(~t)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = cy_t - cy_h * np.where(cn_h > 0, cn_t / cn_h, 0.0)
    n = len(y)
    shares = np.linspace(0, 1, points + 1)
    at = np.clip((shares * n).astype(int) - 1, 0, n - 1)
    curve = [{"share": float(s), "qini": float(q[i]) if s > 0 else 0.0} for s, i in zip(shares, at)]
    total = q[-1]
    random_line = total * np.arange(1, n + 1) / n
    area = float(np.mean(q - random_line))
    ideal = float(np.mean(np.abs(random_line))) or 1.0
    uplift_at = {}
    for k in K:
        m = max(int(round(k * n)), 2)
        tt, hh = t[:m], ~t[:m]
        uplift_at[f"{k:.0%}"] = float(y[:m][tt].mean() - y[:m][hh].mean()) if tt.any() and hh.any() else None
    return {"curve": curve, "coefficient": area / ideal if total != 0 else 0.0, "uplift_at": uplift_at,
            "overall_lift": float(y[t].mean() - y[~t].mean()) if t.any() and (~t).any() else None}


def two_model(X: np.ndarray, y: np.ndarray, treated: np.ndarray, fit_rows: np.ndarray, random_state: int = 0):
    """Fit the treated and the holdout models on ``fit_rows``; return predicted uplift for every row."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    preds = []
    with threadpool_limits(1 if len(X) < 100_000 else None):
        for arm in (True, False):
            rows = fit_rows & (treated == arm)
            if rows.sum() < 50:
                raise DataError(f"only {int(rows.sum())} {'treated' if arm else 'held-out'} customers to learn "
                                "from; uplift modelling needs at least 50 in each group's training half")
            model = HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=15, min_samples_leaf=40,
                                                  l2_regularization=1.0, random_state=random_state)
            # a feature missing for every customer of this arm (a segment defined by its absence) breaks the
            # binning of this scikit-learn; it says nothing to the model anyway, so it is left out of this arm
            cols = ~np.isnan(X[rows]).all(axis=0)
            model.fit(X[rows][:, cols], y[rows])
            preds.append(model.predict(X[:, cols]))
    return preds[0] - preds[1]


def uplift_report(frame: pd.DataFrame, X: np.ndarray, random_state: int = 0) -> dict[str, Any]:
    """Uplift of a campaign: ``frame`` has ``customer_id``, ``segment``, ``group``, ``y`` (aligned with ``X``)."""
    rng = np.random.default_rng(random_state)
    treated = (frame["group"] == "treatment").to_numpy()
    y = frame["y"].to_numpy(float)
    fit_rows = rng.random(len(frame)) < 0.5
    score = two_model(X, y, treated, fit_rows, random_state)
    test = ~fit_rows
    q = qini(y[test], treated[test], score[test])
    rand = qini(y[test], treated[test], rng.random(int(test.sum())))
    per = (pd.DataFrame({"segment": frame["segment"].to_numpy(), "uplift": score})
           .groupby("segment")["uplift"].agg(["mean", "size"]).sort_values("mean", ascending=False))
    return {"method": "two-model (gradient boosting), evaluated on the half it did not train on",
            "customers_fit": int(fit_rows.sum()), "customers_evaluated": int(test.sum()),
            "qini": q["curve"], "qini_coefficient": q["coefficient"], "random_qini_coefficient": rand["coefficient"],
            "uplift_at": q["uplift_at"], "overall_lift": q["overall_lift"],
            "segments": [{"segment": s, "predicted_uplift": float(r["mean"]), "customers": int(r["size"])}
                         for s, r in per.iterrows()]}


def run(ctx, key: bytes, campaign, random_state: int = 0) -> dict[str, Any]:
    """The uplift report of a stored campaign (outcomes and features as :mod:`.readout` reads them)."""
    from segmint.measure import readout
    from segmint.measure.lookalike import matrix

    rows, info = readout.customer_frame(ctx, key, campaign, covariate="none")
    frame = rows.select("customer_id", "segment", "group", "y").order_by("customer_id").to_pyarrow().to_pandas()
    snap = readout._snapshot_at(ctx.store, ctx.features, ctx.plausible, campaign.start)
    feats = snap.drop("as_of").to_pyarrow().to_pandas().set_index("customer_id")
    feats = feats.reindex(frame["customer_id"])
    X, names = matrix(feats.reset_index(drop=True))
    out = uplift_report(frame, X, random_state)
    out.update({"campaign": campaign.name, "outcome": campaign.outcome, "features": len(names),
                "window": {"start": str(info["start"].date()), "end": str(info["end"].date())}})
    return out
