"""Plant known bad rows in a simulated chunk, so tests can check what ingest quarantines.

Every planted row is bad in exactly one way, and the counts are returned, so an ingest
test can assert that exactly these rows end up in quarantine with the right reason.
Clean rows are never touched; bad rows are inserted at random positions.

Kinds planted in ``orders`` (each count is a number of *added* rows):

* ``orders_missing_customer_id`` - empty customer_id.
* ``orders_negative_amount`` - amount below zero on a sale (returned = false).
* ``orders_missing_amount`` - empty amount.
* ``orders_duplicate_row`` - an exact copy of a clean row (same order_id too).
* ``orders_bad_date`` - ordered_at that is no date ("2024-13-45", "yesterday"...).
* ``orders_unknown_customer`` - a customer_id that is not in customers.
* ``orders_duplicate_order_id`` - a clean row's order_id with a different amount and quantity.

Kinds planted in ``customers``: ``customers_duplicate_row``, ``customers_missing_customer_id``,
``customers_bad_signup_at``.  Orders never reference the bad customer rows.

With dirty rows present, ``ordered_at`` and ``signup_at`` are text columns (they must
hold the unparseable values); clean rows keep their canonical text form.

Examples
--------
>>> split_evenly(10, 3)
[4, 3, 3]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .pii import labels, padded_ids

ORDER_KINDS = (
    "orders_missing_customer_id",
    "orders_negative_amount",
    "orders_missing_amount",
    "orders_duplicate_row",
    "orders_bad_date",
    "orders_unknown_customer",
    "orders_duplicate_order_id",
)
CUSTOMER_KINDS = ("customers_duplicate_row", "customers_missing_customer_id", "customers_bad_signup_at")
DIRTY_KINDS = ORDER_KINDS + CUSTOMER_KINDS
BAD_DATES = ("2024-13-45", "yesterday", "2024-02-30 25:61:00", "not a date", "31/31/2024")
_COPIES = {"orders_duplicate_row", "orders_duplicate_order_id"}  # keep the source row's order_id
_EMAIL_PREFIX = {"customers_missing_customer_id": "noid.", "customers_bad_signup_at": "baddate."}


def split_evenly(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` counts that differ by at most one."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _insert(clean: pa.Table, bad: pa.Table, before: np.ndarray) -> pa.Table:
    """Insert ``bad`` rows before the clean rows numbered ``before`` (``n`` appends)."""
    n = clean.num_rows
    key = np.concatenate([2 * np.arange(n) + 1, 2 * np.asarray(before)])
    return pa.concat_tables([clean, bad]).take(pa.array(np.argsort(key, kind="stable")))


def _positions(rng: np.random.Generator, src: np.ndarray, n: int, after_source: bool) -> np.ndarray:
    """Where bad rows go: anywhere, or (for copies of a clean row) somewhere after it.

    Copies come after their source so that "keep the first, quarantine the rest"
    quarantines exactly the planted row.
    """
    if after_source:
        return rng.integers(src + 1, n + 1)
    return rng.integers(0, n + 1, len(src))


def dirty_orders(
    rng: np.random.Generator, orders: pa.Table, fraction: float, next_number: int, n_total: int, width: int
) -> tuple[pa.Table, dict[str, int]]:
    """Add about ``fraction * len(orders)`` bad rows (at least one of each kind).

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's generator for dirt (separate from the clean simulation's).
    orders : pyarrow.Table
        Clean orders of one chunk, ``ordered_at`` as a timestamp.
    fraction : float
        Bad rows to add, as a fraction of the clean rows.
    next_number : int
        First unused global order number, for the bad rows that get a new order_id.
    n_total : int
        Customers in the shop; unknown customer ids are numbered above it.
    width : int
        Digits of customer ids.

    Returns
    -------
    (pyarrow.Table, dict of str to int)
        Orders with bad rows inserted and ``ordered_at`` as text; rows added per kind.
    """
    text = pc.strftime(orders["ordered_at"], format="%Y-%m-%d %H:%M:%S")
    base = _set(orders, "ordered_at", text)
    counts = dict(
        zip(
            ORDER_KINDS,
            split_evenly(max(len(ORDER_KINDS), round(fraction * orders.num_rows)), len(ORDER_KINDS)),
            strict=True,
        )
    )
    pieces, where = [], []
    for kind, k in counts.items():
        src = rng.choice(orders.num_rows, min(k, orders.num_rows), replace=False)
        k = counts[kind] = len(src)
        rows = base.take(pa.array(src))
        where.append(_positions(rng, src, orders.num_rows, after_source=kind in _COPIES))
        numbers = next_number + np.arange(k)
        if kind not in _COPIES:
            rows = _set(rows, "order_id", padded_ids("O", numbers + 1, 9))
            next_number += k
        if kind == "orders_missing_customer_id":
            rows = _set(rows, "customer_id", pa.nulls(k, pa.string()))
        elif kind == "orders_negative_amount":
            # a negative amount is only wrong on a sale: returns may carry one
            rows = _set(rows, "amount", pc.negate(rows["amount"]))
            rows = _set(rows, "returned", pa.array(np.zeros(k, dtype=bool)))
        elif kind == "orders_missing_amount":
            rows = _set(rows, "amount", pa.nulls(k, pa.float64()))
        elif kind == "orders_bad_date":
            rows = _set(rows, "ordered_at", labels(BAD_DATES, rng.integers(0, len(BAD_DATES), k)))
        elif kind == "orders_unknown_customer":
            # Odd offsets above n_total: never a real customer, never a bad customer row (even).
            rows = _set(rows, "customer_id", padded_ids("C", n_total + 1 + 2 * numbers, width))
        elif kind == "orders_duplicate_order_id":
            amount = np.round(rows["amount"].to_numpy() * rng.uniform(1.1, 2.0, k), 2)
            rows = _set(rows, "amount", pa.array(amount))
            rows = _set(rows, "quantity", pc.add(rows["quantity"], 1))
        pieces.append(rows)
    return _insert(base, pa.concat_tables(pieces), np.concatenate(where)), counts


def dirty_customers(
    rng: np.random.Generator, customers: pa.Table, fraction: float, first: int, n_total: int, width: int
) -> tuple[pa.Table, dict[str, int]]:
    """Add a few bad customer rows (``fraction / 20`` of the rows per kind, at least one).

    Returns
    -------
    (pyarrow.Table, dict of str to int)
        Customers with bad rows inserted and ``signup_at`` as text; rows added per kind.
    """
    n = customers.num_rows
    base = _set(customers, "signup_at", pc.strftime(customers["signup_at"], format="%Y-%m-%d"))
    per_kind = max(1, round(fraction * n / 20))
    counts = dict.fromkeys(CUSTOMER_KINDS, per_kind)
    pieces, where = [], []
    for kind in CUSTOMER_KINDS:
        src = rng.choice(n, min(per_kind, n), replace=False)
        counts[kind] = len(src)
        rows = base.take(pa.array(src))
        where.append(_positions(rng, src, n, after_source=kind == "customers_duplicate_row"))
        # A fresh e-mail keeps each bad row bad in one way only (no duplicate e-mail too).
        email = pc.binary_join_element_wise(
            padded_ids(_EMAIL_PREFIX.get(kind, "dup."), first + src + 1, width), "@example.com", ""
        )
        if kind == "customers_missing_customer_id":
            rows = _set(_set(rows, "customer_id", pa.nulls(len(src), pa.string())), "email", email)
        elif kind == "customers_bad_signup_at":
            rows = _set(rows, "customer_id", padded_ids("C", n_total + 2 + 2 * (first + src), width))
            rows = _set(rows, "email", email)
            rows = _set(rows, "signup_at", labels(BAD_DATES, rng.integers(0, len(BAD_DATES), len(src))))
        pieces.append(rows)
    return _insert(base, pa.concat_tables(pieces), np.concatenate(where)), counts
