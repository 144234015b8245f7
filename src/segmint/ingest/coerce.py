"""Map source columns onto a contract and turn text into typed values, as Ibis expressions.

Every conversion is a ``try_cast``-style expression: a value that does not convert
becomes null, and the checks in :mod:`segmint.ingest.checks` compare it with the text
it came from to tell "missing" from "unparseable". Nothing here is DuckDB SQL text.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt

from segmint.contracts import ENGINE_TYPES, Column, Contract
from segmint.errors import DataError, did_you_mean

TRUE_WORDS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_WORDS = ("false", "f", "no", "n", "0", "0.0")
_OFFSET = r"([+-]\d\d(:?\d\d)?|Z|UTC)$"


@dataclass(frozen=True)
class ParseOptions:
    """How to read values of one source."""

    timezone: str = "UTC"
    date_format: str | None = None
    decimal: str = "."


@dataclass
class ColumnPlan:
    """Which source column feeds each canonical column, and what else the source has."""

    mapping: dict[str, str]                       # canonical -> source
    extras: dict[str, str] = field(default_factory=dict)   # source -> attribute name (customers)
    ignored: list[str] = field(default_factory=list)


def normalise_name(name: str) -> str:
    """Lower-case, with runs of non-alphanumerics as one underscore.

    Examples
    --------
    >>> normalise_name("Customer ID")
    'customer_id'
    >>> normalise_name("  Loyalty-Tier ")
    'loyalty_tier'
    """
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


#: A column name segmint quotes back in an error: a word character first, then word characters, spaces
#: and a little punctuation (``Order Date``, ``amount (EUR)``, ``tier-2``), at most 64 characters. A
#: "header" outside it (``root:x:0:0:root:/root:/bin/bash`` from a symlink to /etc/passwd, a line of
#: binary, a sentence with an address in it) is file content, not a column name, and is never echoed.
_PLAUSIBLE_NAME = re.compile(r"\w[\w .()#%&+\-]{0,63}")
#: Names quoted at most in one message.
_SHOWN_NAMES = 20


def plausible_names(source_columns: list[str]) -> list[str]:
    """The source's column names that may be quoted back in an error (see :data:`_PLAUSIBLE_NAME`).

    Examples
    --------
    >>> plausible_names(["customer_id", "Order Date", "root:x:0:0:root:/root:/bin/bash", "a\\x00b"])
    ['customer_id', 'Order Date']
    """
    return [c for c in source_columns if _PLAUSIBLE_NAME.fullmatch(c)]


def describe_columns(source_columns: list[str]) -> str:
    """What an error says about a source's header, without echoing file content.

    Every name plausible: up to 20 of them, quoted. Otherwise only counts: a header with
    implausible names is most likely not a CSV of this contract at all (a wrong file, a
    symlink to a system file), and its first line must not be printed.

    Examples
    --------
    >>> describe_columns(["id", "email"])
    "2 columns: 'id', 'email'"
    >>> describe_columns(["root:x:0:0:root:/root:/bin/bash"])
    '1 column, none of which looks like a column name (is it the right file? not shown: segmint does not print file contents in errors)'
    """
    n = len(source_columns)
    count = f"{n:,} column{'s' if n != 1 else ''}"
    names = plausible_names(source_columns)
    if len(names) < n:
        which = "none" if not names else f"{n - len(names):,}"
        return (f"{count}, {which} of which looks like a column name (is it the right file? not shown: segmint "
                "does not print file contents in errors)")
    shown = ", ".join(repr(c) for c in names[:_SHOWN_NAMES])
    return f"{count}: {shown}" + (f" and {n - _SHOWN_NAMES:,} more" if n > _SHOWN_NAMES else "")


def plan_columns(contract: Contract, source_columns: list[str], mapping: dict[str, str],
                 source: str) -> ColumnPlan:
    """Match source columns to the contract: explicit mapping, then names, then aliases.

    Raises :class:`DataError` naming the source, the missing column, what exists and
    the ``--map`` fix when a required column has no match.
    """
    for canonical, src in mapping.items():
        if not contract.has(canonical):
            raise DataError(
                f"--map {canonical}={src}: {contract.table} has no column {canonical!r}; "
                f"{did_you_mean(canonical, contract.names)}"
            )
        if src not in source_columns:
            raise DataError(
                f"--map {canonical}={src}: {source} has no column {src!r}; "
                f"{did_you_mean(src, plausible_names(source_columns))} (the source has {describe_columns(source_columns)})"
            )
    plan = ColumnPlan(mapping=dict(mapping))
    by_norm = {normalise_name(c): c for c in source_columns if c not in mapping.values()}
    for col in contract.columns:
        if col.name in plan.mapping:
            continue
        for candidate in (col.name, *col.aliases):
            if candidate in by_norm:
                plan.mapping[col.name] = by_norm.pop(candidate)
                break
    missing = [c for c in contract.required_columns if c.name not in plan.mapping]
    if missing:
        parts = []
        for col in missing:
            names = plausible_names(list(by_norm.values()) or source_columns)
            hint = f"; {did_you_mean(col.name, names)}" if names else ""
            parts.append(f"{col.name!r} ({col.describe_checks()}{hint})")
        raise DataError(
            f"{source}: no column for required {contract.table} column(s) " + ", ".join(parts)
            + f". The source has {describe_columns(source_columns)}. "
            + "Fix: rename the column, or map it, e.g. --map "
            + f"{missing[0].name}=<source column> (or sources.{contract.table}.map in segmint.yaml)."
        )
    used = set(plan.mapping.values())
    for src in source_columns:
        if src in used:
            continue
        if contract.allow_extra:
            name = normalise_name(src) or "column"
            if name[0].isdigit():
                name = "c_" + name
            plan.extras[src] = name
        else:
            plan.ignored.append(src)
    return plan


def clean_text(value: ibis.StringValue) -> ibis.StringValue:
    """Trim; empty text and the usual spellings of "no value" become null."""
    return _trim_spaces(value).nullif("")


#: Control characters removed from stored text: C0 (NUL, BEL, ESC...) but tab, line feed and carriage
#: return, which quoted CSV fields may hold, and DEL. A NUL inside "Ho\x00me" makes a second, invisible
#: "Home" category, ends C strings early in the tools a segment is exported to, and ESC sequences
#: repaint a terminal that prints the value.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
#: A character that cleaning keeps: neither a space (trimmed) nor one of :data:`CONTROL_CHARACTERS`.
_STORED_TEXT = "[^ " + CONTROL_CHARACTERS[1:]


def has_stored_text(value: ibis.StringValue) -> ibis.BooleanValue:
    """Whether :func:`clean_stored_text` leaves any text: a character other than a space or a control
    character (:data:`CONTROL_CHARACTERS`). One search that stops at the first such character, where
    cleaning the value to test it rewrote every value (a sixth of staging a file, issue 16).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"v": ["A1", "  ", "\\x00 \\x1b", " \\tx", None]})
    >>> t.select(h=has_stored_text(t.v), c=clean_stored_text(t.v).notnull()).to_pandas().values.tolist()
    [[True, True], [False, False], [False, False], [True, True], [False, False]]
    """
    return value.re_search(_STORED_TEXT).fill_null(False)


def clean_stored_text(value: ibis.StringValue) -> ibis.StringValue:
    """:func:`clean_text` for a value stored as text (ids, categories, attributes): control characters
    (:data:`CONTROL_CHARACTERS`) removed first, so a value of only those becomes null.
    """
    return clean_text(value.re_replace(CONTROL_CHARACTERS, ""))


#: What cleaning can change in a row's values joined by line feeds: a space (the engine's TRIM removes the
#: Unicode space separators, ``\p{Zs}``) at the start or end of a value, or a control character anywhere.
_UNCLEAN = r"(^|\n)\p{Zs}|\p{Zs}(\n|$)|" + CONTROL_CHARACTERS


def needs_cleaning(values: list[ibis.StringValue]) -> ibis.BooleanValue:
    """Whether :func:`clean_text` or :func:`clean_stored_text` may change any of a row's ``values``
    (False: each is itself, or null when empty).

    One search over the row, where cleaning every value cost a trim per column and a replacement per
    text column: most of the conversions' time (issue 16). A line feed joins the values, so a space
    at either end of one is found; a value holding a line feed may be cleaned for nothing, never skipped.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"a": ["x", " x", "x", None], "b": ["y", "y", "y\\x00", None]})
    >>> t.select(n=needs_cleaning([t.a, t.b])).to_pandas().n.tolist()
    [False, True, True, False]
    """
    return ibis.literal("\n").join([v.cast("string") for v in values]).re_search(_UNCLEAN).fill_null(False)


def clean_if(unclean: ibis.BooleanValue, value: ibis.StringValue, stored: bool = False) -> ibis.StringValue:
    """:func:`clean_stored_text` (``stored``) or :func:`clean_text` of ``value``, computed only where
    ``unclean`` (:func:`needs_cleaning` of its row) says cleaning may change it; elsewhere empty text
    becomes null and the value is kept as it is, which is what cleaning would return."""
    full = clean_stored_text(value) if stored else clean_text(value)
    return ibis.ifelse(unclean, full, value.nullif(""))


def precision_lost(text: ibis.StringValue, column: Column, opts: ParseOptions) -> ibis.BooleanValue:
    """True where a decimal column's value is rounded to its 4 places by more than float noise.

    ``decimal(18, 4)`` keeps 4 decimal places: ``0.00001`` would be stored as 0 and
    ``12.34567`` as 12.3457. The text read as a float is compared with the stored
    decimal; a difference over 1e-9 of the value (at least 1e-9) is real precision,
    not the binary noise of a float written out (``0.30000000000000004``).
    """
    from dataclasses import replace

    exact = to_type(text, replace(column, type="float"), opts)
    stored = to_type(text, column, opts).cast("float64")
    tolerance = ibis.greatest(exact.abs(), ibis.literal(1.0)) * 1e-9
    lost = (exact.notnull() & stored.notnull() & ((exact - stored).abs() > tolerance)).fill_null(False)
    # Only text with more than 4 characters after its decimal mark, or an exponent, can hold more places than 4:
    # the rest skip both conversions (a tenth of staging a file, issue 16).
    mark = text.find("," if opts.decimal == "," else ".")
    maybe = ((mark >= 0) & (text.length() - mark > 5)) | text.contains("e") | text.contains("E")
    return ibis.ifelse(maybe.fill_null(False), lost, False)


@ibis.udf.scalar.builtin(name="trim")
def _trim_spaces(text: str) -> str:  # pragma: no cover - engine builtin
    """One-argument TRIM (spaces), which DuckDB and Spark both have.

    Ibis's ``strip()`` trims all whitespace with TRIM(x, chars), measured 3x slower in
    DuckDB; exports pad with spaces, rarely with tabs.
    """


def first_step(text: ibis.StringValue, column: Column, opts: ParseOptions) -> ibis.Value | None:
    """The part of :func:`to_type` that it reads more than once, to compute once per row (None: no such part).

    The direct conversion of a number (read both to test it and as the value), the lower-case text
    of a boolean (compared with both word lists). An engine computes an expression that a
    conditional repeats once per use; stored as a column of a subquery, once.
    """
    if column.type in ("decimal", "float", "integer") and opts.decimal != ",":
        return text.try_cast("float64" if column.type == "integer" else dt.dtype(ENGINE_TYPES[column.type]))
    if column.type == "boolean":
        return text.lower()
    return None


def to_type(text: ibis.StringValue, column: Column, opts: ParseOptions, first: ibis.Value | None = None
            ) -> ibis.Value:
    """Convert cleaned text to the column's type; unconvertible values become null.

    ``text`` should be a plain column (materialised :func:`clean_text`): conversions
    refer to it several times, and an inlined expression would be recomputed each time.
    ``first``: :func:`first_step` of ``text``, as a column, where the caller computed it.
    """
    kind = column.type
    if kind in ("string",):
        return text
    if kind == "json":
        return ibis.ifelse(text.try_cast("json").notnull(), text, ibis.null("string"))
    if kind == "boolean":
        low = first if first is not None else text.lower()
        return ibis.cases((low.isin(TRUE_WORDS), True), (low.isin(FALSE_WORDS), False),
                          else_=ibis.null("boolean"))
    if kind in ("decimal", "float", "integer"):
        target = dt.dtype(ENGINE_TYPES[kind])
        direct = first if first is not None else text.try_cast("float64" if kind == "integer" else target)
        # Only text that does not parse as it is pays for the clean-up regexes.
        num = text.re_replace(r"[£$€\s]", "")
        if opts.decimal == ",":
            num = num.re_replace(r"\.", "").re_replace(",", ".")
            direct = ibis.null(direct.type())  # "1.234" means 1234 here: always clean first
        else:
            # "1,234.50": drop thousands separators, but only where they really are ones
            thousands = num.re_search(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")
            num = ibis.ifelse(thousands, num.re_replace(",", ""), num)
        if kind == "integer":
            as_float = ibis.ifelse(direct.notnull(), direct, num.try_cast("float64"))
            # "% 1", not round(0): Ibis casts round(x, 0) to int64, which fails the load beyond 9.2e18
            whole = (as_float % 1.0 == 0) & (as_float.abs() < 9.2e18)
            # try_cast: the engine may compute the cast for values the condition excludes (9.3e18 failed the load)
            return ibis.ifelse(whole, as_float.try_cast("int64"), ibis.null("int64"))
        value = ibis.ifelse(direct.notnull(), direct, num.try_cast(target))
        if kind == "float":
            # "NaN" and "inf" parse as floats but are not values (decimals refuse them already)
            value = ibis.ifelse(value.isnan() | value.isinf(), ibis.null(target), value)
        return value
    if kind == "timestamp":
        return to_timestamp(text, opts)
    raise AssertionError(f"no conversion for {kind}")  # contracts only use the kinds above


def to_timestamp(text: ibis.StringValue, opts: ParseOptions) -> ibis.TimestampValue:
    """Parse text to a UTC timestamp (naive, UTC by convention).

    Text with an offset ("+02:00", "Z") is converted from that offset; text without
    one is read in ``opts.timezone``. With ``opts.date_format`` (strptime codes) the
    text is parsed with that format.
    """
    utc = dt.Timestamp(timezone="UTC")
    if opts.date_format:
        naive = _try_strptime(text, opts.date_format)
    else:
        naive = text.try_cast("timestamp")
    if opts.timezone == "UTC":
        local = naive
    else:
        # Re-read the wall-clock time in the configured zone; engines parse "<time> <zone>".
        stamp = naive.strftime("%Y-%m-%d %H:%M:%S.%f") + f" {opts.timezone}"
        local = stamp.try_cast(utc).cast("timestamp")
    if opts.date_format:
        return local
    # Only text longer than "YYYY-MM-DD HH:MM:SS" can carry an offset; skip the regex otherwise.
    with_offset = (text.length() > 19) & text.re_search(_OFFSET)
    return ibis.ifelse(with_offset, text.try_cast(utc).cast("timestamp"), local)


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime_builtin(text: str, fmt: str) -> datetime.datetime:  # pragma: no cover - engine builtin
    """DuckDB's non-failing strptime."""


def _try_strptime(text: ibis.StringValue, fmt: str) -> ibis.TimestampValue:
    return _try_strptime_builtin(text, ibis.literal(fmt)).cast("timestamp")
