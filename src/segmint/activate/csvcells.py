"""Neutralise spreadsheet formulas in the CSV files segmint writes (CSV injection).

A spreadsheet opening a CSV runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)`` to leak data, ``+cmd|...`` to run a program), and a leading tab
or carriage return hides such a prefix from a naive check. Customer ids, attributes and
segment names come from source files and people, so every CSV segmint writes passes its
text cells, and its header, through :func:`neutralise_batch`, which follows OWASP's advice:
a single quote in front of such a cell, so the spreadsheet shows it as text.

Only text is touched. Numbers in numeric columns are written as they are (``-12.5`` is a
number, not a formula), and so is a text cell that is a plain number (``"-12.5"``, ``"+44"``):
a spreadsheet reads it as a number, which runs nothing. Machine consumers that need the
exact bytes turn it off (``segmint members --raw-csv``, the API's ``raw_csv=true``, or
``exports: {neutralise_formulas: false}`` in segmint.yaml).

Examples
--------
>>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("@SUM(A1)"), neutralise("C42"), neutralise("-12.5")
('\\'=HYPERLINK("http://x")', "'@SUM(A1)", 'C42', '-12.5')
>>> import pyarrow as pa
>>> b = pa.record_batch({"customer_id": ["+cmd|' /C calc'!A0", "C2"], "spend": [-12.5, 3.0]})
>>> out = neutralise_batch(b)
>>> out.column(0).to_pylist(), out.column(1).to_pylist()
(["'+cmd|' /C calc'!A0", 'C2'], [-12.5, 3.0])
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FORMULA_PREFIXES", "neutralise", "neutralise_batch", "neutralise_names"]

#: The first characters that make a spreadsheet treat a cell as a formula (OWASP's list).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_DANGEROUS = r"^[=+\-@\t\r]"
#: A plain number (what a spreadsheet reads as a value, not a formula), left as it is.
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NUMBER_RE = re.compile(_NUMBER)


def neutralise(value: str) -> str:
    """``value`` with a leading single quote when a spreadsheet would run it as a formula."""
    if value[:1] in FORMULA_PREFIXES and not _NUMBER_RE.match(value):
        return "'" + value
    return value


def neutralise_names(names: list[str]) -> list[str]:
    """Column names (the CSV header) neutralised like cells: attribute names come from source files."""
    return [neutralise(n) for n in names]


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _text(arr: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(arr.type) and _is_text(arr.type.value_type):
        arr = arr.dictionary_decode()  # a categorical column: its values are text too
    if not _is_text(arr.type):
        return arr
    risky = pc.and_(pc.match_substring_regex(arr, _DANGEROUS),
                    pc.invert(pc.match_substring_regex(arr, _NUMBER)))
    if not pc.any(risky).as_py():  # the usual case: nothing to change, no copy
        return arr
    return pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'", arr.type), arr, ""), arr)


def neutralise_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with every text cell and column name that could run as a formula neutralised.

    Vectorised (Arrow compute, no Python loop over rows); numeric, date and boolean columns
    are returned unchanged.
    """
    columns = [_text(arr) for arr in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=neutralise_names(batch.schema.names))
