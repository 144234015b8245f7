"""Ingest one source into one canonical table: stage, pseudonymise, type, check, write.

The steps, all in the engine:

1. stage the source as text (:mod:`segmint.ingest.stage`); reader rejects are kept;
2. find personal data by column name and by value, and replace it by keyed pseudonyms, drop it,
   or refuse the load (:mod:`segmint.ingest.pii_stage`), so raw PII never reaches the store,
   not even the quarantine;
3. convert text to typed columns and run the contract's checks (reason codes);
4. find exact duplicates and repeated keys within the source, and unknown customers;
5. compare with what the store holds: new, updated, or already present;
6. write accepted rows, quarantined rows and the run record in one transaction.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pyarrow as pa

from segmint.config import PlausibleDates
from segmint.contracts import CONTRACTS, ENGINE_TYPES, Contract, contract
from segmint.errors import DataError
from segmint.ingest import checks, coerce, lineitems, stage
from segmint.ingest.report import IngestReport
# The writing steps live in ingest.write, shared with ingest.lineitems; imported by name here, so
# that tests can replace one of them on this module (as before they moved).
from segmint.ingest.write import MODES, finalize_reasons, quarantine_rows, record_run, write_accepted
from segmint.store import Store


@dataclass
class IngestOptions:
    """Everything that says how to read one source."""

    mapping: dict[str, str] = field(default_factory=dict)
    parse: coerce.ParseOptions = field(default_factory=coerce.ParseOptions)
    line_items: bool = False
    return_prefix: str | None = None
    customer_attributes: dict[str, str] = field(default_factory=dict)  # attribute -> source column
    fmt: str | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    pii_policy: dict[str, str] = field(default_factory=dict)
    detect_pii: bool = True
    default_country_code: str = "44"
    #: times outside ``[first, end)`` are quarantined as implausible_date (ingest.plausible_dates)
    plausible_dates: tuple[datetime.datetime, datetime.datetime] = field(
        default_factory=lambda: PlausibleDates().bounds())
    #: how accepted rows are written: upsert (default), append or replace (see :func:`write.write_accepted`)
    mode: str = "upsert"
    #: called with the name of each step as it starts, and with the rows read once they are known
    progress: Callable[[str, int | None], None] | None = None
    #: called with the store inside the ingest's transaction, after the rows are written (a SQL source's mark)
    on_commit: Callable[[Store], None] | None = None


def ingest(store: Store, table: str, source, options: IngestOptions, key: bytes | None = None,
           source_name: str | None = None) -> IngestReport:
    """Ingest ``source`` (a path, a DataFrame or an Arrow table) into ``table``."""
    started = time.perf_counter()
    con = store.con
    if table not in {"customers", "orders", "events", "responses", "prospects"}:
        contract(table)  # unknown name: raises with a suggestion
        raise DataError(f"{table} is filled through `ingest orders --line-items`, not directly")
    if options.line_items and table != "orders":
        raise DataError("--line-items applies to orders only")
    if options.mode not in MODES:
        raise DataError(f"--mode {options.mode!r}: use one of {', '.join(MODES)}")
    if options.line_items and options.mode != "upsert":
        raise DataError(f"--mode {options.mode} does not apply to line items, which are always upserted (an "
                        "invoice's lines are summed into its order); leave --mode out")
    with store.writer(f"ingest into {table}"):
        return _ingest(store, table, source, options, key, source_name, started)


def _ingest(store: Store, table: str, source, options: IngestOptions, key: bytes | None, source_name: str | None,
            started: float) -> IngestReport:
    con = store.con
    step = options.progress or (lambda name, rows=None: None)
    target = CONTRACTS["order_items"] if options.line_items else CONTRACTS[table]
    planned: dict[str, coerce.ColumnPlan] = {}

    def derive(src: ibis.Table, columns: list[str], source: str) -> ibis.Table:
        """Plan the columns (errors before any row is read), then ``src`` with the conversions and checks staged
        with the text."""
        if "plan" not in planned:
            planned["plan"] = _plan(table, target, columns, options, source)
        return _conversions(src, columns, target, planned["plan"], options)

    step("reading", None)
    staged = _stage(store, source, options, source_name, derive)
    try:
        plan = planned["plan"]
        report = IngestReport(table=table, source=staged.source, ingest_id=uuid.uuid4().hex[:12], mode=options.mode)
        report.mapping = dict(plan.mapping)
        report.ignored_columns = list(plan.ignored)
        report.attribute_columns = list(plan.extras.values())
        if table == "responses":
            _mask_free_text(con, staged, plan, report, derive)
        step("personal data", staged.rows(con))
        _pseudonymise(store, staged, plan, options, key, report, derive)
        typed = _typed(con, staged, target, plan, options)
        step("checking", None)
        if options.line_items:
            lineitems.finish(store, typed, staged, plan, options, report)
        else:
            _finish(store, typed, staged, target, plan, report, options.mode, step, options.on_commit)
    finally:
        stage.drop_staged(con, staged)
    report.seconds = round(time.perf_counter() - started, 3)
    if not report.balanced:  # an internal invariant; a failure here is a bug, never silent loss
        raise AssertionError(f"ingest lost rows: {report.to_dict()}")
    return report


def _plan(table: str, target: Contract, columns: list[str], options: IngestOptions, source: str) -> coerce.ColumnPlan:
    plan = coerce.plan_columns(target, columns, options.mapping, source)
    for attr, col in options.customer_attributes.items():
        if col not in columns:
            raise DataError(f"{source}: no column {col!r} for customer attribute {attr!r}")
        plan.ignored = [c for c in plan.ignored if c != col]
    if len(plan.extras) > stage.MAX_ATTRIBUTE_COLUMNS:
        raise DataError(
            f"{source}: {len(plan.extras):,} extra columns would become {table} attributes; segmint "
            f"takes at most {stage.MAX_ATTRIBUTE_COLUMNS:,} from one source (each is a column of the store and of "
            f"every check). Keep the ones you need in a copy of the source. Nothing was written.")
    return plan


def _stage(store: Store, source, options: IngestOptions, source_name: str | None, derive) -> stage.Staged:
    if isinstance(source, (str, Path)):
        staged = stage.stage_file(store, source, options.fmt, options.delimiter, options.encoding, derive=derive)
    elif isinstance(source, Iterator):
        staged = stage.stage_batches(store, source, source_name or "batches", derive=derive)
    else:
        staged = stage.stage_frame(store, source, source_name or "frame", derive=derive)
    if source_name:
        staged.source = source_name
    return staged


def _mask_free_text(con, staged: stage.Staged, plan: coerce.ColumnPlan, report: IngestReport, derive) -> None:
    """Mask e-mails, phone numbers and names inside survey answers (free text) before anything else sees them."""
    from segmint.text.mask import mask_expr

    column = plan.mapping.get("answer")
    if column is None or column not in staged.columns:
        return
    t = staged.table(con).select("_rec", *staged.columns)
    name = staged.name + "_masked"
    # the conversions and checks staged with the text are computed again from the masked text
    con.create_table(name, derive(t.mutate(**{column: mask_expr(t[column].cast("string"))}), staged.columns,
                                  staged.source), temp=True)
    stage.drop_staged(con, staged)  # the unmasked text goes as soon as its masked copy exists
    staged.name = name
    staged.temporaries = [name]
    report.pii[column] = "masked"  # names, e-mails and phones in the text; the scan below may add more


def _pseudonymise(store: Store, staged: stage.Staged, plan: coerce.ColumnPlan, options: IngestOptions,
                  key: bytes | None, report: IngestReport, derive) -> None:
    """Hash or drop personal-data columns of the staged table, or refuse the load.

    With personal data, the staged table is rebuilt from the pseudonymised text (and its
    conversions recomputed from it); the raw text is dropped at once.
    """
    from segmint.ingest import pii_stage

    con = store.con
    t = staged.table(con).select("_rec", *staged.columns)
    findings = pii_stage.find(t, staged.columns) if options.detect_pii else {}
    decisions = pii_stage.decide(findings, options.pii_policy, staged.columns, plan.ignored)
    refused = [d for d in decisions.values() if d.action == "refuse"]
    if refused:
        raise pii_stage.refusal(staged.source, refused)
    report.pii = {**report.pii, **{c: pii_stage.DONE[d.action] for c, d in decisions.items()}}
    report.pii_found = {c: d.to_dict() for c, d in decisions.items()}
    new = pii_stage.apply(con, t, decisions, key, options.default_country_code)
    if new is None:
        return
    name = staged.name + "_pii"
    dropped = {c for c, d in decisions.items() if d.action == "drop"}
    columns = [c for c in staged.columns if c not in dropped]
    con.create_table(name, derive(new, columns, staged.source), temp=True)
    stage.drop_staged(con, staged)  # the raw text goes as soon as its pseudonymised copy exists
    staged.name = name
    staged.temporaries = [name]
    staged.columns = columns
    for c in dropped:
        plan.extras.pop(c, None)
        plan.ignored = [x for x in plan.ignored if x != c]
        plan.mapping = {k: v for k, v in plan.mapping.items() if v != c}
    staged.had_pii = True


#: Prefix of the columns computed while staging (conversions, cleaned text, reasons, the row hash).
DERIVED = "_seg_"


def _conversions(src: ibis.Table, columns: list[str], target: Contract, plan: coerce.ColumnPlan,
                 options: IngestOptions) -> ibis.Table:
    """``src`` with everything the checks and the write read, computed in the pass that stages it.

    Stored: the cleaned value of each text column (``_seg_c_<col>``), the typed value of each
    other column (``_seg_t_<col>``), whether it had text (``_seg_has_<col>``), decimals' lost
    precision (``_seg_lost_<col>``), a hash of the whole source row (``_seg_h``, for exact
    duplicates), each row's reasons (``_seg_reasons``, "" when it passes) and a hash of its key
    (``_seg_kh``). Every later pass (duplicates, keys, the write, the quarantine) reads these
    columns, where each of them used to recompute cleaning, conversions and checks (issue 16).

    Computed in levels, subqueries that ``view()`` keeps apart: whether the row needs cleaning at
    all (one search, :func:`coerce.needs_cleaning`), then the cleaned text, then the first step of
    each conversion (:func:`coerce.first_step`), then the values, then the reasons. Merged into one
    expression, each use of a step inside a conditional would compute it again.
    """
    provided = _converted(target, plan, columns)
    # typed source columns (Parquet's) read directly where their values allow it (_typed_value); the others
    # (``converted``) through their text
    direct = {col.name for col in provided if _typed_value(src[plan.mapping[col.name]], col, options.parse)}
    converted = [col for col in provided if col.name not in direct]
    row, unclean = f"{DERIVED}row", f"{DERIVED}unclean"
    # the source row's text values joined by line feeds: searched once for anything cleaning would change, and
    # hashed with the typed ones for exact duplicates (a row whose hash repeats is compared with the others
    # column by column, so values that join alike, such as a null and an empty text, are told apart there)
    texts = [c for c in columns if src[c].type().is_string()]
    typed = [c for c in columns if c not in texts]
    t = src.mutate(**{row: ibis.literal("\n").join([src[c] for c in texts]) if texts else ibis.literal("")}).view()
    mapped = [t[plan.mapping[col.name]] for col in converted]
    whole = ibis.struct({row: t[row], **{c: t[c] for c in typed}}) if typed else t[row]
    t = t.mutate(**{unclean: coerce.needs_cleaning(mapped) if mapped else ibis.literal(False),
                    f"{DERIVED}h": whole.hash()}).view()
    text = {col.name: f"{DERIVED}x_{col.name}" for col in converted}
    t = t.mutate(**{text[col.name]: coerce.clean_if(t[unclean], t[plan.mapping[col.name]].cast("string"),
                                                    stored=col.type == "string") for col in converted}).view()
    first: dict[str, str] = {}
    step: dict[str, ibis.Value] = {}
    cleaned: dict[str, str] = {}
    for col in converted:
        if col.type == "string":
            cleaned[col.name] = f"{DERIVED}s_{col.name}"
            step[cleaned[col.name]] = _identity(t[text[col.name]], col)
            continue
        expr = coerce.first_step(t[text[col.name]], col, options.parse)
        if expr is not None:
            first[col.name] = f"{DERIVED}p_{col.name}"
            step[first[col.name]] = expr
    t = t.mutate(**step).view()
    out: dict[str, ibis.Value] = {}
    for col in converted:
        if col.type == "string":
            # The cleaned text is stored only where it differs from the source's (``_seg_d_<col>``), which holds
            # the value everywhere else: a second copy of every id and category would double what staging
            # keeps in memory. "missing" is whether the value is null.
            source, value = t[plan.mapping[col.name]].cast("string"), t[cleaned[col.name]]
            differs = ~value.identical_to(source)
            out[f"{DERIVED}d_{col.name}"] = differs
            out[f"{DERIVED}c_{col.name}"] = ibis.ifelse(differs, value, ibis.null("string"))
            continue
        x = t[text[col.name]]
        out[f"{DERIVED}t_{col.name}"] = coerce.to_type(x, col, options.parse,
                                                       t[first[col.name]] if col.name in first else None)
        if col.type == "decimal":  # issue 15: more places than decimal(18, 4) keeps go to quarantine
            out[f"{DERIVED}lost_{col.name}"] = coerce.precision_lost(x, col, options.parse)
        out[f"{DERIVED}has_{col.name}"] = x.notnull()  # "missing" and "unparseable" need to know there was text
    for col in provided:
        if col.name not in direct:
            continue
        value, lost = _typed_value(t[plan.mapping[col.name]], col, options.parse)
        out[f"{DERIVED}t_{col.name}"] = value
        if lost is not None:
            out[f"{DERIVED}lost_{col.name}"] = lost
        out[f"{DERIVED}has_{col.name}"] = t[plan.mapping[col.name]].notnull()  # a typed value always has text
    t = t.mutate(**out).view()
    values = {col.name: _value(t, col, plan) for col in provided}
    reasons: list[ibis.Value] = []
    for col in provided:
        flag = f"{DERIVED}has_{col.name}"
        has = t[flag] if flag in t.columns else values[col.name].notnull()
        reasons.extend(checks.column_reasons(col, has, values[col.name]))
        lost = f"{DERIVED}lost_{col.name}"
        if lost in t.columns:  # issue 15: 0.00001 must not become 0.0000 silently
            reasons.append(checks.reason_for(t[lost], f"too_precise_{col.name}"))
        if col.type == "timestamp":
            reasons.append(checks.implausible_date(values[col.name], options.plausible_dates))
    if target.table == "orders" and "amount" in values:
        returned = values["returned"].fill_null(False) if "returned" in values else ibis.literal(False)
        reasons.append(checks.reason((values["amount"] < 0) & ~returned, "negative_amount"))
    extra = {f"{DERIVED}reasons": checks.collect(reasons)}
    key = [k for k in target.key if k in values]
    if key:
        extra[f"{DERIVED}kh"] = ibis.struct({k: values[k] for k in key}).hash()
    # only what later passes read is stored: the presence and precision flags served the reasons alone
    flags = [c for c in t.columns if c.startswith((f"{DERIVED}has_", f"{DERIVED}lost_"))]
    return t.mutate(**extra).drop(row, unclean, *text.values(), *first.values(), *cleaned.values(), *flags)


#: Below these magnitudes a double's shortest text has at most 4 decimal places when it equals its rounding
#: to 4, and integers are exact in a double (2**53); checked against the text route on 900,000 values.
_DIRECT_DECIMAL_BOUND = 1e9
_EXACT_INTEGER_BOUND = 2**53


def _typed_value(v: ibis.Value, col, opts: coerce.ParseOptions) -> tuple[ibis.Value, ibis.Value | None] | None:
    """A typed source column's value for contract column ``col`` read directly, and decimals' lost
    precision: ``(value, lost)``; None where the column is text or the route is not covered here.

    Staging used to cast a Parquet file's numbers and times to text and parse them back (issue 16).
    Read directly, a value must be what the text route makes of the engine's text of it, so each
    case below covers the values where the two provably agree (tests/ingest/test_staged_checks.py
    compares them) and hands the others to the text route itself, computed for those rows only:
    integers beyond 2**53 (the text route reads numbers as doubles), doubles with more than 4 places
    or beyond 1e9, NaN and infinities, years outside 1-9999. Other parse options (a decimal comma, a
    time zone, a date format) take the text route for every value.
    """
    dtype = v.type()
    if dtype.is_string() or opts.decimal == ",":
        return None
    kind = col.type

    def text_route():
        x = coerce.clean_text(v.cast("string"))
        return x, coerce.to_type(x, col, opts)

    def either(fast: ibis.BooleanValue, value: ibis.Value) -> ibis.Value:
        return ibis.ifelse(fast.fill_null(True), value, text_route()[1])

    double = dtype.is_floating() and dtype.nbytes == 8
    integer = dtype.is_integer()
    exact = v.between(-_EXACT_INTEGER_BOUND, _EXACT_INTEGER_BOUND) if integer else None
    if kind == "boolean" and dtype.is_boolean():
        return v, None
    if kind == "integer" and integer:
        return either(exact, v.cast("int64")), None
    if kind == "integer" and double:  # the text route's own formula on the double it would parse
        whole = (v % 1.0 == 0) & (v.abs() < 9.2e18)
        return ibis.ifelse(whole, v.try_cast("int64"), ibis.null("int64")), None
    if kind == "float" and integer:
        return either(exact, v.cast("float64")), None
    if kind == "float" and double:
        return either(~v.isnan() & ~v.isinf(), v), None
    if kind == "decimal":
        target = ENGINE_TYPES["decimal"]
        if integer:
            fast = v.between(-10**13, 10**13)
        elif double:
            fast = ~v.isnan() & ~v.isinf() & (v.abs() < _DIRECT_DECIMAL_BOUND) & (v.round(4) == v)
        elif dtype.is_decimal() and dtype.scale is not None and dtype.precision is not None \
                and dtype.scale <= 4 and dtype.precision - dtype.scale <= 13:
            fast = ibis.literal(True)
        else:
            return None
        x = coerce.clean_text(v.cast("string"))
        lost = ibis.ifelse(fast.fill_null(True), False, coerce.precision_lost(x, col, opts))
        return either(fast, v.cast(target)), lost
    if kind == "timestamp" and dtype.is_timestamp() and opts.timezone == "UTC" and not opts.date_format:
        first = ibis.timestamp("0001-01-01 00:00:00")
        end = ibis.timestamp("9999-12-31 23:59:59")
        return either((v >= first) & (v <= end), v), None
    return None


def _converted(target: Contract, plan: coerce.ColumnPlan, columns: list[str]) -> list:
    """The contract's columns that the source provides (mapped to one of ``columns``)."""
    return [c for c in target.columns if c.name in plan.mapping and plan.mapping[c.name] in columns]


