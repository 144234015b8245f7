"""Attitudes of the planted personas: Likert items of three survey scales and a free-text answer.

The seven personas hold one of four *attitudes* (:data:`ATTITUDE_OF`): price-driven, quality-driven,
service-driven or unhappy. Each attitude sets the mean of three latent scales (price sensitivity,
quality focus, service focus); every respondent draws a latent score per scale around it, and
answers three items per scale on 1..5 with item noise. The third item of each scale is worded the
other way (``price_3``: "I would pay more for a better product"), so it is reverse-coded
(``price_3r`` in ``psychographics.scales``).

The free-text question ``feedback`` gets one answer per respondent, on their attitude's theme four
times in five, another theme otherwise. Each theme has a dozen sentences in varied wording; about
one answer in six carries a typo, and a few carry personal data (a name, an e-mail address or a phone
number) that ingest must mask.

Answers use their own random stream (spawned from the chunk's seed sequence), so the rest of the
shop is the same with or without them.

Examples
--------
>>> sorted(set(ATTITUDE_OF.values()))
['price', 'quality', 'service', 'unhappy']
>>> SCALES["price"]
['price_1', 'price_2', 'price_3r']
>>> len(SENTENCES["price"]) >= 10
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .personas import PERSONA_NAMES
from .pii import labels

__all__ = ["ATTITUDES", "ATTITUDE_OF", "SCALES", "ITEMS", "TEXT_QUESTION", "SENTENCES", "answers"]

ATTITUDES = ("price", "quality", "service", "unhappy")
ATTITUDE_OF = {
    "loyal_high_spender": "quality", "occasional_gift_buyer": "quality",
    "bargain_hunter": "price",
    "small_business": "service", "new_customer": "service",
    "lapsed": "unhappy", "churned": "unhappy",
}
#: The scales as segmint.yaml writes them (a trailing r: reverse-coded).
SCALES = {"price": ["price_1", "price_2", "price_3r"], "quality": ["quality_1", "quality_2", "quality_3r"],
          "service": ["service_1", "service_2", "service_3r"]}
ITEMS = [q.rstrip("r") if q.endswith("3r") else q for items in SCALES.values() for q in items]
TEXT_QUESTION = "feedback"
#: Latent means (price, quality, service) per attitude, on 1..5.
_MEANS = {"price": (4.4, 2.6, 3.0), "quality": (2.2, 4.4, 3.0), "service": (3.0, 3.0, 4.4),
          "unhappy": (3.0, 2.4, 1.8)}

SENTENCES = {
    "price": [
        "Prices are too high, I only buy when there is a sale.",
        "I wait for discount codes before ordering anything.",
        "Cheaper than other shops is the only reason I come back.",
        "Please send more vouchers and promo offers.",
        "I compare prices every time and go for the best deal.",
        "The sale prices are good but full price is too expensive.",
        "Free shipping and coupons would make me buy more often.",
        "Good value for money when the promotions are on.",
        "I always look for the bargain section first.",
        "Too expensive without a discount, honestly.",
        "Loved the half price weekend, do more deals like that.",
        "Price matters most to me, I switch shops for a cheaper offer.",
    ],
    "quality": [
        "The quality of the products is excellent, worth every penny.",
        "Beautiful materials and great craftsmanship.",
        "I am happy to pay more for items that last.",
        "Premium products, lovely packaging, feels like a gift.",
        "Everything I bought was well made and durable.",
        "The brand range is high end and the finish is superb.",
        "Quality has been consistent over the years, I trust it.",
        "Great selection of premium brands and lovely design.",
        "The fabric and stitching are top quality.",
        "Products feel luxurious and are built to last.",
        "Well crafted items, the best quality I have found online.",
        "I buy here because the products are genuinely high quality.",
    ],
    "service": [
        "Fast delivery and easy ordering, very convenient.",
        "Next day delivery is why I order here.",
        "The account manager answers quickly and orders arrive on time.",
        "Easy reordering and reliable delivery slots save me time.",
        "Bulk ordering is simple and the invoices are clear.",
        "The app makes checkout quick and tracking is accurate.",
        "Deliveries always arrive on schedule, great logistics.",
        "Convenient click and collect and quick dispatch.",
        "Ordering takes a minute and the parcel comes the next morning.",
        "Reliable service, the driver is always punctual.",
        "Quick checkout and fast shipping every single time.",
        "Smooth ordering process and prompt delivery.",
    ],
    "unhappy": [
        "My parcel was late and customer support never replied.",
        "Terrible service, the refund took weeks.",
        "The item arrived broken and the return was a nightmare.",
        "I stopped ordering after two damaged deliveries.",
        "Support kept me on hold for an hour, very disappointing.",
        "Wrong item sent and nobody answered my complaint.",
        "Still waiting for my refund, really frustrating.",
        "The website crashed at checkout and I gave up.",
        "Poor communication, my order was cancelled without notice.",
        "Returned my order because it was faulty, never again.",
        "Complaint ignored, the courier lost my package.",
        "Awful experience with the helpdesk, rude and slow.",
    ],
}
#: Personal data some answers carry (masked at ingest: names, e-mails, phones).
_PII = [
    " You can reach me at jane.doe{n}@example.com.",
    " Call me on 07700 900{n:03d} if needed.",
    " My name is Sarah Johnson, order ref {n}.",
    " Thanks, Michael Brown",
    " Email me: tom.baker{n}@mail.co.uk",
    " Phone +44 20 7946 0{n:03d} any time.",
]
_VARIANTS = 4  # per sentence: as written, and three with a typo (a few percent of answers each)


def _typo(rng: np.random.Generator, text: str) -> str:
    """One typo: two neighbouring letters swapped, a letter dropped or doubled."""
    positions = [i for i in range(1, len(text) - 2) if text[i].isalpha() and text[i + 1].isalpha()]
    i = int(rng.choice(positions))
    kind = int(rng.integers(3))
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == 1:
        return text[:i] + text[i + 1:]
    return text[:i] + text[i] + text[i:]


def _vocabulary() -> tuple[list[str], dict[str, int]]:
    """Every answer text once (sentence x variant, then those with personal data); index of each theme's first."""
    rng = np.random.default_rng(2023)
    words: list[str] = []
    first: dict[str, int] = {}
    for theme in ATTITUDES:
        first[theme] = len(words)
        for s in SENTENCES[theme]:
            words += [s] + [_typo(rng, s) for _ in range(_VARIANTS - 1)]
    first["_pii"] = len(words)
    for theme in ATTITUDES:
        for s in SENTENCES[theme]:
            words += [s + p.format(n=j * 7 % 1000) for j, p in enumerate(_PII)]
    return words, first


