"""Persona cards: who a segment's customers are, how they buy, what they respond to, what to do.

Every sentence is filled from the profile's statistics (no language model), and every
suggested action comes from a rule in :data:`ACTION_RULES` whose conditions the segment
meets, with the numbers that made it fire as the reason.

Examples
--------
>>> import pandas as pd
>>> from segmint.profile.profiles import profile
>>> f = pd.DataFrame({"frequency": [1.0] * 30 + [4.0] * 70, "tenure_days": [20.0] * 30 + [700.0] * 70,
...                   "promo_share": [0.1] * 30 + [0.2] * 70})
>>> cards = personas(profile(f, pd.Series([1] * 30 + [2] * 70)))
>>> [a.action for a in cards[0].actions]
['Onboarding journey']
>>> print(cards[0].who)
New one-off buyers (1) are 30 customers, 30% of the base.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from segmint.profile.naming import name_segments
from segmint.profile.profiles import Profile


class ActionRule(NamedTuple):
    """Suggest ``action`` when every condition holds; ``why`` is formatted with the segment's numbers.

    A condition is ``(source, feature, op, limit)``: ``source`` is ``index`` (segment mean
    / population mean x 100), ``mean`` (the segment mean) or ``kpi`` (a column of sizes).
    """

    action: str
    why: str
    conditions: tuple[tuple[str, str, str, float], ...]


ACTION_RULES: tuple[ActionRule, ...] = (
    ActionRule("Win-back offer", "valuable (CLV index {index[predicted_clv_12m]:.0f}) but only "
               "{mean[probability_alive]:.0%} likely to still be active",
               (("index", "predicted_clv_12m", ">=", 120), ("mean", "probability_alive", "<", 0.5))),
    ActionRule("Win-back offer", "they spent well (index {index[monetary_total]:.0f}) but last bought "
               "{mean[recency_days]:.0f} days ago on average",
               (("index", "monetary_total", ">=", 120), ("index", "recency_days", ">=", 200))),
    ActionRule("Low-cost reactivation", "long gone ({mean[recency_days]:.0f} days since the last purchase) "
               "and of modest value: automated emails, no paid media",
               (("index", "recency_days", ">=", 200),)),
    ActionRule("VIP programme", "they buy often (index {index[frequency]:.0f}) and spend much "
               "(index {index[monetary_total]:.0f}): reward and retain them",
               (("index", "frequency", ">=", 150), ("index", "monetary_total", ">=", 150))),
    ActionRule("Targeted discounts", "{mean[promo_share]:.0%} of their orders use a promotion "
               "(index {index[promo_share]:.0f})", (("index", "promo_share", ">=", 150),)),
    ActionRule("Onboarding journey", "new customers ({mean[tenure_days]:.0f} days on average): "
               "welcome series and a second-purchase incentive", (("mean", "tenure_days", "<=", 90),)),
    ActionRule("Onboarding journey", "recent arrivals (tenure index {index[tenure_days]:.0f})",
               (("index", "tenure_days", "<=", 30),)),
    ActionRule("Returns review", "they return {mean[return_share]:.0%} of orders (index {index[return_share]:.0f}): "
               "size and fit guidance, check the cost of returns", (("index", "return_share", ">=", 200),)),
    ActionRule("Cross-sell", "{top[category]} dominates their basket (index {index[top_category]:.0f}): "
               "recommend neighbouring categories", (("index", "top_category", ">=", 170),)),
    ActionRule("Lead with email", "they open {mean[email_open_rate]:.0%} of emails "
               "(index {index[email_open_rate]:.0f})", (("index", "email_open_rate", ">=", 130),)),
    ActionRule("Reach beyond email", "they open only {mean[email_open_rate]:.0%} of emails: "
               "try SMS, app or paid social", (("index", "email_open_rate", "<=", 60),)),
    ActionRule("Grow consent", "only {kpi[consent_share]:.0%} can be contacted for marketing: "
               "an opt-in incentive at the next purchase", (("kpi", "consent_share", "<=", 0.4),)),
)
FALLBACK = ("Regular communication", "no trait stands out: keep them in the regular programme")


@dataclass
class Action:
    action: str
    why: str


@dataclass
class Persona:
    """A persona card: a name, three short paragraphs and suggested actions."""

    segment: str
    name: str
    customers: float
    share: float
    who: str
    how: str
    responds: str
    actions: list[Action] = field(default_factory=list)
    traits: list[str] = field(default_factory=list)
    suppressed: bool = False

    @property
    def text(self) -> str:
        return " ".join(p for p in (self.who, self.how, self.responds) if p)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("customers", "share"):
            d[k] = None if not np.isfinite(d[k]) else float(d[k])
        return d


class _Stats:
    """Look-ups of one segment's numbers; missing ones are NaN so rules and sentences can skip them."""

    def __init__(self, profile: Profile, segment: str) -> None:
        m = profile.means[profile.means.segment == segment]
        self.index = _NanDict(zip(m.feature, m["index"]))
        self.mean = _NanDict(zip(m.feature, m["segment_mean"]))
        self.pop = _NanDict(zip(m.feature, m["population_mean"]))
        row = profile.sizes[profile.sizes.segment == segment].iloc[0].to_dict()
        self.kpi = _NanDict({k: v for k, v in row.items() if isinstance(v, float | int)})
        self.mix = profile.mix[(profile.mix.segment == segment) & ~profile.mix.suppressed]
        self.demo = profile.demographics[(profile.demographics.segment == segment) & ~profile.demographics.suppressed]
        self.top_words: dict[str, str] = {}
        for dim in ("category", "channel"):  # the most over-indexed value of each mix, for rules
            best = self.top(self.mix, dim, by="index")
            if best:
                self.index[f"top_{dim}"] = float(best["index"])
                self.top_words[dim] = str(best["value"])

    def ok(self, *values: float) -> bool:
        return all(isinstance(v, float | int) and np.isfinite(v) for v in values)

    def top(self, table: pd.DataFrame, dimension: str, by: str = "share") -> dict | None:
        t = table[table.dimension == dimension].dropna(subset=[by])
        return None if t.empty else t.loc[t[by].idxmax()].to_dict()


