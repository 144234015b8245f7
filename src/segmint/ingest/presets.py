"""Ready-made ingest settings for well-known public data sets.

Examples
--------
>>> preset("online-retail").line_items
True
>>> preset("online-retial")
Traceback (most recent call last):
...
segmint.errors.UnknownNameError: unknown preset 'online-retial'; did you mean 'online-retail'?
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segmint.errors import UnknownNameError, did_you_mean


@dataclass(frozen=True)
class Preset:
    """Column mapping and options for one known source layout."""

    name: str
    table: str
    description: str
    mapping: dict[str, str]
    line_items: bool = False
    return_prefix: str | None = None
    customer_attributes: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    delimiter: str | None = None


PRESETS: dict[str, Preset] = {
    "online-retail": Preset(
        name="online-retail",
        table="orders",
        description="UCI Online Retail: one row per line item; invoices starting with C are cancellations.",
        mapping={
            "order_id": "InvoiceNo", "sku": "StockCode", "description": "Description",
            "quantity": "Quantity", "ordered_at": "InvoiceDate", "unit_price": "UnitPrice",
            "customer_id": "CustomerID",
        },
        line_items=True,
        return_prefix="C",
        customer_attributes={"country": "Country"},
    ),
}


def preset(name: str) -> Preset:
    """Return the preset called ``name``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown preset {name!r}; {did_you_mean(name, PRESETS)}") from None