_WORDS, _FIRST = _vocabulary()


def answers(seed_seq: np.random.SeedSequence, persona: np.ndarray, who: np.ndarray,
            pii_share: float = 0.03) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Likert items and one free-text answer for each respondent ``who`` (customer numbers).

    Returns
    -------
    (customer numbers, question labels, answer labels): one row per item and respondent, then one
    ``feedback`` row per respondent.
    """
    rng = np.random.default_rng(seed_seq)
    n = len(who)
    att_index = {a: i for i, a in enumerate(ATTITUDES)}
    att = np.array([att_index[ATTITUDE_OF[p]] for p in PERSONA_NAMES])[persona[who]]
    means = np.array([_MEANS[a] for a in ATTITUDES])[att]  # (n, 3)
    latent = means + rng.normal(0, 0.5, (n, 3))  # people differ within an attitude
    cols = []
    for s in range(3):
        for item in range(3):
            x = np.clip(np.rint(latent[:, s] + rng.normal(0, 0.55, n)), 1, 5)
            cols.append(6 - x if item == 2 else x)  # the third item is worded the other way
    likert = np.stack(cols, axis=1).astype(np.int64).ravel()
    # Free text: the own theme 4 times in 5; a sentence; a typo variant 1 time in 6; personal data sometimes.
    theme = np.where(rng.random(n) < 0.8, att, rng.integers(0, len(ATTITUDES), n))
    sentence = rng.integers(0, len(SENTENCES["price"]), n)
    per_theme = len(SENTENCES["price"])
    variant = np.where(rng.random(n) < 1 / 6, rng.integers(1, _VARIANTS, n), 0)
    idx = np.array([_FIRST[a] for a in ATTITUDES])[theme] + sentence * _VARIANTS + variant
    with_pii = rng.random(n) < pii_share
    pii_idx = _FIRST["_pii"] + (theme * per_theme + sentence) * len(_PII) + rng.integers(0, len(_PII), n)
    idx = np.where(with_pii, pii_idx, idx)
    cust = np.concatenate([np.repeat(who, len(ITEMS)), who])
    questions = labels(ITEMS + [TEXT_QUESTION],
                       np.concatenate([np.tile(np.arange(len(ITEMS)), n), np.full(n, len(ITEMS))]))
    texts = labels([str(v) for v in range(6)] + _WORDS, np.concatenate([likert, 6 + idx]))
    return cust, questions, texts
