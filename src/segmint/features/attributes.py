"""Customer attributes carried through from the customers table, and the age band.

Every column of ``customers`` is carried except the id, personal data (e-mail,
phone, names: pseudonyms carry no signal and must not spread) and lineage columns;
extra attribute columns added at ingest come along under their own names.
``age_band`` is derived from ``age``: <25, 25-34, 35-44, 45-54, 55-64, 65+.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from segmint.features.asof import Context
from segmint.features.catalog import PII_COLUMNS
from segmint.store import LINEAGE

__all__ = ["features", "AGE_BANDS", "carried_columns"]

#: (upper bound exclusive, label); the last band is open.
AGE_BANDS = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))


def carried_columns(customers: ir.Table) -> list[str]:
    """Columns of the customers table that become features."""
    dropped = {"customer_id", *PII_COLUMNS, *LINEAGE}
    return [c for c in customers.columns if c not in dropped]


def features(ctx: Context) -> ir.Table:
    """One row per stored customer with the carried attributes (and ``age_band``)."""
    c = ctx.customers
    cols: dict[str, ir.Value] = {name: c[name] for name in carried_columns(c)}
    if "age" in cols:
        age = c.age
        band = ibis.cases(*[(age < upper, label) for upper, label in AGE_BANDS], else_="65+")
        cols["age_band"] = ibis.ifelse(age.isnull(), ibis.null("string"), band)
    return c.select("customer_id", **cols)