def _value(t: ibis.Table, col, plan: coerce.ColumnPlan) -> ibis.Value:
    """A contract column's stored value in the staged table: cleaned text (the source's text where cleaning did
    not change it) or typed value."""
    if col.type == "string":
        return ibis.ifelse(t[f"{DERIVED}d_{col.name}"], t[f"{DERIVED}c_{col.name}"],
                           t[plan.mapping[col.name]].cast("string"))
    return t[f"{DERIVED}t_{col.name}"]


def _identity(text: ibis.StringValue, col) -> ibis.StringValue:
    """Cleaned text as stored: an id written as a float ("17850.0") is the id ("17850")."""
    if col.tag == "identity":
        # ids exported from spreadsheets arrive as floats ("17850.0"); an extract, not a replacement with a
        # backreference: Spark's (Java's) replacement reads "\1" as a literal 1, turning every such id into "1"
        whole = r"^(\d+)\.0+$"
        text = ibis.ifelse(text.endswith("0") & text.re_search(whole), text.re_extract(whole, 1), text)
    return text


def _typed(con, staged: stage.Staged, target: Contract, plan: coerce.ColumnPlan,
           options: IngestOptions) -> ibis.Table:
    """Typed columns, their reasons, the row's hash (``_h``) and its key's (``_kh``): a selection of the
    columns computed while staging (:func:`_conversions`), so that no pass recomputes them.

    Attribute columns (customers, and the customer attributes of line items) are cleaned here,
    inline: a source may bring a thousand of them, and they are read by the write alone.
    """
    t = staged.table(con)
    cols: dict[str, ibis.Value] = {"_rec": t._rec}
    for col in _converted(target, plan, staged.columns):
        cols[col.name] = _value(t, col, plan)
    for src, attr in plan.extras.items():
        cols[attr] = coerce.clean_stored_text(t[src].cast("string"))
    for attr, src in options.customer_attributes.items():
        cols[f"_attr_{attr}"] = coerce.clean_stored_text(t[src].cast("string"))
    cols["_h"] = t[f"{DERIVED}h"]
    if f"{DERIVED}kh" in t.columns:
        cols["_kh"] = t[f"{DERIVED}kh"]
    return t.select(**cols, _reasons=t[f"{DERIVED}reasons"])


