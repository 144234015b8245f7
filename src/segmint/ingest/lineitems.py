"""Line-item sources (one row per product on an invoice) become orders.

Each clean line is kept in ``order_items`` (with its source line number) and lines
are summed per order: ``amount = sum(quantity x unit_price)``. Cancellations, told
by an order-id prefix (Online Retail's "C") or by a negative quantity, are kept as
returns (``returned = true``, negative amount), never dropped. Lines that fail a
check are quarantined with their reasons; their order is built from its clean lines.

Optionally, attributes of the customer on the line (``customer_attributes``, e.g.
Online Retail's Country) add the customers the store does not know yet, with the time of
their first line in the file as ``signup_at`` (the source knows no other: they are in the
customer base from then on, not at every earlier date).
"""

from __future__ import annotations

import ibis

from segmint.contracts import CONTRACTS
from segmint.ingest import checks
from segmint.ingest.report import IngestReport
from segmint.ingest.write import finalize_reasons, quarantine_rows, record_run, write_accepted


def finish(store, typed: ibis.Table, staged, plan, options, report: IngestReport) -> None:
    """Check lines, write order_items, orders and new customers, and quarantine the rest."""
    con = store.con
    items = CONTRACTS["order_items"]
    if options.return_prefix:
        is_return = typed.order_id.startswith(options.return_prefix)
    else:
        is_return = typed.quantity < 0
    is_return = is_return.fill_null(False)
    extra = [
        checks.reason(~is_return & (typed.quantity <= 0), "non_positive_quantity"),
        checks.reason(is_return & (typed.quantity == 0), "zero_quantity"),
        checks.reason(typed.unit_price <= 0, "non_positive_price"),
    ]
    typed = typed.mutate(_reasons=checks.combine(typed._reasons, extra), _return=is_return)
    if "_kh" in typed.columns:  # the hash of the order's key: lines are checked on their own key (_LineKey)
        typed = typed.drop("_kh")
    # order_items rows are unique per source line; the order key check is per line too
    # With customer attributes on the lines, customers are created from them: no reference check.
    line_key = _LineKeyOwnCustomers if options.customer_attributes else _LineKey
    checked = finalize_reasons(store, typed.mutate(line=typed._rec), line_key, staged)
    good = checked.filter(checks.passes(checked._reasons))
    first = staged.first_line if staged.first_line is not None else 1
    lines = good.mutate(
        line=(good._rec + first).cast("int64"),
        amount=(good.quantity.cast("decimal(18, 4)") * good.unit_price).cast("decimal(18, 4)"),
    )
    name = staged.name + "_lines"
    con.create_table(name, lines, temp=True)
    staged.temporaries.append(name)
    lines = con.table(name)
    provided = [c for c in items.names if c in plan.mapping or c in ("line", "amount")]
    with store.transaction():
        write_accepted(store, items, lines, provided, staged.source, report)
        orders = _orders(lines)
        order_report = IngestReport(table="orders", source=staged.source, ingest_id=report.ingest_id + "o")
        order_cols = [c for c in CONTRACTS["orders"].names if c in orders.columns]
        write_accepted(store, CONTRACTS["orders"], orders, order_cols, staged.source, order_report)
        report.orders_built = order_report.rows_new + order_report.rows_updated + order_report.rows_already_present
        if options.customer_attributes:
            report.customers_added = _add_customers(store, lines, options, staged.source, report)
        quarantine_rows(store, checked, staged, report)
        record_run(store, report)
    report.rows_read = report.rows_accepted + report.rows_quarantined


class _LineKey:
    """Contract view for line-level checks: unique per line, customers referenced."""

    table = "order_items"
    key = ("line",)
    references = {"customer_id": ("customers", "customer_id")}


class _LineKeyOwnCustomers(_LineKey):
    references: dict = {}


def _orders(lines: ibis.Table) -> ibis.Table:
    """Sum clean lines per order."""
    aggs = dict(
        customer_id=lines.customer_id.min(),
        ordered_at=lines.ordered_at.min(),
        amount=lines.amount.sum().cast("decimal(18, 4)"),
        quantity=lines.quantity.sum().cast("int64"),
        returned=lines._return.max(),
    )
    if "category" in lines.columns:
        aggs["category"] = lines.category.mode()
    return lines.group_by("order_id").aggregate(**aggs)


def _add_customers(store, lines: ibis.Table, options, source: str, report: IngestReport) -> int:
    """Insert customers seen on lines that the store does not have yet (attributes from the lines)."""
    attrs = {a: lines[f"_attr_{a}"].max() for a in options.customer_attributes}
    # No signup date is known: the customer is a customer from the first line the file shows them on. With a
    # null signup_at they were in the base at every date, before their first order too (a "No purchases"
    # share that melted away month by month in the monitoring of the real Online Retail file).
    attrs["signup_at"] = lines.ordered_at.min()
    people = lines.group_by("customer_id").aggregate(**attrs)
    stored = store.table("customers")
    new = people.anti_join(stored, people.customer_id == stored.customer_id)
    n = int(new.count().execute())
    if n:
        schema = stored.schema()
        missing = [a for a in options.customer_attributes if a not in schema]
        if missing:
            store.add_columns("customers", {a: "string" for a in missing})
            stored = store.table("customers")
            schema = stored.schema()
        fill = {c: ibis.null(schema[c]) for c in stored.columns
                if c not in ("customer_id", "signup_at", *options.customer_attributes, "_source", "_ingested_at")}
        rows = new.mutate(**fill, _source=ibis.literal(source), _ingested_at=ibis.now().cast("timestamp"))
        store.con.insert("customers", rows.select(stored.columns).cast(schema))
    return n