class _NanDict(dict):
    def __missing__(self, key):
        return np.nan


def personas(profile: Profile, names: pd.DataFrame | None = None) -> list[Persona]:
    """One :class:`Persona` per segment, in the profile's order.

    ``names`` is :func:`~segmint.profile.naming.name_segments`'s table (made when not given).
    """
    names = name_segments(profile) if names is None else names
    name_of = dict(zip(names.segment, names.name))
    out = []
    for s in profile.segments:
        name = name_of.get(s, s)
        if s in profile.suppressed:
            out.append(Persona(s, name, np.nan, np.nan,
                               f"{name}: fewer than {profile.min_segment_size} customers; figures suppressed "
                               "to protect privacy.", "", "", [], [], True))
            continue
        st = _Stats(profile, s)
        out.append(Persona(s, name, st.kpi["customers"], st.kpi["share"], _who(st, name, s), _how(st),
                           _responds(st), suggest_actions(st), _traits(profile, s)))
    return out


def _times(ix: float) -> str:
    return f"{ix / 100:.1f}x the base" if ix >= 100 else f"{ix:.0f}% of the base"


def _who(st: _Stats, name: str, segment: str) -> str:
    label = f" ({segment})" if name != segment else ""
    s = f"{name}{label} are {st.kpi['customers']:,.0f} customers, {st.kpi['share']:.0%} of the base"
    if st.ok(st.kpi["revenue_share"]):
        s += f", bringing {st.kpi['revenue_share']:.0%} of revenue"
    parts = [s + "."]
    if st.ok(st.mean["age"]):
        band = st.top(st.demo, "age band")
        parts.append(f"Their mean age is {st.mean['age']:.0f} (base {st.pop['age']:.0f})"
                     + (f", most often {band['value']} ({band['share']:.0%})." if band else "."))
    gender = st.top(st.demo, "gender", by="index")
    if gender and gender["index"] >= 115 and gender["share"] >= 0.3:
        parts.append(f"They are more often {gender['value']} ({gender['share']:.0%}, index {gender['index']:.0f}).")
    region = st.top(st.mix, "region")
    if region:
        most = "Most live" if region["share"] > 0.5 else "Most often they live"
        parts.append(f"{most} in {region['value']} ({region['share']:.0%}, index {region['index']:.0f}).")
    return " ".join(parts)


