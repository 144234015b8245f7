"""A plain pandas implementation of the features: the reference for tests, the baseline for benchmarks.

Written for clarity, with ordinary vectorised groupbys (no loop over customers), from
the definitions in docs/features.md. It covers every family but the fitted predictions.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

DAY = 86_400.0
AGE_BANDS = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))
PII = ("email", "phone", "first_name", "last_name")


def slug(v) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(v).lower()).strip("_")[:40] or "blank"


def reference_features(customers: pd.DataFrame, orders: pd.DataFrame, events: pd.DataFrame | None,
                       responses: pd.DataFrame | None, as_of, windows=(30, 90, 365), bins: int = 5
                       ) -> pd.DataFrame:
    """Features per customer (index customer_id, sorted) as of ``as_of``."""
    as_of = pd.Timestamp(as_of)
    o = orders[orders.ordered_at < as_of].copy()
    o["amount"] = o.amount.astype(float)
    o["is_return"] = o.returned.fillna(False).astype(bool) if "returned" in o else False
    signed = customers[customers.signup_at.isna() | (customers.signup_at < as_of)].customer_id
    ids = pd.Index(sorted(set(signed) | set(o.customer_id)), name="customer_id")
    out = pd.DataFrame(index=ids)

    buys = o[~o.is_return]
    g = buys.groupby("customer_id")
    out["frequency"] = g.size().reindex(ids, fill_value=0).astype("int64")
    out["monetary_total"] = g.amount.sum().reindex(ids, fill_value=0.0)
    out["first_order_at"] = g.ordered_at.min().reindex(ids)
    out["last_order_at"] = g.ordered_at.max().reindex(ids)
    returns = o[o.is_return]
    out["returned_amount"] = returns.amount.abs().groupby(returns.customer_id).sum().reindex(ids, fill_value=0.0)
    for w in windows:
        recent = buys[buys.ordered_at >= as_of - pd.Timedelta(days=w)].groupby("customer_id")
        out[f"orders_last_{w}"] = recent.size().reindex(ids, fill_value=0).astype("int64")
        out[f"spend_last_{w}"] = recent.amount.sum().reindex(ids, fill_value=0.0)
    s1 = buys[buys.ordered_at >= as_of - pd.Timedelta(days=90)].groupby("customer_id").amount.sum()
    s0 = buys[(buys.ordered_at >= as_of - pd.Timedelta(days=180)) & (buys.ordered_at < as_of - pd.Timedelta(days=90))
              ].groupby("customer_id").amount.sum()
    s1, s0 = s1.reindex(ids, fill_value=0.0), s0.reindex(ids, fill_value=0.0)
    out["spend_trend_90d"] = ((s1 - s0) / (s1 + s0)).where((s1 + s0) != 0)
    out["recency_days"] = (as_of - out.last_order_at).dt.total_seconds() / DAY
    out["repeat_frequency"] = (out.frequency - 1).clip(lower=0)
    out["monetary_mean"] = (out.monetary_total / out.frequency).where(out.frequency > 0)
    signup = customers.set_index("customer_id").signup_at.reindex(ids)
    start = pd.concat([signup, out.first_order_at], axis=1).min(axis=1)
    out["tenure_days"] = (as_of - start).dt.total_seconds() / DAY

    buyer = out.frequency > 0

    def score(v: pd.Series, ascending: bool) -> pd.Series:
        v = v[buyer] if ascending else -v[buyer]
        rank = v.rank(method="min")
        n = len(v)
        pr = (rank - 1) / (n - 1) if n > 1 else rank * 0.0
        return np.minimum(np.floor(pr * bins) + 1, bins).reindex(ids)

    out["r_score"] = score(out.recency_days, ascending=False)
    out["f_score"] = score(out.frequency, ascending=True)
    out["m_score"] = score(out.monetary_total, ascending=True)
    out["rfm_score"] = (out.r_score.astype("Int64").astype(str) + out.f_score.astype("Int64").astype(str)
                        + out.m_score.astype("Int64").astype(str)).where(buyer)

    # cadence
    b = buys.sort_values(["customer_id", "ordered_at"])
    gaps = b.groupby("customer_id").ordered_at.diff().dt.total_seconds() / DAY
    gg = gaps.groupby(b.customer_id)
    out["mean_days_between_orders"] = gg.mean().reindex(ids)
    out["std_days_between_orders"] = gg.std(ddof=1).reindex(ids)

    # mix
    n_purchases = out.frequency.where(out.frequency > 0)
    out["return_share"] = o.groupby("customer_id").is_return.mean().reindex(ids)
    for col in ("category", "channel"):
        if col in buys and buys[col].notna().any():
            counts = buys.groupby(["customer_id", col]).size().unstack(fill_value=0)
            for level in counts.columns:
                out[f"{col}_share_{slug(level)}"] = counts[level].reindex(ids, fill_value=0) / n_purchases
    if "category" in buys and buys.category.notna().any():
        out["distinct_categories"] = buys.groupby("customer_id").category.nunique().reindex(ids).replace(0, np.nan)
        per = buys[buys.category.notna()].groupby(["customer_id", "category"]).agg(n=("amount", "size"),
                                                                                  spend=("amount", "sum"))
        per = per.reset_index().sort_values(["customer_id", "n", "spend", "category"],
                                            ascending=[True, False, False, True])
        out["top_category"] = per.drop_duplicates("customer_id").set_index("customer_id").category.reindex(ids)
    if "promo" in buys and buys.promo.notna().any():
        out["promo_share"] = buys.assign(p=buys.promo.astype(float)).groupby("customer_id").p.mean().reindex(ids)
    if "quantity" in buys and buys.quantity.notna().any():
        out["mean_quantity"] = buys.groupby("customer_id").quantity.mean().reindex(ids)

    # engagement
    if events is not None:
        e = events[events.occurred_at < as_of]
        if len(e):
            def count(name, since=None):
                sel = e[(e.event == name) & ((e.occurred_at >= since) if since is not None else True)]
                return sel.groupby("customer_id").size().reindex(ids, fill_value=0).astype("int64")

            month = as_of - pd.Timedelta(days=30)
            out["emails_sent"] = count("email_sent")
            sent = out.emails_sent.where(out.emails_sent > 0)
            out["email_open_rate"] = count("email_open") / sent
            out["email_click_rate"] = count("email_click") / sent
            out["web_visits_last_30"] = count("web_visit", month)
            out["app_opens_last_30"] = count("app_open", month)
            out["support_contacts"] = count("support_contact")
            last = e.groupby("customer_id").occurred_at.max().reindex(ids)
            out["days_since_last_event"] = (as_of - last).dt.total_seconds() / DAY

    # survey: latest answer per question, numeric when every answer is a number
    if responses is not None:
        r = responses[responses.answered_at < as_of]
        if len(r):
            r = r.assign(number=pd.to_numeric(r.answer.str.strip(), errors="coerce"))
            r = r.sort_values(["customer_id", "question", "answered_at", "answer"])
            latest = r.drop_duplicates(["customer_id", "question"], keep="last")
            for q, rows in latest.groupby("question"):
                numeric = r[r.question == q].number.notna().all()
                values = rows.set_index("customer_id")["number" if numeric else "answer"]
                out[f"survey_{slug(q)}"] = values.reindex(ids)

    # attributes
    attrs = customers.drop(columns=[c for c in (*PII, "_source", "_ingested_at") if c in customers])
    attrs = attrs.set_index("customer_id").reindex(ids)
    for c in attrs.columns:
        out[c] = attrs[c]
    if "age" in attrs:
        band = pd.Series("65+", index=ids, dtype=object)
        for upper, label in reversed(AGE_BANDS):
            band[attrs.age < upper] = label
        out["age_band"] = band.where(attrs.age.notna())

    # Lifetimes' summary in days (as rfm_summary with freq="D")
    d = buys.assign(day=(buys.ordered_at - pd.Timestamp(0)).dt.total_seconds() // DAY)
    per_day = d.groupby(["customer_id", "day"]).amount.sum().reset_index()
    pg = per_day.groupby("customer_id")
    n_days, first, last_day = pg.size(), pg.day.min(), pg.day.max()
    first_spend = per_day[per_day.day == per_day.customer_id.map(first)].groupby("customer_id").amount.sum()
    total = pg.amount.sum()
    as_of_day = (as_of - pd.Timestamp(0)).total_seconds() // DAY
    repeat = (n_days - 1).astype(float)
    out["clv_frequency"] = repeat.reindex(ids)
    out["clv_recency"] = (last_day - first).astype(float).reindex(ids)
    out["clv_T"] = (as_of_day - first).astype(float).reindex(ids)
    out["clv_monetary_value"] = ((total - first_spend) / repeat).where(repeat > 0, 0.0).reindex(ids)
    return out
