"""E-mail, web, app and support events, and survey answers, for one simulated chunk.

Volumes are bounded on purpose: one newsletter a fortnight to consenting customers, a
visit before each web/app order, a persona-specific rate of browsing visits while the
customer is active, and a support contact after most returns.  That keeps events at
roughly two to three times the orders, so a million customers stay feasible.

The functions return customer *numbers* (positions in the chunk) and times in seconds
since the start; :mod:`segmint.datasets.simulate` turns them into ids and timestamps.

Examples
--------
>>> import numpy as np
>>> vocab = _Props(n_campaigns=2)
>>> [vocab.words[i] for i in vocab.pages(np.array([3])).tolist() + [vocab.campaign(1)]]
['{"pages": 3}', '{"campaign": 1}']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import psycho
from .personas import persona_table
from .pii import labels
from .sampling import group_sort

DAY = 86_400.0
EVENTS = ("email_sent", "email_open", "email_click", "web_visit", "app_open", "support_contact")
QUESTIONS = ("nps", "satisfaction", "price_sensitivity")
CAMPAIGN_FIRST = 3 * DAY + 10 * 3600  # first newsletter: day 3 of the period, 10:00
CAMPAIGN_EVERY = 21 * DAY  # then one every three weeks
SUPPORT_REASONS = ("return", "delivery", "billing", "account")
MAX_PAGES = 30


class _Props:
    """Vocabulary of the JSON ``properties`` strings; rows store an index into it.

    There are only a few hundred distinct property strings, so building them once and
    decoding a dictionary array is far cheaper than formatting millions of strings.
    """

    def __init__(self, n_campaigns: int) -> None:
        self.words = ["{}"] + [f'{{"reason": "{r}"}}' for r in SUPPORT_REASONS]
        self.pages0 = len(self.words) - 1  # index of {"pages": k} is pages0 + k
        self.words += [f'{{"pages": {k}}}' for k in range(1, MAX_PAGES + 1)]
        self.campaign0 = len(self.words)
        self.words += [f'{{"campaign": {j}}}' for j in range(n_campaigns)]

    def pages(self, k: np.ndarray) -> np.ndarray:
        return self.pages0 + np.clip(k, 1, MAX_PAGES)

    def campaign(self, j: np.ndarray) -> np.ndarray:
        return self.campaign0 + j


def _part(cust: np.ndarray, when: np.ndarray, code: int, props: np.ndarray | int) -> tuple:
    props = np.broadcast_to(np.asarray(props, dtype=np.int32), (len(cust),))
    return cust, when, np.full(len(cust), code, dtype=np.int8), props


def events(
    rng: np.random.Generator,
    persona: np.ndarray,
    consent: np.ndarray,
    signup: np.ndarray,
    last_order: np.ndarray,
    span: float,
    order_cust: np.ndarray,
    order_t: np.ndarray,
    order_channel: np.ndarray,
    returned: np.ndarray,
    chan_mix: np.ndarray,
) -> pa.Table:
    """Simulate the events of a chunk's customers.

    Returns
    -------
    pyarrow.Table
        ``customer_id`` (customer number in the chunk), ``occurred_at`` (int seconds),
        ``event``, ``properties``; sorted by customer, time and event kind.
    """
    P = persona_table()
    n = len(persona)
    parts = []

    # Newsletters: every consenting customer gets every campaign sent after sign-up.
    n_campaigns = int(np.ceil((span - CAMPAIGN_FIRST) / CAMPAIGN_EVERY))
    vocab = _Props(n_campaigns)
    first = np.clip(np.ceil((signup - CAMPAIGN_FIRST) / CAMPAIGN_EVERY), 0, None).astype(np.int64)
    n_sent = np.where(consent, np.maximum(n_campaigns - first, 0), 0)
    s_cust = np.repeat(np.arange(n), n_sent)
    camp = np.repeat(first, n_sent) + (np.arange(len(s_cust)) - np.repeat(np.cumsum(n_sent) - n_sent, n_sent))
    s_t = CAMPAIGN_FIRST + camp * CAMPAIGN_EVERY
    parts.append(_part(s_cust, s_t, 0, vocab.campaign(camp)))
    open_mean = P["open_p"][persona]
    open_c = rng.beta(20 * open_mean, 20 * (1 - open_mean))
    o = np.flatnonzero(rng.random(len(s_cust)) < open_c[s_cust])
    o_t = s_t[o] + rng.exponential(8 * 3600, len(o))
    o = o[o_t < span]
    o_t = o_t[o_t < span]
    parts.append(_part(s_cust[o], o_t, 1, vocab.campaign(camp[o])))
    c = rng.random(len(o)) < P["click_p"][persona[s_cust[o]]]
    c_t = o_t[c] + rng.exponential(300, int(c.sum()))
    keep = c_t < span
    c_idx = o[c][keep]
    parts.append(_part(s_cust[c_idx], c_t[keep], 2, vocab.campaign(camp[c_idx])))

    # A visit just before each web or app order.
    for code, chan, gap in ((3, 0, 3600.0), (4, 1, 1800.0)):
        sel = np.flatnonzero(order_channel == chan)
        when = np.maximum(order_t[sel] - rng.uniform(60, gap, len(sel)), signup[order_cust[sel]])
        props = vocab.pages(1 + rng.poisson(4, len(sel))) if code == 3 else 0
        parts.append(_part(order_cust[sel], when, code, props))

    # Browsing without buying, while the customer is active (up to a month after the last order).
    active_end = np.minimum(last_order + 30 * DAY, span - 1)
    months = np.maximum(active_end - signup, 0) / (30.4 * DAY)
    nb = rng.poisson(P["browse_per_month"][persona] * months)
    b_cust = np.repeat(np.arange(n), nb)
    b_t = signup[b_cust] + rng.random(len(b_cust)) * (active_end - signup)[b_cust]
    app_share = chan_mix[:, 1] / np.maximum(chan_mix[:, 0] + chan_mix[:, 1], 1e-9)
    is_app = rng.random(len(b_cust)) < app_share[b_cust]
    pages = vocab.pages(1 + rng.poisson(2, int((~is_app).sum())))
    parts.append(_part(b_cust[~is_app], b_t[~is_app], 3, pages))
    parts.append(_part(b_cust[is_app], b_t[is_app], 4, 0))

    # Support: most returns lead to a contact; a few other contacts at random.
    r = np.flatnonzero(returned & (rng.random(len(returned)) < 0.8))
    r_t = order_t[r] + rng.uniform(1, 10, len(r)) * DAY
    r = r[r_t < span]
    r_t = r_t[r_t < span]
    parts.append(_part(order_cust[r], r_t, 5, 1))
    ns = rng.poisson(0.3, n)
    x_cust = np.repeat(np.arange(n), ns)
    x_t = signup[x_cust] + rng.random(len(x_cust)) * (active_end - signup)[x_cust]
    parts.append(_part(x_cust, x_t, 5, rng.integers(2, len(SUPPORT_REASONS) + 1, len(x_cust))))

    cust = np.concatenate([p[0] for p in parts])
    when = np.concatenate([p[1] for p in parts]).astype(np.int64)
    code = np.concatenate([p[2] for p in parts])
    props = np.concatenate([p[3] for p in parts])
    # Parts were appended in event-kind order, so ties in time keep sent < open < click.
    order = group_sort(cust, when)
    return pa.table(
        {
            "customer_id": pa.array(cust[order]),
            "occurred_at": pa.array(when[order]),
            "event": labels(EVENTS, code[order]),
            "properties": labels(vocab.words, props[order]),
        }
    )


def responses(
    rng: np.random.Generator,
    persona: np.ndarray,
    first_order: np.ndarray,
    last_order: np.ndarray,
    span: float,
) -> pa.Table:
    """Survey answers: some customers answer all three questions once, while still active, and the attitude
    items and free-text feedback of :mod:`segmint.datasets.psycho`.

    Returns
    -------
    pyarrow.Table
        ``customer_id`` (number in the chunk), ``answered_at`` (int seconds), ``question``,
        ``answer`` (integer as text: nps 0-10, the others 1-5).
    """
    P = persona_table()
    who = np.flatnonzero(rng.random(len(persona)) < P["survey_p"][persona])
    per = persona[who]
    lo = first_order[who]
    hi = np.minimum(last_order[who] + 60 * DAY, span - 1)
    at = (lo + rng.random(len(who)) * np.maximum(hi - lo, 0)).astype(np.int64)
    nps = np.clip(np.rint(rng.normal(P["nps_mean"][per], 1.5)), 0, 10)
    sat = np.clip(np.rint(rng.normal(P["satisfaction_mean"][per], 0.7)), 1, 5)
    price = np.clip(np.rint(rng.normal(P["price_sensitivity_mean"][per], 0.7)), 1, 5)
    answers = np.stack([nps, sat, price], axis=1).ravel().astype(np.int64)
    base = pa.table(
        {
            "customer_id": pa.array(np.repeat(who, 3)),
            "answered_at": pa.array(np.repeat(at, 3)),
            "question": labels(QUESTIONS, np.tile(np.arange(3), len(who))),
            "answer": labels([str(a) for a in range(11)], answers),
        }
    )
    # Attitude scales and free-text feedback (issue 23), from their own stream: the rows above are unchanged.
    cust, questions, texts = psycho.answers(rng.bit_generator.seed_seq.spawn(1)[0], persona, who)
    extra = pa.table({"customer_id": pa.array(cust),
                      "answered_at": pa.array(np.concatenate([np.repeat(at, len(psycho.ITEMS)), at])),
                      "question": questions, "answer": texts})
    return pa.concat_tables([base, extra])
