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
from segmint.ingest.write import _materialise, finalize_reasons, quarantine_rows, record_run, write_accepted
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
    staged = _stage(con, source, options, source_name)
    try:
        report = IngestReport(table=table, source=staged.source, ingest_id=uuid.uuid4().hex[:12])
        target = CONTRACTS["order_items"] if options.line_items else CONTRACTS[table]
        plan = coerce.plan_columns(target, staged.columns, options.mapping, staged.source)
        for attr, col in options.customer_attributes.items():
            if col not in staged.columns:
                raise DataError(f"{staged.source}: no column {col!r} for customer attribute {attr!r}")
            plan.ignored = [c for c in plan.ignored if c != col]
        if len(plan.extras) > stage.MAX_ATTRIBUTE_COLUMNS:
            raise DataError(
                f"{staged.source}: {len(plan.extras):,} extra columns would become {table} attributes; segmint "
                f"takes at most {stage.MAX_ATTRIBUTE_COLUMNS:,} from one source (each is a column of the store and of "
                f"every check). Keep the ones you need in a copy of the source. Nothing was written.")
        report.mapping = dict(plan.mapping)
        report.ignored_columns = list(plan.ignored)
        report.attribute_columns = list(plan.extras.values())
        if table == "responses":
            _mask_free_text(con, staged, plan, report)
        _pseudonymise(con, staged, plan, options, key, report)
        typed = _typed(con, staged, target, plan, options)
        if options.line_items:
            lineitems.finish(store, typed, staged, plan, options, report)
        else:
            _finish(store, typed, staged, target, plan, report)
    finally:
        stage.drop_staged(con, staged)
    report.seconds = round(time.perf_counter() - started, 3)
    if not report.balanced:  # an internal invariant; a failure here is a bug, never silent loss
        raise AssertionError(f"ingest lost rows: {report.to_dict()}")
    return report


def _stage(con, source, options: IngestOptions, source_name: str | None) -> stage.Staged:
    if isinstance(source, (str, Path)):
        staged = stage.stage_file(con, Path(source), options.fmt, options.delimiter, options.encoding)
    else:
        staged = stage.stage_frame(con, source, source_name or "frame")
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
    con.drop_table(staged.name, force=True)
    staged.name = name
    report.pii[column] = "masked"  # names, e-mails and phones in the text; the scan below may add more


def _pseudonymise(con, staged: stage.Staged, plan: coerce.ColumnPlan, options: IngestOptions,
                  key: bytes | None, report: IngestReport) -> None:
    """Hash or drop personal-data columns of the staged table in place, or refuse the load."""
    from segmint.ingest import pii_stage

    t = staged.table(con)
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
    con.create_table(name, new, temp=True)
    con.drop_table(staged.name, force=True)
    staged.name = name
    dropped = {c for c, d in decisions.items() if d.action == "drop"}
    staged.columns = [c for c in staged.columns if c not in dropped]
    for c in dropped:
        plan.extras.pop(c, None)
        plan.ignored = [x for x in plan.ignored if x != c]
        plan.mapping = {k: v for k, v in plan.mapping.items() if v != c}
    staged.had_pii = True


def _typed(con, staged: stage.Staged, target: Contract, plan: coerce.ColumnPlan,
           options: IngestOptions) -> ibis.Table:
    """Typed columns, their reasons and within-source duplicate flags.

    The conversions are materialised once; the reasons are left as an expression that
    :func:`finalize_reasons` materialises together with the key checks. Ibis inlines
    expressions, so without the intermediate table every check would recompute the
    conversions it reads (measured 3x slower). Cleaning (trim) is cheap enough to inline.
    """
    t = staged.table(con)
    name = staged.name + "_typed"
    cols: dict[str, ibis.Value] = {"_rec": t._rec}
    converted = [c for c in target.columns if c.name in plan.mapping]
    for col in converted:
        raw = t[plan.mapping[col.name]].cast("string")
        text = coerce.clean_stored_text(raw) if col.type == "string" else coerce.clean_text(raw)
        if col.tag == "identity" and col.type == "string":
            # ids exported from spreadsheets arrive as floats ("17850.0")
            text = ibis.ifelse(text.endswith(".0"), text.re_replace(r"^(\d+)\.0+$", r"\1"), text)
        cols[col.name] = text if col.type == "string" else coerce.to_type(text, col, options.parse)
        cols[f"_has_{col.name}"] = text.notnull()
        if col.type == "decimal":  # issue 15: 0.00001 must not become 0.0000 silently
            cols[f"_has_lost_{col.name}"] = coerce.precision_lost(text, col, options.parse)
    for src, attr in plan.extras.items():
        cols[attr] = coerce.clean_stored_text(t[src].cast("string"))
    for attr, src in options.customer_attributes.items():
        cols[f"_attr_{attr}"] = coerce.clean_stored_text(t[src].cast("string"))
    # exact copies of an earlier row of this source
    cols["_copy"] = ibis.row_number().over(group_by=[t[c] for c in staged.columns], order_by=t._rec)
    conv = _materialise(con, name, t.select(**cols))

    reasons: list[ibis.Value] = []
    for col in converted:
        reasons.extend(checks.column_reasons(col, conv[f"_has_{col.name}"], conv[col.name]))
        if col.type == "decimal":
            reasons.append(checks.reason_for(conv[f"_has_lost_{col.name}"], f"too_precise_{col.name}"))
        if col.type == "timestamp":
            reasons.append(checks.implausible_date(conv[col.name], options.plausible_dates))
    if target.table == "orders" and "amount" in conv.columns:
        returned = conv.returned.fill_null(False) if "returned" in conv.columns else ibis.literal(False)
        reasons.append(checks.reason((conv.amount < 0) & ~returned, "negative_amount"))
    return conv.select(*[c for c in conv.columns if not c.startswith("_has_")],
                       _reasons=checks.collect(reasons))


def _finish(store: Store, typed: ibis.Table, staged: stage.Staged, target: Contract,
            plan: coerce.ColumnPlan, report: IngestReport) -> None:
    con = store.con
    checked = finalize_reasons(store, typed, target)
    good = checked.filter(checks.passes(checked._reasons))
    provided = [c for c in target.names if c in plan.mapping]
    extras = list(plan.extras.values())
    with store.transaction():
        if extras:
            store.add_columns(target.table, _extra_types(good, extras))
        write_accepted(store, target, good, provided + extras, staged.source, report)
        quarantine_rows(store, checked, staged, report)
        record_run(store, report)
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

