"""Contracts of the canonical tables, declared as data.

A contract lists each column's type, whether a source must provide it, whether it
may be empty, its allowed range or values and, for customer attributes, the kind of
segmentation data it carries (demographic, geographic, psychographic, firmographic,
consent). The ingest checks and their error messages are generated from these
declarations, and so is the table reference in ``docs/ingest.md``.

Examples
--------
>>> CONTRACTS["orders"].key
('order_id',)
>>> [c.name for c in CONTRACTS["orders"].required_columns]
['order_id', 'customer_id', 'ordered_at', 'amount']
>>> CONTRACTS["customers"].column("age").tag
'demographic'
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field
from typing import Literal

from segmint.errors import UnknownNameError, did_you_mean

ColumnType = Literal["string", "timestamp", "decimal", "integer", "float", "boolean", "json"]
Tag = Literal["identity", "pii", "demographic", "geographic", "psychographic", "firmographic", "consent",
              "behavioural", "other"]

# Physical types in the store. Amounts are exact decimals; features convert to float.
ENGINE_TYPES: dict[str, str] = {
    "string": "string",
    "timestamp": "timestamp",
    "decimal": "decimal(18, 4)",
    "integer": "int64",
    "float": "float64",
    "boolean": "boolean",
    "json": "string",
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table and the checks its values must pass."""

    name: str
    type: ColumnType
    required: bool = False
    not_null: bool = False
    min: float | None = None
    max: float | None = None
    accepted: tuple[str, ...] | None = None
    tag: Tag = "other"
    description: str = ""
    aliases: tuple[str, ...] = ()

    def describe_checks(self) -> str:
        """A short plain-words list of the checks, for docs and messages."""
        parts = [self.type]
        if self.required:
            parts.append("required")
        if self.not_null:
            parts.append("not empty")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.accepted:
            parts.append("one of " + ", ".join(self.accepted))
        return ", ".join(parts)


