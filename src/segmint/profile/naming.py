"""Names a marketer can use, from transparent word rules over a segment's profile.

A name has up to three slots: a **value** word ("High-value"), a **state** word
("lapsed", "new") and a **noun** ("regulars", "bargain hunters", "online shoppers").
Each slot takes the word of the first rule in :data:`WORD_RULES` whose conditions hold;
a condition compares a feature's index (segment mean / population mean x 100) with a
limit. The rules that fired are returned as the reasons, so every name can be traced.

Labels that are already names are kept: RFM segment names ("Champions", "At risk"...)
and any label that is not a bare number or ``cluster 3``-style code.

Examples
--------
>>> import pandas as pd
>>> from segmint.profile.profiles import profile
>>> f = pd.DataFrame({"frequency": [10.0] * 20 + [2.0] * 80, "monetary_total": [900.0] * 20 + [50.0] * 80,
...                   "promo_share": [0.1] * 20 + [0.6] * 80, "recency_days": [10.0] * 20 + [50.0] * 80})
>>> names = name_segments(profile(f, pd.Series([0] * 20 + [1] * 80)))
>>> names[["segment", "name", "source"]].to_dict("records")
[{'segment': '0', 'name': 'High-value regulars', 'source': 'rules'}, {'segment': '1', 'name': 'Occasional buyers', 'source': 'rules'}]
>>> name_segments(profile(f, pd.Series(["Champions"] * 20 + ["At risk"] * 80))).name.tolist()
['At risk', 'Champions']
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from segmint.profile.profiles import Profile

#: Names the RFM segmentation gives; labels among them are kept as they are.
RFM_NAMES = {
    "champions", "loyal", "loyal customers", "potential loyalists", "potential loyalist", "new customers",
    "recent customers", "promising", "need attention", "needs attention", "about to sleep", "at risk",
    "cannot lose them", "can't lose them", "cant lose them", "hibernating", "lost", "others",
}
#: Labels made by an algorithm rather than a person: 3, "cluster 3", "segment_2", "c4".
GENERIC_LABEL = re.compile(r"^\s*(cluster|segment|seg|group|c|k|s)?[\s_#-]*\d+\s*$", re.IGNORECASE)
#: Features whose index measures value, first present wins. Realised spend comes first: a
#: marketer's "high-value" means customers who have spent, and a predicted CLV extrapolated
#: from one or two orders of a new customer would otherwise crown newcomers high-value.
VALUE_FEATURES = ("monetary_total", "predicted_clv_12m", "monetary_mean")


class WordRule(NamedTuple):
    """Put ``word`` in ``slot`` when every ``(feature, op, index limit)`` holds."""

    slot: str
    word: str
    conditions: tuple[tuple[str, str, float], ...]


#: Ordered: within a slot the first rule that holds wins. "{value}" is the segment's most
#: over-indexed category or channel. "value" stands for the first of VALUE_FEATURES present.
WORD_RULES: tuple[WordRule, ...] = (
    WordRule("value", "High-value", (("value", ">=", 150),)),
    WordRule("value", "Low-value", (("value", "<=", 50),)),
    WordRule("state", "lapsed", (("recency_days", ">=", 200),)),
    WordRule("state", "lapsing", (("probability_alive", "<=", 60),)),
    WordRule("state", "new", (("tenure_days", "<=", 30),)),
    WordRule("noun", "bargain hunters", (("promo_share", ">=", 150),)),
    WordRule("noun", "returners", (("return_share", ">=", 200),)),
    WordRule("noun", "{category} fans", (("top_category", ">=", 170),)),
    WordRule("noun", "regulars", (("frequency", ">=", 150),)),
    WordRule("noun", "{channel} shoppers", (("top_channel", ">=", 135),)),
    WordRule("noun", "one-off buyers", (("frequency", "<=", 35),)),
    WordRule("noun", "occasional buyers", (("frequency", "<=", 70),)),
)
DEFAULT_NOUN = "customers"


def is_given_name(label: str) -> bool:
    """True when a person (or the RFM method) named the segment.

    >>> is_given_name("Champions"), is_given_name("3"), is_given_name("cluster_2"), is_given_name("VIP")
    (True, False, False, True)
    """
    return not GENERIC_LABEL.match(str(label))


def _indexes(profile: Profile, segment: str) -> dict[str, float]:
    m = profile.means[profile.means.segment == segment]
    idx = dict(zip(m.feature, m["index"]))
    for f in VALUE_FEATURES:
        if f in idx:
            idx["value"] = idx[f]
            break
    words = {}
    for dim in ("category", "channel"):
        mix = profile.mix[(profile.mix.segment == segment) & (profile.mix.dimension == dim)].dropna(subset=["index"])
        if len(mix):
            best = mix.loc[mix["index"].idxmax()]
            idx[f"top_{dim}"] = float(best["index"])
            words[dim] = str(best["value"]).replace("_", " ")
    idx["_words"] = words  # type: ignore[assignment]
    return idx


def _holds(idx: dict, feature: str, op: str, limit: float) -> bool:
    v = idx.get(feature)
    if v is None or not isinstance(v, float | int) or not np.isfinite(v):
        return False
    return v >= limit if op == ">=" else v <= limit


def rule_name(profile: Profile, segment: str) -> tuple[str, list[str]]:
    """The rule-made name of one segment and the reasons (the rules that fired)."""
    idx = _indexes(profile, segment)
    words: dict[str, str] = {}
    reasons = []
    for rule in WORD_RULES:
        if rule.slot in words or not all(_holds(idx, *c) for c in rule.conditions):
            continue
        word = rule.word.format(**idx["_words"]) if "{" in rule.word else rule.word
        words[rule.slot] = word
        reasons.append("; ".join(f"{_pretty(f)} index {idx[f]:.0f} {op} {lim:g}" for f, op, lim in rule.conditions)
                       + f" -> {word!r}")
    if words.get("value") == "Low-value" and ("state" in words or "noun" in words):
        words.pop("value")  # "Lapsed bargain hunters" says enough; low value is implied
    if "noun" in words and "category" in idx["_words"] and "fans" not in words["noun"] \
            and not words.keys() & {"value", "state"} and idx.get("top_category", 0) >= 170:
        words["state"] = idx["_words"]["category"]  # "Fashion returners"
    parts = [words.get("value"), words.get("state"), words.get("noun", DEFAULT_NOUN)]
    name = " ".join(p for p in parts if p)
    return name[0].upper() + name[1:], reasons


def _pretty(feature: str) -> str:
    if feature == "value":
        return "value"
    return feature.replace("top_", "top ").replace("_", " ")


def name_segments(profile: Profile, keep_given: bool = True) -> pd.DataFrame:
    """A name per segment: ``segment, name, source (rfm | given | rules | suppressed), reasons``.

    Rule-made names that collide get the segment's strongest differentiator appended.
    """
    rows = []
    labels = profile.segments
    rfm = all(str(s).strip().lower() in RFM_NAMES for s in labels)
    for s in labels:
        if rfm and keep_given:
            rows.append([s, s, "rfm", ["an RFM segment name"]])
        elif keep_given and is_given_name(s):
            rows.append([s, s, "given", ["the label is already a name"]])
        elif s in profile.suppressed:
            rows.append([s, f"Segment {s} (small)", "suppressed", ["too few customers to describe"]])
        else:
            name, reasons = rule_name(profile, s)
            rows.append([s, name, "rules", reasons])
    out = pd.DataFrame(rows, columns=["segment", "name", "source", "reasons"])
    dup = out.duplicated("name", keep=False) & (out.source == "rules")
    for i in out.index[dup]:
        out.loc[i, "name"] = _disambiguate(profile, out.loc[i, "segment"], out.loc[i, "name"])
    still = out.duplicated("name", keep="first")
    for n, i in enumerate(out.index[still], start=2):
        out.loc[i, "name"] = f"{out.loc[i, 'name']} {n}"
    return out


def _disambiguate(profile: Profile, segment: str, name: str) -> str:
    d = profile.differentiators[profile.differentiators.segment == segment]
    if d.empty:
        return f"{name} ({segment})"
    top = d.iloc[0]
    if top["kind"] == "categorical":
        return f"{name}, mostly {top['top_value']}"
    word = "high" if top["direction"] == "higher" else "low"
    return f"{name}, {word} {_pretty(str(top['feature']))}"
