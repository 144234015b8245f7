"""Mask personal data inside free text: e-mail addresses, phone numbers and names.

Survey answers and feedback are sentences, so the column-level PII policy (hash the whole column)
does not fit them: it would destroy the text, while leaving it would store an address typed into a
comment. Ingest therefore rewrites the ``answer`` column of ``responses`` with :func:`mask_expr`
before the PII scan, so nothing personal is stored, embedded or shown:

* e-mail addresses become ``[email]``;
* phone numbers (9 to 15 digits, with optional ``+`` and up to two spaces, dots, dashes or brackets
  between them) become ``[phone]``; dates and prices have fewer digits and stay;
* names become ``[name]`` where the text introduces one: after "my name is", "I'm called", a
  title (Mr, Mrs, Ms, Miss, Dr) or a sign-off ("Thanks,", "Regards,", "Cheers,", "Best wishes,"...),
  one or two capitalised words.

The same regular expressions run in the engine (:func:`mask_expr`, RE2) and in Python (:func:`mask`).

Examples
--------
>>> mask("Late again. Call me on 07700 900123 or jane.doe@example.com. Thanks, Jane Doe")
'Late again. Call me on [phone] or [email]. Thanks, [name]'
>>> mask("My name is Sarah Johnson, order of 2024-01-02 for 12.50")
'My name is [name], order of 2024-01-02 for 12.50'
>>> mask("I am happy to pay more for quality")
'I am happy to pay more for quality'
"""

from __future__ import annotations

import re

import ibis.expr.types as ir

__all__ = ["mask", "mask_expr", "RULES"]

_INTRO = (r"(?i:my name is|my name's|i'm called|i am called|thanks|thank you|regards|kind regards|best regards|"
          r"best wishes|cheers|sincerely|yours|mr\.?|mrs\.?|ms\.?|miss|dr\.?)")
#: (pattern, replacement) in order; the same text for RE2 (DuckDB) and Python's re.
RULES: list[tuple[str, str]] = [
    (r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "[email]"),
    (r"(?:\+|\b)(?:\d[ .()\-]{0,2}){8,14}\d\b", "[phone]"),
    (r"\b(" + _INTRO + r",?)\s+[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?", r"\1 [name]"),
]
_COMPILED = [(re.compile(p), r) for p, r in RULES]


def mask(text: str | None) -> str | None:
    """``text`` with e-mails, phone numbers and introduced names masked (None stays None)."""
    if text is None:
        return None
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


def mask_expr(column: ir.StringValue) -> ir.StringValue:
    """The same masking as an Ibis expression (runs in the engine)."""
    for pattern, replacement in RULES:
        column = column.re_replace(pattern, replacement)
    return column