def _finish(store: Store, typed: ibis.Table, staged: stage.Staged, target: Contract,
            plan: coerce.ColumnPlan, report: IngestReport, mode: str = "upsert",
            step: Callable[[str, int | None], None] | None = None,
            on_commit: Callable[[Store], None] | None = None) -> None:
    checked = finalize_reasons(store, typed, target, staged)
    good = checked.filter(checks.passes(checked._reasons))
    provided = [c for c in target.names if c in plan.mapping]
    extras = list(plan.extras.values())
    if step:
        step("writing", None)
    with store.transaction():
        if extras:
            store.add_columns(target.table, _extra_types(good, extras))
        refused = write_accepted(store, target, good.select("_rec", *provided, *extras), provided + extras,
                                 staged.source, report, mode)
        quarantine_rows(store, checked, staged, report, refused)
        record_run(store, report)
        if on_commit is not None:
            on_commit(store)
    report.rows_read = report.rows_accepted + report.rows_quarantined


def _extra_types(good: ibis.Table, extras: list[str]) -> dict[str, str]:
    """Numeric-looking attribute columns are stored as numbers, the rest as text."""
    aggs = {}
    for c in extras:
        aggs[f"n_{c}"] = good[c].count()
        aggs[f"num_{c}"] = good[c].try_cast("float64").count()
    stats = good.aggregate(**aggs).execute().iloc[0] if extras else {}
    return {c: ("float64" if stats[f"n_{c}"] > 0 and stats[f"num_{c}"] == stats[f"n_{c}"] else "string")
            for c in extras}

