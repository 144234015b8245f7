"""The feature catalog: what every feature column means, its unit, type and kind.

Fixed features are entries; families whose columns depend on the data
(``category_share_<category>``, ``channel_share_<channel>``, ``survey_<question>``, ``scale_<scale>``,
``orders_last_<days>``, customer attributes) are *pattern* entries, resolved against
an actual snapshot by :func:`catalog_for`.

``kind`` is a hint for segmentation preprocessing:

======== ================================================================
kind     meaning (and what preprocessing usually does)
======== ================================================================
amount   money, >= 0 and skewed (log, robust scaling)
count    a count of orders or events, >= 0 and skewed (log)
share    a fraction of a customer's orders in [0, 1] (no log)
rate     events per event, usually in [0, 1] (no log)
days     a duration in days, >= 0 (log when skewed)
score    an ordinal score (RFM 1..bins, survey answers)
number   any other number (age, trend in [-1, 1], probabilities)
category a label (one-hot)
flag     true / false
time     a timestamp; not for distance-based clustering
======== ================================================================

Examples
--------
>>> CATALOG["recency_days"].kind
'days'
>>> resolve("category_share_books").family
'mix'
>>> resolve("orders_last_30").description
'Orders (not returns) in the 30 days before as_of.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import ibis
import ibis.expr.schema as sch

from segmint.contracts import CUSTOMERS
from segmint.errors import UnknownNameError, did_you_mean
from segmint.store import LINEAGE

__all__ = ["Feature", "FAMILIES", "KINDS", "CATALOG", "PATTERNS", "KEYS", "resolve", "catalog_for",
           "attribute_columns", "PII_COLUMNS", "entries"]

FAMILIES = ("recency", "frequency", "monetary", "cadence", "mix", "engagement", "survey", "predictive",
            "demographic", "geographic", "firmographic", "psychographic", "attribute")
KINDS = ("amount", "count", "share", "rate", "days", "score", "number", "category", "flag", "time")
TYPES = ("numeric", "string", "boolean", "timestamp")
#: Key columns of a stored snapshot; not features.
KEYS = ("as_of", "customer_id")
#: Customer columns never carried into features (pseudonymised identity, not attributes).
PII_COLUMNS = tuple(c.name for c in CUSTOMERS.columns if c.tag == "pii")


@dataclass(frozen=True)
class Feature:
    """One feature (or a pattern of features) of the catalog.

    ``name`` may hold one ``{placeholder}``; :func:`resolve` fills it from a column name.
    """

    name: str
    family: str
    description: str
    unit: str
    type: str
    kind: str
    pattern: bool = False

    def __post_init__(self) -> None:
        assert self.family in FAMILIES and self.kind in KINDS and self.type in TYPES, self

    def regex(self) -> re.Pattern[str]:
        head, _, rest = self.name.partition("{")
        tail = rest.partition("}")[2]
        return re.compile(re.escape(head) + r"(?P<value>.+)" + re.escape(tail) + "$")


def _f(name, family, description, unit, type_, kind) -> Feature:
    return Feature(name, family, description, unit, type_, kind, pattern="{" in name)


_ENTRIES = [
    # recency / frequency / monetary
    _f("recency_days", "recency", "Days from the last purchase (not a return) to as_of; null without purchases.",
       "days", "numeric", "days"),
    _f("first_order_at", "recency", "Time of the first purchase.", "timestamp (UTC)", "timestamp", "time"),
    _f("last_order_at", "recency", "Time of the last purchase.", "timestamp (UTC)", "timestamp", "time"),
    _f("tenure_days", "recency", "Days from the earlier of signup and first purchase to as_of.",
       "days", "numeric", "days"),
    _f("frequency", "frequency", "Purchases (orders that are not returns) before as_of; 0 without any.",
       "orders", "numeric", "count"),
    _f("repeat_frequency", "frequency", "Purchases after the first one: max(frequency - 1, 0).",
       "orders", "numeric", "count"),
    _f("orders_last_{days}", "frequency", "Orders (not returns) in the {days} days before as_of.",
       "orders", "numeric", "count"),
    _f("monetary_total", "monetary", "Sum of the amounts of purchases (returns excluded); 0 without any.",
       "currency", "numeric", "amount"),
    _f("monetary_mean", "monetary", "Mean amount per purchase: monetary_total / frequency; null without any.",
       "currency", "numeric", "amount"),
    _f("spend_last_{days}", "monetary", "Amount of purchases in the {days} days before as_of.",
       "currency", "numeric", "amount"),
    _f("spend_trend_90d", "monetary",
       "Spend trend: (s1 - s0) / (s1 + s0), s1 the spend of the last 90 days, s0 of the 90 before; "
       "-1 stopped, 0 flat, +1 new; null when both are 0.", "ratio in [-1, 1]", "numeric", "number"),
    _f("returned_amount", "monetary", "Sum of the absolute amounts of returns; 0 without any.",
       "currency", "numeric", "amount"),
    _f("r_score", "recency", "Recency score 1..rfm_bins by quantile among buyers; higher is more recent.",
       "score", "numeric", "score"),
    _f("f_score", "frequency", "Frequency score 1..rfm_bins by quantile among buyers; higher buys more often.",
       "score", "numeric", "score"),
    _f("m_score", "monetary", "Monetary score 1..rfm_bins by quantile among buyers; higher spends more.",
       "score", "numeric", "score"),
    _f("rfm_score", "recency", "The three scores written together, e.g. '545'; null without purchases.",
       "text", "string", "category"),
    # cadence
    _f("mean_days_between_orders", "cadence", "Mean gap between consecutive purchases; null below 2 purchases.",
       "days", "numeric", "days"),
    _f("std_days_between_orders", "cadence",
       "Standard deviation (n - 1) of the gaps between purchases; null below 3 purchases.",
       "days", "numeric", "days"),
    # mix
    _f("category_share_{category}", "mix", "Share of the customer's purchases in category '{category}'.",
       "fraction", "numeric", "share"),
    _f("top_category", "mix", "Category with most purchases (ties: the larger spend, then by name).",
       "text", "string", "category"),
    _f("distinct_categories", "mix", "Number of distinct categories bought; null when no purchase has one.",
       "categories", "numeric", "count"),
    _f("channel_share_{channel}", "mix", "Share of the customer's purchases through channel '{channel}'.",
       "fraction", "numeric", "share"),
    _f("promo_share", "mix", "Share of purchases made with a promotion, among purchases where it is known.",
       "fraction", "numeric", "share"),
    _f("return_share", "mix", "Share of the customer's orders that are returns (returns / all orders).",
       "fraction", "numeric", "share"),
    _f("mean_quantity", "mix", "Mean number of items per purchase (basket size); null when unknown.",
       "items", "numeric", "count"),
    # engagement
    _f("emails_sent", "engagement", "E-mails sent to the customer (email_sent events).", "e-mails",
       "numeric", "count"),
    _f("email_open_rate", "engagement", "email_open events / email_sent events; null when none was sent.",
       "opens per e-mail", "numeric", "rate"),
    _f("email_click_rate", "engagement", "email_click events / email_sent events; null when none was sent.",
       "clicks per e-mail", "numeric", "rate"),
    _f("web_visits_last_30", "engagement", "web_visit events in the 30 days before as_of.", "visits",
       "numeric", "count"),
    _f("app_opens_last_30", "engagement", "app_open events in the 30 days before as_of.", "opens",
       "numeric", "count"),
    _f("support_contacts", "engagement", "support_contact events before as_of.", "contacts", "numeric", "count"),
    _f("days_since_last_event", "engagement", "Days from the customer's last event of any kind to as_of.",
       "days", "numeric", "days"),
    _f("marketing_consent", "engagement", "May be contacted for marketing.", "", "boolean", "flag"),
    # survey
    _f("survey_{question}", "survey",
       "Latest answer to survey question '{question}' (a number when every answer to it is numeric).",
       "answer", "numeric", "score"),
    # psychographic: survey scales and free-text topics (psychographics in segmint.yaml; issue 23)
    _f("scale_{scale}", "psychographic",
       "Score on the survey scale '{scale}': mean of the latest answers to its items (reverse-coded items "
       "flipped), when at least half are answered. Cronbach's alpha: `segmint scales`.", "answer scale",
       "numeric", "score"),
    _f("topic_share_{topic}", "psychographic",
       "Share of the customer's free-text answers in topic '{topic}' (question and topic number).",
       "fraction", "numeric", "share"),
    _f("topic_{question}", "psychographic",
       "The customer's main topic in free-text answers to '{question}' (see `segmint topics`).",
       "text", "string", "category"),
    # predictive: inputs (Lifetimes' definitions, daily periods) and outputs
    _f("clv_frequency", "predictive", "Repeat purchase days: days with a purchase, less the first.",
       "days with purchases", "numeric", "count"),
    _f("clv_recency", "predictive", "Days from the first to the last purchase day (Lifetimes' recency).",
       "days", "numeric", "days"),
    _f("clv_T", "predictive", "Days from the first purchase day to the as_of day (Lifetimes' T).",
       "days", "numeric", "days"),
    _f("clv_monetary_value", "predictive", "Mean spend per repeat purchase day; 0 without a repeat.",
       "currency", "numeric", "amount"),
    _f("expected_purchases_90d", "predictive", "BG/NBD expected purchases in the next 90 days.",
       "purchases", "numeric", "count"),
    _f("expected_purchases_365d", "predictive", "BG/NBD expected purchases in the next 365 days.",
       "purchases", "numeric", "count"),
    _f("probability_alive", "predictive", "BG/NBD probability that the customer is still active.",
       "probability", "numeric", "number"),
    _f("predicted_clv_12m", "predictive",
       "BG/NBD x Gamma-Gamma value of the next 12 months, discounted 1% a month.", "currency", "numeric",
       "amount"),
    # customer attributes (from the customers table)
    _f("age", "demographic", "Age in years.", "years", "numeric", "number"),
    _f("age_band", "demographic", "Age band: <25, 25-34, 35-44, 45-54, 55-64, 65+.", "text", "string", "category"),
    _f("gender", "demographic", "Gender as recorded by the source.", "text", "string", "category"),
    _f("region", "geographic", "Region or state.", "text", "string", "category"),
    _f("country", "geographic", "Country.", "text", "string", "category"),
    _f("city", "geographic", "City.", "text", "string", "category"),
    _f("is_business", "firmographic", "A business account (B2B).", "", "boolean", "flag"),
    _f("industry", "firmographic", "Industry of a business account.", "text", "string", "category"),
    _f("company_size", "firmographic", "Employee band of a business account.", "text", "string", "category"),
    _f("preferred_channel", "psychographic", "Preferred contact channel.", "text", "string", "category"),
    _f("signup_at", "recency", "When the customer signed up.", "timestamp (UTC)", "timestamp", "time"),
]

#: Fixed entries by name.
CATALOG: dict[str, Feature] = {f.name: f for f in _ENTRIES if not f.pattern}
#: Pattern entries, tried in order after the fixed ones.
PATTERNS: list[Feature] = [f for f in _ENTRIES if f.pattern]
#: Extra customer attribute: any column of the customers table beyond its contract.
ATTRIBUTE = Feature("{attribute}", "attribute", "Customer attribute '{attribute}' carried from the customers "
                    "table.", "as stored", "string", "category", pattern=True)


def _fill(entry: Feature, name: str, value: str) -> Feature:
    placeholder = entry.name[entry.name.index("{"):entry.name.index("}") + 1]
    return replace(entry, name=name, description=entry.description.replace(placeholder, value), pattern=False)


def resolve(name: str, attributes: Iterable[str] = ()) -> Feature:
    """The catalog entry of the feature column ``name`` (patterns filled in).

    Parameters
    ----------
    name : str
        A feature column.
    attributes : iterable of str
        Extra customer attribute columns, documented by the attribute pattern.

    Raises
    ------
    UnknownNameError
        The column matches no entry.
    """
    if name in CATALOG:
        return CATALOG[name]
    for entry in PATTERNS:
        m = entry.regex().match(name)
        if m:
            return _fill(entry, name, m.group("value"))
    if name in set(attributes):
        return _fill(ATTRIBUTE, name, name)
    known = list(CATALOG) + [p.name for p in PATTERNS]
    raise UnknownNameError(f"feature {name!r} is not in the catalog; {did_you_mean(name, known)}")


def attribute_columns(customers_schema: sch.Schema) -> list[str]:
    """Extra attribute columns of the customers table: beyond its contract, lineage and PII."""
    contract = set(CUSTOMERS.names) | set(LINEAGE)
    return [c for c in customers_schema.names if c not in contract]


def _schema_of(obj) -> tuple[sch.Schema, list[str]]:
    if isinstance(obj, sch.Schema):
        return obj, []
    if isinstance(obj, dict):
        return ibis.schema(obj), []
    schema = obj.schema()
    try:  # a table bound to a store: its customers table names the extra attributes
        backend = ibis.get_backend(obj)
        if "customers" in backend.list_tables():
            return schema, attribute_columns(backend.table("customers").schema())
    except Exception:  # noqa: BLE001 - an unbound memtable has no backend; no extra attributes then
        pass
    return schema, []


def catalog_for(table_or_schema, attributes: Iterable[str] | None = None) -> dict[str, Feature]:
    """Resolve the catalog against a snapshot: one entry per feature column, in column order.

    Parameters
    ----------
    table_or_schema : ibis.Table, ibis.Schema or dict of str to str
        A features table (as made by :func:`~segmint.features.compute_features` or
        loaded by :func:`~segmint.features.load_features`) or its schema.
    attributes : iterable of str, optional
        Extra customer attribute columns. Default: read from the table's store (none for
        a bare schema).

    Returns
    -------
    dict of str to Feature
        Key columns (``as_of``, ``customer_id``) are left out. Fixed entries keep the
        type of the column as stored.

    Raises
    ------
    UnknownNameError
        A column has no catalog entry.

    Examples
    --------
    >>> cat = catalog_for({"customer_id": "string", "frequency": "int64", "survey_nps": "float64"})
    >>> [(f.name, f.family) for f in cat.values()]
    [('frequency', 'frequency'), ('survey_nps', 'survey')]
    """
    schema, found = _schema_of(table_or_schema)
    extra = list(attributes) if attributes is not None else found
    out: dict[str, Feature] = {}
    for name, dtype in schema.items():
        if name in KEYS:
            continue
        entry = resolve(name, extra)
        out[name] = replace(entry, type=_type_of(dtype, entry.type))
        if out[name].type == "string" and entry.kind not in ("category",):
            out[name] = replace(out[name], kind="category")
        elif out[name].type == "boolean":
            out[name] = replace(out[name], kind="flag")
        elif out[name].type == "numeric" and entry.kind == "category":
            out[name] = replace(out[name], kind="number")
    return out


def _type_of(dtype, default: str) -> str:
    if dtype.is_boolean():
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_timestamp() or dtype.is_date():
        return "timestamp"
    if dtype.is_string():
        return "string"
    return default


def entries() -> list[dict[str, Any]]:
    """Every catalog entry as a plain dict, by family (what ``segmint features --list --json`` prints).

    Examples
    --------
    >>> e = entries()
    >>> e[0]["family"], sorted(e[0])
    ('recency', ['description', 'family', 'kind', 'name', 'pattern', 'type', 'unit'])
    """
    every = sorted(list(CATALOG.values()) + PATTERNS + [ATTRIBUTE], key=lambda f: FAMILIES.index(f.family))
    return [{"name": f.name, "family": f.family, "type": f.type, "kind": f.kind, "unit": f.unit,
             "description": f.description, "pattern": f.pattern} for f in every]
