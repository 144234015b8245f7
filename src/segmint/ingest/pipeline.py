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
from segmint.contracts import CONTRACTS, Contract, contract
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

    def derive(src: ibis.Table, columns: list[str], source: str) -> dict[str, ibis.Value]:
        """Plan the columns (errors before any row is read), then the conversions staged with the text."""
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
            _mask_free_text(con, staged, plan, report)
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


def _mask_free_text(con, staged: stage.Staged, plan: coerce.ColumnPlan, report: IngestReport) -> None:
    """Mask e-mails, phone numbers and names inside survey answers (free text) before anything else sees them."""
    from segmint.text.mask import mask_expr

    column = plan.mapping.get("answer")
    if column is None or column not in staged.columns:
        return
    t = staged.table(con)
    name = staged.name + "_masked"
    con.create_table(name, t.mutate(**{column: mask_expr(t[column].cast("string"))}), temp=True)
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
    con.create_table(name, new.mutate(**derive(new, columns, staged.source)), temp=True)
    stage.drop_staged(con, staged)  # the raw text goes as soon as its pseudonymised copy exists
    staged.name = name
    staged.temporaries = [name]
    staged.columns = columns
    for c in dropped:
        plan.extras.pop(c, None)
        plan.ignored = [x for x in plan.ignored if x != c]
        plan.mapping = {k: v for k, v in plan.mapping.items() if v != c}
    staged.had_pii = True


#: Prefix of the columns computed while staging (conversions, "there was text", the row hash).
DERIVED = "_seg_"


def _conversions(src: ibis.Table, columns: list[str], target: Contract, plan: coerce.ColumnPlan,
                 options: IngestOptions) -> dict[str, ibis.Value]:
    """The conversions that are worth storing, computed in the same pass that stages the text.

    Typed values of non-text columns (``_seg_t_<col>``), whether a column had text
    (``_seg_has_<col>``) and a hash of the whole source row (``_seg_h``, for exact duplicates).
    Text columns are cleaned (trimmed) where they are read: cheaper than storing them twice.
    """
    out: dict[str, ibis.Value] = {}
    for col in target.columns:
        if col.name not in plan.mapping or plan.mapping[col.name] not in columns:
            continue
        if col.type == "string":
            if col.not_null:  # "missing" needs to know there was text; the text itself is cleaned where it is read
                out[f"{DERIVED}has_{col.name}"] = coerce.has_stored_text(src[plan.mapping[col.name]].cast("string"))
            continue
        text = _clean(src[plan.mapping[col.name]], col)
        out[f"{DERIVED}t_{col.name}"] = coerce.to_type(text, col, options.parse)
        if col.type == "decimal":  # issue 15: more places than decimal(18, 4) keeps go to quarantine
            out[f"{DERIVED}lost_{col.name}"] = coerce.precision_lost(text, col, options.parse)
        out[f"{DERIVED}has_{col.name}"] = text.notnull()  # "missing" and "unparseable" need to know there was text
    out[f"{DERIVED}h"] = ibis.struct({c: src[c] for c in columns}).hash()
    return out


def _clean(value: ibis.Value, col) -> ibis.StringValue:
    # text stored as text loses its control characters (issue 15: "Ho\x00me" is "Home")
    text = (coerce.clean_stored_text if col.type == "string" else coerce.clean_text)(value.cast("string"))
    if col.tag == "identity" and col.type == "string":
        # ids exported from spreadsheets arrive as floats ("17850.0"); an extract, not a replacement with a
        # backreference: Spark's (Java's) replacement reads "\1" as a literal 1, turning every such id into "1"
        whole = r"^(\d+)\.0+$"
        text = ibis.ifelse(text.endswith("0") & text.re_search(whole), text.re_extract(whole, 1), text)
    return text


def _typed(con, staged: stage.Staged, target: Contract, plan: coerce.ColumnPlan,
           options: IngestOptions) -> ibis.Table:
    """Typed columns, their reasons and a hash of each source row (``_h``, for exact duplicates).

    An expression over the staged table, whose conversions were computed while it was read
    (:func:`_conversions`); the checks read it in a few passes. Ibis inlines expressions, so
    without stored conversions every check would recompute the ones it reads (measured 3x
    slower). Cleaning (trim) is cheap enough to inline.
    """
    t = staged.table(con)
    cols: dict[str, ibis.Value] = {"_rec": t._rec}
    has: dict[str, ibis.Value] = {}
    converted = [c for c in target.columns if c.name in plan.mapping]
    for col in converted:
        if col.type == "string":
            cols[col.name] = _clean(t[plan.mapping[col.name]], col)
        else:
            cols[col.name] = t[f"{DERIVED}t_{col.name}"]
        flag = f"{DERIVED}has_{col.name}"
        has[col.name] = t[flag] if flag in t.columns else cols[col.name].notnull()
    for src, attr in plan.extras.items():
        cols[attr] = coerce.clean_stored_text(t[src].cast("string"))
    for attr, src in options.customer_attributes.items():
        cols[f"_attr_{attr}"] = coerce.clean_stored_text(t[src].cast("string"))
    cols["_h"] = t[f"{DERIVED}h"]
    reasons: list[ibis.Value] = []
    for col in converted:
        reasons.extend(checks.column_reasons(col, has[col.name], cols[col.name]))
        lost = f"{DERIVED}lost_{col.name}"
        if lost in t.columns:  # issue 15: 0.00001 must not become 0.0000 silently
            reasons.append(checks.reason_for(t[lost], f"too_precise_{col.name}"))
        if col.type == "timestamp":
            reasons.append(checks.implausible_date(cols[col.name], options.plausible_dates))
    if target.table == "orders" and "amount" in cols:
        returned = cols["returned"].fill_null(False) if "returned" in cols else ibis.literal(False)
        reasons.append(checks.reason((cols["amount"] < 0) & ~returned, "negative_amount"))
    return t.select(**cols, _reasons=checks.collect(reasons))


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