def _how(st: _Stats) -> str:
    parts = []
    if st.ok(st.mean["frequency"]):
        parts.append(f"They have bought {st.mean['frequency']:.1f} times on average ({_times(st.index['frequency'])})")
    if st.ok(st.kpi["mean_spend"]):
        aov = f", {st.kpi['mean_order_value']:,.0f} per order" if st.ok(st.kpi["mean_order_value"]) else ""
        parts.append(f"spending {st.kpi['mean_spend']:,.0f} in all{aov}")
    first = ", ".join(parts) + "." if parts else ""
    more = []
    if st.ok(st.mean["recency_days"]):
        more.append(f"Their last purchase was {st.mean['recency_days']:.0f} days ago on average "
                    f"(base {st.pop['recency_days']:.0f}).")
    if st.ok(st.mean["tenure_days"]):
        more.append(f"They have been customers for {st.mean['tenure_days']:.0f} days.")
    cat, ch = st.top(st.mix, "category", by="index"), st.top(st.mix, "channel")
    if cat and cat["index"] >= 110:
        more.append(f"They favour {cat['value']} ({cat['share']:.0%} of purchases, index {cat['index']:.0f}).")
    if ch:
        more.append(f"Their main channel is {ch['value']} ({ch['share']:.0%} of purchases).")
    return " ".join([first, *more]).strip()


def _responds(st: _Stats) -> str:
    parts = []
    if st.ok(st.mean["promo_share"]):
        parts.append(f"{st.mean['promo_share']:.0%} of their orders use a promotion "
                     f"(index {st.index['promo_share']:.0f})")
    if st.ok(st.mean["email_open_rate"]):
        parts.append(f"they open {st.mean['email_open_rate']:.0%} of emails (index {st.index['email_open_rate']:.0f})")
    if st.ok(st.mean["return_share"]):
        parts.append(f"they return {st.mean['return_share']:.0%} of orders")
    if st.ok(st.kpi["consent_share"]):
        parts.append(f"{st.kpi['consent_share']:.0%} have given marketing consent")
    s = "; ".join(parts)
    s = (s[0].upper() + s[1:] + ".") if s else ""
    if st.ok(st.kpi["mean_clv"]):
        alive = (f", and they are {st.mean['probability_alive']:.0%} likely to still be active"
                 if st.ok(st.mean["probability_alive"]) else "")
        s += f" Expected value over the next 12 months: {st.kpi['mean_clv']:,.0f} each{alive}."
    return s.strip()


def _holds(st: _Stats, source: str, feature: str, op: str, limit: float) -> bool:
    v = getattr(st, source)[feature]
    if not st.ok(v):
        return False
    return {">=": v >= limit, "<=": v <= limit, "<": v < limit, ">": v > limit}[op]


def suggest_actions(st: _Stats) -> list[Action]:
    """The actions of every rule that holds (one per action name, the first reason kept)."""
    out: dict[str, Action] = {}
    for rule in ACTION_RULES:
        if rule.action not in out and all(_holds(st, *c) for c in rule.conditions):
            out[rule.action] = Action(rule.action, rule.why.format(index=st.index, mean=st.mean, kpi=st.kpi,
                                                                     top=st.top_words))
    return list(out.values()) or [Action(*FALLBACK)]


def _traits(profile: Profile, segment: str) -> list[str]:
    d = profile.differentiators[profile.differentiators.segment == segment]
    out = []
    for r in d.itertuples():
        feat = str(r.feature).replace("_", " ")
        if r.kind == "categorical":
            out.append(f"{feat}: more often {r.top_value} (Cramer's V {r.effect:.2f})")
        else:
            ix = f", index {r.index:.0f}" if np.isfinite(r.index) else ""
            out.append(f"{feat} {r.direction} ({_fmt(r.segment_mean)} vs {_fmt(r.population_mean)}{ix}, "
                       f"{r.magnitude} effect: {r.measure} {r.effect:+.2f})")
    return out


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
