"""The personas planted in the synthetic shop.

Each persona is a small bundle of distributions: who the customers are (age, gender,
region, business or not), when they sign up, how often they buy and when they stop
(a buy-till-you-die process), what they spend, on which categories, through which
channels, how they react to promotions and e-mail, and how they answer surveys.

All seven personas are meant to be *behaviourally distinct*: on recency, frequency,
spend, tenure, promotion share, category/channel mix and e-mail open rate they form
seven well-separated groups, so clustering should find ``k = 7``.  The main axes that
set them apart:

========================  ==================================================================
persona                   what sets it apart
========================  ==================================================================
loyal_high_spender        early sign-up, frequent (~20/yr), high baskets, app, few promos
bargain_hunter            frequent small baskets, ~85% of orders on promotion, Food/Home/Toys
new_customer              signed up in the last ~60 days: short tenure, 1-2 Fashion app orders
lapsed                    bought Home/Garden on the web regularly, stopped 6-14 months ago
churned                   a few web promo orders early on, silent for 22+ months
occasional_gift_buyer     ~4 orders a year, mostly mid-Nov to Christmas, Toys/Beauty, store
small_business            very frequent large Office orders (quantity ~12), phone and web
========================  ==================================================================

K-means (k = 7) on standardised behavioural features (log for money and counts) recovers
them with an adjusted Rand index of about 0.97, and the silhouette peaks at k = 7 (see
``tests/datasets/test_shop_separability.py``).  Demographics differ too (age, gender,
region, business), but are not needed to tell the personas apart.

Examples
--------
>>> [p.name for p in PERSONAS][:3]
['loyal_high_spender', 'bargain_hunter', 'new_customer']
>>> round(sum(p.share for p in PERSONAS), 6)
1.0
>>> persona_table()["rate_per_year"].shape
(7,)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

CATEGORIES: tuple[str, ...] = ("Home", "Fashion", "Beauty", "Electronics", "Toys", "Garden", "Food", "Office")
CHANNELS: tuple[str, ...] = ("web", "app", "store", "phone")
REGIONS: tuple[str, ...] = (
    "London",
    "South East",
    "South West",
    "Midlands",
    "North",
    "Scotland",
    "Wales",
    "Ireland",
)
GENDERS: tuple[str, ...] = ("F", "M", "X")
CONTACT_CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "post")


@dataclass(frozen=True)
class Persona:
    """Parameters of one planted persona.

    Rates are per year, times in days, money in GBP. ``signup`` is the window of sign-up
    dates as fractions of the simulated period; a negative ``signup_last_days`` instead
    places sign-ups in the last that many days.  ``active_days`` (lo, hi), when set,
    ends the customer's buying a random number of days after sign-up; ``stop_before_end``
    ends it that many days before the end date.  Both come on top of the per-purchase
    dropout of the buy-till-you-die process, so that lapsed and churned customers stop
    well before the end whatever their dropout draw was.
    """

    name: str
    share: float
    description: str
    # demographics
    age_mean: float
    age_sd: float
    gender_p: tuple[float, float, float]
    region_p: tuple[float, ...]
    is_business: bool
    consent_p: float
    contact_p: tuple[float, float, float, float]
    # life cycle
    signup: tuple[float, float]
    signup_last_days: int
    active_days: tuple[int, int] | None
    stop_before_end: tuple[int, int] | None
    # buy-till-you-die: purchase rate ~ Gamma(rate_shape, rate/rate_shape), dropout ~ Beta(a, b)
    rate_per_year: float
    rate_shape: float
    dropout_ab: tuple[float, float]
    # what an order looks like
    amount_mean: float
    quantity_mean: float
    category_p: tuple[float, ...]
    channel_p: tuple[float, float, float, float]
    promo_p: float
    return_p: float
    business_hours: bool
    seasonal_share: float
    # engagement and surveys
    open_p: float
    click_p: float
    browse_per_month: float
    survey_p: float
    nps_mean: float
    satisfaction_mean: float
    price_sensitivity_mean: float


# One persona per block, one line per aspect; see the Persona fields for units.
# fmt: off
PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="loyal_high_spender", share=0.12,
        description="Long-standing, frequent, high-value customers who buy at full price.",
        age_mean=45, age_sd=10, gender_p=(0.55, 0.43, 0.02), is_business=False, consent_p=0.95,
        region_p=(0.3, 0.25, 0.1, 0.1, 0.08, 0.07, 0.05, 0.05), contact_p=(0.7, 0.2, 0.05, 0.05),
        signup=(0.0, 0.35), signup_last_days=0, active_days=None, stop_before_end=None,
        rate_per_year=20, rate_shape=16, dropout_ab=(1, 400),
        amount_mean=140, quantity_mean=2.0, promo_p=0.05, return_p=0.08,
        business_hours=False, seasonal_share=0.0,
        category_p=(0.15, 0.25, 0.12, 0.25, 0.05, 0.08, 0.07, 0.03),
        channel_p=(0.3, 0.55, 0.12, 0.03),
        open_p=0.6, click_p=0.25, browse_per_month=1.0,
        survey_p=0.4, nps_mean=9.0, satisfaction_mean=4.6, price_sensitivity_mean=1.8,
    ),
    Persona(
        name="bargain_hunter", share=0.2,
        description="Frequent small baskets, almost always on promotion; price sensitive.",
        age_mean=32, age_sd=8, gender_p=(0.52, 0.45, 0.03), is_business=False, consent_p=0.95,
        region_p=(0.08, 0.1, 0.08, 0.2, 0.22, 0.1, 0.14, 0.08), contact_p=(0.8, 0.15, 0.03, 0.02),
        signup=(0.2, 0.7), signup_last_days=0, active_days=None, stop_before_end=None,
        rate_per_year=14, rate_shape=12, dropout_ab=(1, 150),
        amount_mean=22, quantity_mean=3.0, promo_p=0.85, return_p=0.04,
        business_hours=False, seasonal_share=0.0,
        category_p=(0.22, 0.1, 0.08, 0.05, 0.15, 0.05, 0.33, 0.02),
        channel_p=(0.7, 0.2, 0.08, 0.02),
        open_p=0.5, click_p=0.4, browse_per_month=1.5,
        survey_p=0.3, nps_mean=7.0, satisfaction_mean=3.8, price_sensitivity_mean=4.7,
    ),
    Persona(
        name="new_customer", share=0.1,
        description="Signed up in the last two months; one or two orders so far.",
        age_mean=28, age_sd=8, gender_p=(0.5, 0.46, 0.04), is_business=False, consent_p=0.9,
        region_p=(0.15, 0.13, 0.12, 0.13, 0.15, 0.12, 0.1, 0.1), contact_p=(0.6, 0.3, 0.05, 0.05),
        signup=(0.0, 0.0), signup_last_days=60, active_days=None, stop_before_end=None,
        rate_per_year=15, rate_shape=8, dropout_ab=(1, 20),
        amount_mean=55, quantity_mean=1.5, promo_p=0.35, return_p=0.1,
        business_hours=False, seasonal_share=0.0,
        category_p=(0.03, 0.8, 0.08, 0.03, 0.02, 0.01, 0.02, 0.01),
        channel_p=(0.07, 0.9, 0.02, 0.01),
        open_p=0.4, click_p=0.15, browse_per_month=2.0,
        survey_p=0.2, nps_mean=8.0, satisfaction_mean=4.0, price_sensitivity_mean=3.0,
    ),
    Persona(
        name="lapsed", share=0.13,
        description="Used to buy regularly; stopped between six and fourteen months ago.",
        age_mean=40, age_sd=12, gender_p=(0.5, 0.47, 0.03), is_business=False, consent_p=0.6,
        region_p=(0.12, 0.12, 0.12, 0.16, 0.18, 0.1, 0.1, 0.1), contact_p=(0.6, 0.2, 0.1, 0.1),
        signup=(0.0, 0.45), signup_last_days=0, active_days=None, stop_before_end=(180, 400),
        rate_per_year=10, rate_shape=12, dropout_ab=(1, 60),
        amount_mean=80, quantity_mean=1.8, promo_p=0.15, return_p=0.12,
        business_hours=False, seasonal_share=0.0,
        category_p=(0.35, 0.08, 0.05, 0.06, 0.05, 0.3, 0.08, 0.03),
        channel_p=(0.65, 0.1, 0.2, 0.05),
        open_p=0.12, click_p=0.08, browse_per_month=0.3,
        survey_p=0.15, nps_mean=5.0, satisfaction_mean=3.0, price_sensitivity_mean=3.2,
    ),
    Persona(
        name="churned", share=0.12,
        description="A few orders in the months after sign-up, then nothing for 22 months or more.",
        age_mean=38, age_sd=14, gender_p=(0.48, 0.49, 0.03), is_business=False, consent_p=0.4,
        region_p=(0.12, 0.12, 0.12, 0.16, 0.18, 0.1, 0.1, 0.1), contact_p=(0.5, 0.2, 0.1, 0.2),
        signup=(0.0, 0.2), signup_last_days=0, active_days=(60, 200), stop_before_end=None,
        rate_per_year=18, rate_shape=12, dropout_ab=(1, 40),
        amount_mean=40, quantity_mean=1.5, promo_p=0.6, return_p=0.2,
        business_hours=False, seasonal_share=0.0,
        category_p=(0.06, 0.25, 0.06, 0.45, 0.06, 0.04, 0.06, 0.02),
        channel_p=(0.85, 0.05, 0.05, 0.05),
        open_p=0.03, click_p=0.05, browse_per_month=0.1,
        survey_p=0.1, nps_mean=3.0, satisfaction_mean=2.0, price_sensitivity_mean=3.5,
    ),
    Persona(
        name="occasional_gift_buyer", share=0.18,
        description="Buys a few gifts a year, mostly from mid-November to Christmas.",
        age_mean=55, age_sd=12, gender_p=(0.62, 0.36, 0.02), is_business=False, consent_p=0.8,
        region_p=(0.1, 0.14, 0.2, 0.12, 0.12, 0.16, 0.08, 0.08), contact_p=(0.35, 0.15, 0.2, 0.3),
        signup=(0.1, 0.6), signup_last_days=0, active_days=None, stop_before_end=None,
        rate_per_year=4, rate_shape=12, dropout_ab=(1, 200),
        amount_mean=70, quantity_mean=1.3, promo_p=0.25, return_p=0.05,
        business_hours=False, seasonal_share=0.9,
        category_p=(0.08, 0.18, 0.25, 0.07, 0.32, 0.04, 0.05, 0.01),
        channel_p=(0.2, 0.05, 0.65, 0.1),
        open_p=0.3, click_p=0.1, browse_per_month=0.3,
        survey_p=0.2, nps_mean=7.0, satisfaction_mean=4.0, price_sensitivity_mean=2.5,
    ),
    Persona(
        name="small_business", share=0.15,
        description="Small firms restocking office supplies in bulk, by phone and web.",
        age_mean=47, age_sd=9, gender_p=(0.4, 0.58, 0.02), is_business=True, consent_p=0.9,
        region_p=(0.25, 0.15, 0.08, 0.2, 0.12, 0.08, 0.06, 0.06), contact_p=(0.5, 0.1, 0.35, 0.05),
        signup=(0.1, 0.6), signup_last_days=0, active_days=None, stop_before_end=None,
        rate_per_year=24, rate_shape=16, dropout_ab=(1, 400),
        amount_mean=320, quantity_mean=12.0, promo_p=0.08, return_p=0.02,
        business_hours=True, seasonal_share=0.0,
        category_p=(0.05, 0.02, 0.02, 0.15, 0.01, 0.05, 0.1, 0.6),
        channel_p=(0.45, 0.02, 0.03, 0.5),
        open_p=0.3, click_p=0.1, browse_per_month=0.5,
        survey_p=0.25, nps_mean=7.5, satisfaction_mean=3.8, price_sensitivity_mean=3.0,
    ),
)
# fmt: on

PERSONA_NAMES: tuple[str, ...] = tuple(p.name for p in PERSONAS)

#: The personas meant to be told apart on behaviour alone (all of them, see the module notes).
BEHAVIOURAL_PERSONAS: tuple[str, ...] = PERSONA_NAMES


def persona_table() -> dict[str, np.ndarray]:
    """Stack the persona parameters into arrays indexed by persona number.

    The generator indexes these arrays with each customer's persona number, which keeps
    it free of Python loops over customers.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per :class:`Persona` field; tuples become 2-D arrays.

    Examples
    --------
    >>> persona_table()["category_p"].shape
    (7, 8)
    """
    out: dict[str, np.ndarray] = {}
    for f in fields(Persona):
        values = [getattr(p, f.name) for p in PERSONAS]
        if f.name in ("active_days", "stop_before_end"):
            # (-1, -1) marks "no limit"; the generator checks for it.
            values = [v if v is not None else (-1, -1) for v in values]
        out[f.name] = np.asarray(values)
    return out


def check_personas() -> None:
    """Check that every probability vector is well formed (a guard for edits to the table).

    Examples
    --------
    >>> check_personas()
    """
    for p in PERSONAS:
        for name in ("gender_p", "region_p", "contact_p", "category_p", "channel_p"):
            v = np.asarray(getattr(p, name))
            expected = {"gender_p": 3, "region_p": 8, "contact_p": 4, "category_p": 8, "channel_p": 4}[name]
            if len(v) != expected or not np.isclose(v.sum(), 1.0):
                raise AssertionError(f"persona {p.name!r}: {name} must have {expected} values summing to 1")
