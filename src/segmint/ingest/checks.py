"""Row checks generated from the table contracts, and the catalogue of quarantine reasons.

Each check is an Ibis expression that yields a reason code, or null when the row
passes. A row is quarantined with every reason that applies, so a user fixing the
source sees all of a row's problems at once.

Examples
--------
>>> describe_reason("missing_customer_id")
'customer_id is empty'
>>> describe_reason("duplicate_row")
'an exact copy of an earlier row of the same source'
"""

from __future__ import annotations

import datetime

import ibis

from segmint.contracts import Column

#: Reasons that are not tied to one column.
ROW_REASONS: dict[str, str] = {
    "malformed_row": "the row could not be split into the header's columns (too few or too many fields)",
    "invalid_encoding": "the row is not valid UTF-8 text",
    "malformed_json": "the line is not one JSON object",
    "duplicate_row": "an exact copy of an earlier row of the same source",
    "duplicate_key": "same key as an earlier row of the same source, with different values",
    "unknown_customer": "customer_id is not in the customers table",
    "key_already_stored": "the key is already stored with other values, and --mode append never changes a stored "
                          "row (the default mode, upsert, updates it)",
    "erased": "the customer was erased (`segmint forget`); re-admit them with `segmint forget --readmit ID`",
    "negative_amount": "a negative amount on an order that is not a return",
    "non_positive_quantity": "quantity is zero or negative on a sale line",
    "non_positive_price": "unit price is zero or negative",
    "zero_quantity": "quantity is zero",
    "implausible_date": "a date outside the plausible range (ingest.plausible_dates in segmint.yaml; by default "
                        "1900-01-01 to a year from today), such as 9999-12-31 or 0001-01-01",
}

_COLUMN_REASONS = {
    "missing": "{col} is empty",
    "unparseable": "{col} could not be read as {type}",
    "out_of_range": "{col} is outside its allowed range",
    "not_accepted": "{col} is not one of the accepted values",
    "too_precise": "{col} has more than the 4 decimal places segmint keeps (decimal(18, 4)): it would be rounded, "
                   "0.00001 to 0; round it in the source (or scale the unit, e.g. cents)",
}


def describe_reason(code: str) -> str:
    """Plain-words description of a reason code."""
    if code in ROW_REASONS:
        return ROW_REASONS[code]
    for prefix, template in _COLUMN_REASONS.items():
        if code.startswith(prefix + "_"):
            col = code[len(prefix) + 1:]
            return template.format(col=col, type=_TYPE_WORDS.get(_column_type(col), "its type"))
    return code


_TYPE_WORDS = {"timestamp": "a date or time", "decimal": "a number", "integer": "a whole number",
               "float": "a number", "boolean": "true/false", "json": "a JSON object"}


def _column_type(name: str) -> str | None:
    from segmint.contracts import CONTRACTS

    for c in CONTRACTS.values():
        if c.has(name):
            return c.column(name).type
    return None


def _reason(cond: ibis.BooleanValue, code: str) -> ibis.StringValue:
    return ibis.ifelse(cond.fill_null(False), ibis.literal(code), ibis.null("string"))


def column_reasons(col: Column, present: ibis.BooleanValue, value: ibis.Value) -> list[ibis.StringValue]:
    """Checks for one column: present when required, parseable, in range, accepted.

    ``present`` says the source had text for the column; ``value`` is the typed value.
    """
    out = []
    if col.not_null:
        out.append(_reason(~present, f"missing_{col.name}"))
    if col.type not in ("string",):
        out.append(_reason(present & value.isnull(), f"unparseable_{col.name}"))
    if col.min is not None:
        out.append(_reason(value < col.min, f"out_of_range_{col.name}"))
    if col.max is not None:
        out.append(_reason(value > col.max, f"out_of_range_{col.name}"))
    if col.accepted:
        out.append(_reason(value.notnull() & ~value.isin(col.accepted), f"not_accepted_{col.name}"))
    return out


def implausible_date(value: ibis.TimestampValue, bounds: tuple[datetime.datetime, datetime.datetime]
                     ) -> ibis.StringValue:
    """``implausible_date`` where a parsed time lies outside ``[first, end)``.

    A year like 9999 or 0001 parses, but later breaks date arithmetic (the day after the
    last order, epoch seconds); rows carrying one are quarantined rather than stored.
    """
    first, end = (ibis.literal(b, type="timestamp") for b in bounds)
    return reason(value.notnull() & ((value < first) | (value >= end)), "implausible_date")


def reason_for(cond: ibis.BooleanValue, code: str) -> ibis.StringValue:
    """A column reason code (``too_precise_amount``...) where ``cond`` holds."""
    return _reason(cond, code)


def reason(cond: ibis.BooleanValue, code: str) -> ibis.StringValue:
    """A row-level check: ``code`` where ``cond`` holds (null counts as passing)."""
    if code not in ROW_REASONS:
        raise KeyError(f"undeclared reason code {code!r}")
    return _reason(cond, code)


def collect(reasons: list[ibis.StringValue]) -> ibis.StringValue:
    """The non-null reason codes of a row, comma-separated ("" when the row passes).

    A string rather than an array: engines join strings (``concat_ws`` skips nulls) far
    faster than they filter lists, and the quarantine stores the text anyway.
    """
    if not reasons:
        return ibis.literal("")
    return ibis.literal(",").join(reasons)


def combine(existing: ibis.StringValue, more: list[ibis.StringValue]) -> ibis.StringValue:
    """Add reason codes to a row's existing ones."""
    first = ibis.ifelse(existing == "", ibis.null("string"), existing)
    return collect([first, *more])


def passes(reasons: ibis.StringValue) -> ibis.BooleanValue:
    """The row has no reason to be quarantined."""
    return reasons == ""