@dataclass(frozen=True)
class Contract:
    """The contract of one canonical table."""

    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    references: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Customers may carry any extra attribute columns; other tables keep to their contract.
    allow_extra: bool = False

    @property
    def required_columns(self) -> list[Column]:
        return [c for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise UnknownNameError(
            f"table {self.table!r} has no column {name!r}; {did_you_mean(name, self.names)}"
        )

    def has(self, name: str) -> bool:
        return name in self.names


def _c(name: str, type: ColumnType, **kw) -> Column:  # noqa: A002 - mirrors the dataclass field
    return Column(name, type, **kw)


CUSTOMERS = Contract(
    table="customers",
    description="One row per customer: the id and attributes (demographic, geographic, firmographic, consent).",
    key=("customer_id",),
    allow_extra=True,
    columns=(
        _c("customer_id", "string", required=True, not_null=True, tag="identity",
           description="The customer's id in the source system.",
           aliases=("customerid", "customer", "cust_id", "client_id", "id")),
        _c("email", "string", tag="pii", description="Pseudonymised on the way in.",
           aliases=("e_mail", "email_address", "mail")),
        _c("phone", "string", tag="pii", description="Pseudonymised on the way in.",
           aliases=("mobile", "telephone", "phone_number")),
        _c("first_name", "string", tag="pii", description="Pseudonymised on the way in."),
        _c("last_name", "string", tag="pii", description="Pseudonymised on the way in."),
        _c("signup_at", "timestamp", tag="behavioural", description="When the customer signed up.",
           aliases=("created_at", "signup_date", "registered_at")),
        _c("gender", "string", tag="demographic", description="As recorded by the source."),
        _c("age", "integer", min=0, max=120, tag="demographic", description="Age in years."),
        _c("region", "string", tag="geographic", description="Region or state."),
        _c("city", "string", tag="geographic", description="City."),
        _c("country", "string", tag="geographic", description="Country."),
        _c("is_business", "boolean", tag="firmographic", description="A business account (B2B)."),
        _c("industry", "string", tag="firmographic", description="Industry of a business account."),
        _c("company_size", "string", tag="firmographic", description="Employee band of a business account."),
        _c("marketing_consent", "boolean", tag="consent",
           description="May be contacted for marketing. Exports leave out customers without it."),
        _c("preferred_channel", "string", tag="psychographic", description="Preferred contact channel."),
    ),
)

ORDERS = Contract(
    table="orders",
    description="One row per order (or invoice). Returns are orders with returned = true.",
    key=("order_id",),
    references={"customer_id": ("customers", "customer_id")},
    columns=(
        _c("order_id", "string", required=True, not_null=True, tag="identity",
           aliases=("invoice", "invoiceno", "invoice_no", "order", "transaction_id")),
        _c("customer_id", "string", required=True, not_null=True, tag="identity",
           aliases=("customerid", "cust_id", "client_id")),
        _c("ordered_at", "timestamp", required=True, not_null=True, tag="behavioural",
           aliases=("invoicedate", "order_date", "date", "created_at", "timestamp")),
        _c("amount", "decimal", required=True, not_null=True, tag="behavioural",
           description="Order value. Negative only for returns.",
           aliases=("total", "value", "revenue", "order_total", "dollar_value")),
        _c("quantity", "integer", tag="behavioural", aliases=("qty", "items", "number_of_cds")),
        _c("category", "string", tag="behavioural"),
        _c("channel", "string", tag="behavioural"),
        _c("promo", "boolean", tag="behavioural", description="Bought with a promotion or discount."),
        _c("returned", "boolean", tag="behavioural", description="A return or cancellation."),
    ),
)

ORDER_ITEMS = Contract(
    table="order_items",
    description="Optional: one row per line item, kept when orders come from a line-item source.",
    key=("order_id", "line"),
    references={"order_id": ("orders", "order_id")},
    columns=(
        _c("order_id", "string", required=True, not_null=True, tag="identity"),
        _c("line", "integer", tag="identity",
           description="Line number of the item in its source (set by segmint)."),
        _c("customer_id", "string", required=True, not_null=True, tag="identity"),
        _c("ordered_at", "timestamp", required=True, not_null=True, tag="behavioural"),
        _c("sku", "string", tag="behavioural", aliases=("stockcode", "product_id")),
        _c("description", "string", tag="behavioural"),
        _c("category", "string", tag="behavioural"),
        _c("quantity", "integer", required=True, not_null=True, tag="behavioural"),
        _c("unit_price", "decimal", required=True, not_null=True, min=0, tag="behavioural",
           aliases=("unitprice", "price")),
        _c("amount", "decimal", tag="behavioural", description="quantity x unit_price."),
    ),
)

EVENTS = Contract(
    table="events",
    description="Web, app, email and support events.",
    key=("customer_id", "occurred_at", "event", "properties"),
    references={"customer_id": ("customers", "customer_id")},
    columns=(
        _c("customer_id", "string", required=True, not_null=True, tag="identity"),
        _c("occurred_at", "timestamp", required=True, not_null=True, tag="behavioural"),
        _c("event", "string", required=True, not_null=True, tag="behavioural",
           description="e.g. email_sent, email_open, email_click, web_visit, app_open, support_contact."),
        _c("properties", "json", tag="behavioural", description="A JSON object of extra fields."),
    ),
)

RESPONSES = Contract(
    table="responses",
    description="Survey answers.",
    key=("customer_id", "answered_at", "question"),
    references={"customer_id": ("customers", "customer_id")},
    columns=(
        _c("customer_id", "string", required=True, not_null=True, tag="identity"),
        _c("answered_at", "timestamp", required=True, not_null=True, tag="behavioural"),
        _c("question", "string", required=True, not_null=True, tag="psychographic"),
        _c("answer", "string", required=True, not_null=True, tag="psychographic"),
    ),
)

# --- prospects (issue 19): people who are not customers yet, with the customer columns; lookalikes score them ---
PROSPECTS = Contract(
    table="prospects",
    description="Optional: people who are not customers yet (leads, a rented list), with the customers' columns; "
                "`segmint lookalike --from prospects` scores them.",
    key=("customer_id",),
    allow_extra=True,
    columns=tuple(dataclasses.replace(c, description="The prospect's id in the source system.")
                  if c.name == "customer_id" else c for c in CUSTOMERS.columns),
)

CONTRACTS: dict[str, Contract] = {c.table: c for c in (CUSTOMERS, ORDERS, ORDER_ITEMS, EVENTS, RESPONSES, PROSPECTS)}

#: Tables a user ingests directly (order_items arrive through ``line_items`` orders).
INGESTIBLE = ("customers", "orders", "events", "responses", "prospects")


def contract(table: str) -> Contract:
    """Return the contract of ``table`` or raise with a suggestion.

    Examples
    --------
    >>> contract("orders").table
    'orders'
    >>> contract("order")
    Traceback (most recent call last):
    ...
    segmint.errors.UnknownNameError: unknown table 'order'; did you mean 'orders'?
    """
    try:
        return CONTRACTS[table]
    except KeyError:
        raise UnknownNameError(f"unknown table {table!r}; {did_you_mean(table, CONTRACTS)}") from None
