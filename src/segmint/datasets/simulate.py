"""Simulate one chunk of customers of the synthetic shop, fully vectorised.

Purchases follow a buy-till-you-die process (the story behind BG/NBD): each customer
has a purchase rate ``lambda ~ Gamma`` and a dropout probability ``p ~ Beta`` drawn from
the persona's distributions.  After the first order, repeat orders arrive as a Poisson
process and after each order the customer "dies" with probability ``p``.  Lapsed and
churned customers additionally stop at a persona-specific date, so they go quiet well
before the end whatever their dropout draw.

The only loops are over the seven personas' parameters (inside array indexing), never
over customers or orders.  Times are seconds since ``start`` as float64 until the end.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> start, end = np.datetime64("2023-01-01", "s"), np.datetime64("2025-12-31", "s")
>>> chunk = simulate_chunk(rng, first=0, n=200, n_total=200, start=start, end=end, order_offset=0)
>>> sorted(chunk)
['customers', 'events', 'ground_truth', 'orders', 'responses']
>>> chunk["orders"].num_rows > 200
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import engagement, pii
from .personas import CATEGORIES, CHANNELS, CONTACT_CHANNELS, GENDERS, PERSONA_NAMES, PERSONAS, persona_table
from .sampling import categorical, categorical_by_group, dirichlet_rows, group_sort

DAY = 86_400.0
YEAR_DAYS = 365.25
MAX_REPEAT_ORDERS = 2_000  # bounds memory whatever a gamma draw does

SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("email", pa.string()),
            ("phone", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("signup_at", pa.timestamp("s")),
            ("gender", pa.string()),
            ("age", pa.int64()),
            ("region", pa.string()),
            ("city", pa.string()),
            ("country", pa.string()),
            ("is_business", pa.bool_()),
            ("industry", pa.string()),
            ("company_size", pa.string()),
            ("marketing_consent", pa.bool_()),
            ("preferred_channel", pa.string()),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("ordered_at", pa.timestamp("s")),
            ("amount", pa.float64()),
            ("quantity", pa.int64()),
            ("category", pa.string()),
            ("channel", pa.string()),
            ("promo", pa.bool_()),
            ("returned", pa.bool_()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("occurred_at", pa.timestamp("s")),
            ("event", pa.string()),
            ("properties", pa.string()),
        ]
    ),
    "responses": pa.schema(
        [
            ("customer_id", pa.string()),
            ("answered_at", pa.timestamp("s")),
            ("question", pa.string()),
            ("answer", pa.string()),
        ]
    ),
    "ground_truth": pa.schema([("customer_id", pa.string()), ("persona", pa.string())]),
}
# Consumers shop mostly in the evening; the weights are per hour of the day.
CONSUMER_HOURS = np.array([1, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4, 5, 6, 5, 5, 5, 5, 6, 7, 8, 9, 8, 5, 3.0])


def _ts(start: np.datetime64, seconds: np.ndarray) -> pa.Array:
    return pa.array(start + seconds.astype("int64").astype("timedelta64[s]"), type=pa.timestamp("s"))


def simulate_chunk(
    rng: np.random.Generator,
    first: int,
    n: int,
    n_total: int,
    start: np.datetime64,
    end: np.datetime64,
    order_offset: int,
) -> dict[str, pa.Table]:
    """Simulate customers ``first .. first + n - 1`` and everything they do.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's own generator (derived from the seed and chunk number).
    first, n, n_total : int
        Global number of the chunk's first customer, chunk size, and size of the whole shop
        (which fixes the width of the ids).
    start, end : numpy.datetime64
        The simulated period, ``end`` exclusive: every timestamp is ``>= start`` and ``< end``.
    order_offset : int
        Global number of the chunk's first order, so order ids are unique across chunks.

    Returns
    -------
    dict of str to pyarrow.Table
        ``customers``, ``orders``, ``events``, ``responses``, ``ground_truth``, in
        :data:`SCHEMAS`; orders and events sorted by customer then time.
    """
    P = persona_table()
    span = float((end - start) / np.timedelta64(1, "s"))
    span_days = span / DAY
    persona = rng.choice(len(PERSONAS), n, p=P["share"] / P["share"].sum())
    index = first + np.arange(n)
    width = max(7, len(str(n_total)))
    cid = pii.customer_ids(index, width)

    # --- who they are -------------------------------------------------------------------
    gender = categorical(rng, P["gender_p"][persona])
    age = np.clip(np.rint(rng.normal(P["age_mean"][persona], P["age_sd"][persona])), 18, 90).astype(np.int64)
    region = categorical(rng, P["region_p"][persona])
    is_business = P["is_business"][persona].astype(bool)
    consent = rng.random(n) < P["consent_p"][persona]
    contact = categorical(rng, P["contact_p"][persona])

    # --- when they sign up and until when they can buy ------------------------------------
    lo, hi = P["signup"][persona, 0], P["signup"][persona, 1]
    signup_day = np.floor(rng.uniform(lo, hi) * (span_days - 1))
    last_days = P["signup_last_days"][persona]
    recent = last_days > 0
    signup_day[recent] = span_days - rng.integers(1, last_days[recent] + 1)
    signup = signup_day * DAY
    window = np.full(n, span)
    act = P["active_days"][persona]
    has_act = act[:, 0] >= 0
    window[has_act] = signup[has_act] + rng.uniform(act[has_act, 0], act[has_act, 1]) * DAY
    stop = P["stop_before_end"][persona]
    has_stop = stop[:, 0] >= 0
    window[has_stop] = span - rng.uniform(stop[has_stop, 0], stop[has_stop, 1]) * DAY
    # Short periods could push the stop before sign-up; keep at least one day to buy in.
    window = np.clip(window, signup + DAY, span)

    # --- buy till you die -------------------------------------------------------------------
    t0 = signup + np.minimum(rng.exponential(0.7 * DAY, n), 0.5 * (window - signup))
    shape = P["rate_shape"][persona]
    lam = rng.gamma(shape, P["rate_per_year"][persona] / shape) / (YEAR_DAYS * DAY)  # per second
    p_drop = rng.beta(P["dropout_ab"][persona, 0], P["dropout_ab"][persona, 1])
    length = window - t0
    k = rng.poisson(lam * length)  # repeat orders in the window if the customer never died
    d = rng.geometric(np.clip(p_drop, 1e-6, 1)) - 1  # repeat orders before dying
    m = np.minimum(np.minimum(k, d), MAX_REPEAT_ORDERS)
    # The first m of k sorted uniforms, without drawing all k: S_j / (S_m + Gamma(k - m + 1)).
    e = rng.exponential(1.0, int(m.sum()))
    cs = np.cumsum(e)
    ends = np.cumsum(m)
    base = np.concatenate([[0.0], cs])[ends - m]
    s = cs - np.repeat(base, m)
    s_m = np.concatenate([[0.0], cs])[ends] - base
    denom = s_m + rng.gamma(k - m + 1.0)
    rep_cust = np.repeat(np.arange(n), m)
    rep_t = t0[rep_cust] + length[rep_cust] * s / denom[rep_cust]
    cust = np.concatenate([np.arange(n), rep_cust])
    t = np.concatenate([t0, rep_t])
    per = persona[cust]

    # Gift buyers: most orders move into the mid-November to Christmas stretch of their year.
    seasonal = rng.random(len(t)) < P["seasonal_share"][per]
    if seasonal.any():
        when = start + t[seasonal].astype("int64").astype("timedelta64[s]")
        year0 = when.astype("datetime64[Y]").astype("datetime64[s]")
        frac = (when - year0) / np.timedelta64(1, "s") / (YEAR_DAYS * DAY)
        moved = (year0 - start) / np.timedelta64(1, "s") + (318 + 38 * frac) * DAY
        ok = (moved >= signup[cust[seasonal]]) & (moved < span - DAY)
        t[np.flatnonzero(seasonal)[ok]] = moved[ok]

    # Time of day: consumers in the evening, businesses in office hours.
    hours = rng.choice(24, len(t), p=CONSUMER_HOURS / CONSUMER_HOURS.sum())
    office = P["business_hours"][per].astype(bool)
    hours[office] = rng.integers(8, 17, int(office.sum()))
    day = np.floor(t / DAY)
    t = (day * DAY + hours * 3600 + rng.integers(0, 3600, len(t))).astype(np.int64)
    order = group_sort(cust, t)
    cust, t, per = cust[order], t[order], per[order]
    n_orders = len(t)
    # Every customer has a first order and the rows are sorted by customer, so group
    # boundaries give first and last order times without a group-by.
    bounds = np.flatnonzero(np.diff(cust)) + 1
    first_order = t[np.concatenate([[0], bounds])]
    last_order = t[np.concatenate([bounds - 1, [n_orders - 1]])]

    # --- what each order looks like ---------------------------------------------------------
    cat_mix = dirichlet_rows(rng, P["category_p"][persona], 60.0)
    chan_mix = dirichlet_rows(rng, P["channel_p"][persona], 60.0)
    promo_c = rng.beta(20 * P["promo_p"][persona], 20 * (1 - P["promo_p"][persona]))
    spend_c = P["amount_mean"][persona] * rng.gamma(10.0, 1 / 10.0, n)
    category = categorical_by_group(rng, cat_mix, cust)
    channel = categorical_by_group(rng, chan_mix, cust)
    promo = rng.random(n_orders) < promo_c[cust]
    sigma = 0.45
    amount = spend_c[cust] * rng.lognormal(-(sigma**2) / 2, sigma, n_orders) * np.where(promo, 0.8, 1.0)
    amount = np.maximum(np.round(amount, 2), 0.99)
    quantity = 1 + rng.poisson(P["quantity_mean"][per] - 1)
    returned = rng.random(n_orders) < P["return_p"][per]
    orders = pa.table(
        [
            pii.padded_ids("O", order_offset + np.arange(n_orders) + 1, 9),
            pii.take_fixed(cid, cust),
            _ts(start, t),
            pa.array(amount),
            pa.array(quantity.astype(np.int64)),
            pii.labels(CATEGORIES, category),
            pii.labels(CHANNELS, channel),
            pa.array(promo),
            pa.array(returned),
        ],
        schema=SCHEMAS["orders"],
    )

    events = engagement.events(
        rng, persona, consent, signup, last_order, span, cust, t, channel, returned, chan_mix
    )
    events = events.set_column(0, "customer_id", pii.take_fixed(cid, events["customer_id"].to_numpy()))
    events = events.set_column(1, "occurred_at", _ts(start, events["occurred_at"].to_numpy()))
    responses = engagement.responses(rng, persona, first_order, last_order, span)
    responses = responses.set_column(
        0, "customer_id", pii.take_fixed(cid, responses["customer_id"].to_numpy())
    )
    responses = responses.set_column(1, "answered_at", _ts(start, responses["answered_at"].to_numpy()))
    ident = pii.identities(rng, index, gender, is_business)
    customers = (
        pa.table(
            {
                "customer_id": cid,
                **ident,
                "signup_at": _ts(start, signup),
                "gender": pii.labels(GENDERS, gender),
                "age": pa.array(age),
                **pii.places(rng, region),
                "is_business": pa.array(is_business),
                **pii.firmographics(rng, is_business),
                "marketing_consent": pa.array(consent),
                "preferred_channel": pii.labels(CONTACT_CHANNELS, contact),
            }
        )
        .select(SCHEMAS["customers"].names)
        .cast(SCHEMAS["customers"])
    )
    truth = pa.table([cid, pii.labels(PERSONA_NAMES, persona)], schema=SCHEMAS["ground_truth"])
    return {
        "customers": customers,
        "orders": orders,
        "events": events,
        "responses": responses,
        "ground_truth": truth,
    }
