"""Write checked rows to the store: accepted rows (new, updated, already present), quarantine, run record.

Shared by the one-row-per-record ingest (:mod:`segmint.ingest.pipeline`) and the line-item
ingest (:mod:`segmint.ingest.lineitems`), which both call it inside their transaction; it
imports neither of them (they used to import each other).
"""

from __future__ import annotations

import json
import uuid

import ibis
import pandas as pd
import pyarrow as pa

from segmint.contracts import Contract
from segmint.ingest import checks, stage
from segmint.ingest.report import IngestReport
from segmint.store import Store

__all__ = ["finalize_reasons", "quarantine_rows", "record_run", "write_accepted"]

#: The quarantine's raw record of a row refused because its person was erased (`segmint forget`).
ERASED_RAW = "[withheld: an erased person's row; see docs/privacy.md]"


def _materialise(con, name: str, expr: ibis.Table) -> ibis.Table:
    con.create_table(name, expr, temp=True)
    return con.table(name)


def _key_duplicates(typed: ibis.Table, key: tuple[str, ...]) -> ibis.Table:
    """Flag rows whose key was already used by an earlier clean row of this source."""
    clean = checks.passes(typed._reasons) & (typed._copy == 0)
    present = [typed[k] for k in key if k in typed.columns]  # optional key parts may be absent
    rank = ibis.row_number().over(group_by=present + [clean], order_by=typed._rec)
    return typed.mutate(_keydup=clean & (rank > 0))


def finalize_reasons(store: Store, typed: ibis.Table, target: Contract) -> ibis.Table:
    """Add duplicate, key and unknown-customer reasons; returns the full checked table."""
    t = _key_duplicates(typed, target.key)
    erased = None
    if "customer_id" in t.columns:  # a person erased with `segmint forget` comes back only when re-admitted
        from segmint.privacy.ledger import erased_ids

        erased = erased_ids(store, t.customer_id)
        if erased is not None:
            t = t.mutate(_erased_id=t.customer_id.isin(erased._erased_id).fill_null(False))
    extra = [checks.reason(t._copy > 0, "duplicate_row"), checks.reason(t._keydup, "duplicate_key")]
    if erased is not None:
        extra.append(checks.reason(t._erased_id, "erased"))
    if "customer_id" in target.references and store.count("customers") > 0 and "customer_id" in t.columns:
        known = store.table("customers").select(_known_id=store.table("customers").customer_id).distinct()
        t = t.left_join(known, t.customer_id == known._known_id)
        extra.append(checks.reason(t.customer_id.notnull() & t._known_id.isnull(), "unknown_customer"))
    checked = t.mutate(_reasons=checks.combine(t._reasons, extra)).drop(
        *[c for c in ("_known_id", "_keydup", "_erased_id") if c in t.columns])
    # Materialised once: both the accepted and the quarantined rows are read from it.
    name = f"_segmint_checked_{uuid.uuid4().hex[:8]}"
    store.con.create_table(name, checked, temp=True)
    return store.con.table(name)


def quarantine_rows(store: Store, checked: ibis.Table, staged: stage.Staged, report: IngestReport) -> None:
    """Write quarantined rows (and reader rejects) to the quarantine table, idempotently."""
    con = store.con
    bad = checked.filter(~checks.passes(checked._reasons))
    # The raw record, as JSON of the (pseudonymised) source columns, only for quarantined rows.
    src = staged.table(con)
    raw = ibis.struct({c: src[c] for c in staged.columns}).cast("json").cast("string")
    bad = bad.join(src.select(_rec=src._rec, _raw=raw), "_rec")
    bad = _with_line_numbers(bad, staged)
    # an erased person's row is counted, never kept: its raw record would bring their data back
    raw = ibis.ifelse(bad._reasons.contains("erased"), ibis.literal(ERASED_RAW), bad._raw)
    rows = bad.select(
        ingest_id=ibis.literal(report.ingest_id), table_name=ibis.literal(report.table),
        source=ibis.literal(staged.source), line=bad._line, raw=raw,
        reasons=bad._reasons, ingested_at=ibis.now().cast("timestamp"),
    )
    if staged.rejects:
        withheld = staged.had_pii
        rej = pd.DataFrame({
            "ingest_id": report.ingest_id, "table_name": report.table, "source": staged.source,
            "line": [r.line for r in staged.rejects],
            "raw": ["[withheld: the source has personal-data columns; see the line in the file]" if withheld
                    else r.raw for r in staged.rejects],
            "reasons": [r.code for r in staged.rejects],
        })
        rej_t = ibis.memtable(rej).mutate(ingested_at=ibis.now().cast("timestamp"))
        rows = rows.union(rej_t.select(rows.columns).cast(rows.schema()))
    name = staged.name + "_quarantine"
    con.create_table(name, rows, temp=True)
    rows = con.table(name)
    counts = rows.select(code=rows.reasons.split(",").unnest()).code.value_counts().execute()
    report.quarantine_reasons = {str(k): int(v) for k, v in
                                 sorted(zip(counts.iloc[:, 0], counts.iloc[:, 1]), key=lambda kv: -kv[1])}
    report.rows_quarantined = int(rows.count().execute())
    q = store.table("quarantine")
    seen = q.filter(q.table_name == report.table)
    fresh = rows.anti_join(seen, [rows.source == seen.source, rows.line.identical_to(seen.line),
                                  rows.raw == seen.raw, rows.reasons == seen.reasons])
    n_fresh = int(fresh.count().execute())
    report.quarantine_already_recorded = report.rows_quarantined - n_fresh
    con.insert("quarantine", fresh.select(q.columns))


def _with_line_numbers(bad: ibis.Table, staged: stage.Staged) -> ibis.Table:
    """Add ``_line``: the record's line in the source (row number for frames and Parquet)."""
    if staged.first_line is None:
        return bad.mutate(_line=(bad._rec + 1).cast("int64"))
    if not staged.rejects or staged.rejects_numbered:
        return bad.mutate(_line=(bad._rec + staged.first_line).cast("int64"))
    # Records the reader rejected are missing from _rec's numbering; shift each row by the
    # number of rejected records before it (s_j = position_j - j, shift = #{s_j <= _rec}).
    positions = sorted(r.line - staged.first_line for r in staged.rejects)
    shifts = ibis.memtable(pa.table({"_s": pa.array([p - j for j, p in enumerate(positions)], pa.int64())}))
    recs = bad.select("_rec")
    counted = recs.left_join(shifts, recs._rec >= shifts._s).group_by("_rec").aggregate(_n=shifts._s.count())
    out = bad.join(counted, "_rec")
    return out.mutate(_line=(out._rec + staged.first_line + out._n).cast("int64")).drop("_n")


def write_accepted(store: Store, target: Contract, good: ibis.Table, provided: list[str], source: str,
                   report: IngestReport) -> None:
    """Insert new rows, replace changed ones, count identical ones (idempotent re-ingest)."""
    con = store.con
    stored = store.table(target.table)
    schema = stored.schema()
    name = f"_segmint_accept_{report.ingest_id}"
    stored_rows = int(stored.count().to_pyarrow().as_py())
    if stored_rows:
        incoming = _materialise(con, name, good.select(*provided))
    else:
        incoming = good.select(*provided)  # read once, straight into the table
    key = [k for k in target.key if k in provided]
    if stored_rows == 0:
        # nothing stored yet: every row is new, no comparison needed
        flags = incoming.mutate(_exists=ibis.literal(False), _same=ibis.literal(False))
        report.rows_new = int(incoming.count().to_pyarrow().as_py())
    else:
        s = stored.select(*[stored[c].name(f"_s_{c}") for c in provided])
        joined = incoming.left_join(s, [incoming[k] == s[f"_s_{k}"] for k in key])
        exists = joined[f"_s_{key[0]}"].notnull()
        same = ibis.literal(True)
        for c in provided:
            same = same & joined[c].cast(schema[c]).identical_to(joined[f"_s_{c}"])
        con.create_table(name + "_flags", joined.select(*provided, _exists=exists, _same=same & exists), temp=True)
        flags = con.table(name + "_flags")
        stats = flags.aggregate(new=(~flags._exists).sum(), same=flags._same.sum(), n=flags.count())
        stats = stats.to_pyarrow().to_pylist()[0]
        report.rows_new = int(stats["new"] or 0)
        report.rows_already_present = int(stats["same"] or 0)
        report.rows_updated = int(stats["n"]) - report.rows_new - report.rows_already_present
    changed = flags.filter(flags._exists & ~flags._same)
    if report.rows_updated:
        # keep stored values of columns this source does not provide
        keep = [c for c in stored.columns if c not in provided]
        old = stored.select(*key, *[stored[c].name(f"_o_{c}") for c in keep])
        upd = changed.select(*provided).left_join(old, key)
        upd_rows = upd.select(*[upd[c] if c in provided else upd[f"_o_{c}"].name(c) for c in stored.columns
                                if c not in ("_source", "_ingested_at")],
                              _source=ibis.literal(source), _ingested_at=ibis.now().cast("timestamp"))
        upd_name = name + "_upd"
        con.create_table(upd_name, upd_rows, temp=True)
        store.delete_keys(target.table, key, con.table(upd_name))  # Ibis has no DELETE: the store's statement
        con.insert(target.table, con.table(upd_name).select(stored.columns).cast(schema))
    new_rows = flags.filter(~flags._exists)
    fill = {c: ibis.null(schema[c]) for c in stored.columns if c not in provided and not c.startswith("_")}
    out = new_rows.select(*provided).mutate(**fill, _source=ibis.literal(source),
                                            _ingested_at=ibis.now().cast("timestamp"))
    con.insert(target.table, out.select(stored.columns).cast(schema))
    con.drop_table(name, force=True)
    con.drop_table(name + "_flags", force=True)


def record_run(store: Store, report: IngestReport) -> None:
    """Append the run to ``ingest_runs``."""
    rows_read = report.rows_accepted + report.rows_quarantined
    row = {
        "ingest_id": report.ingest_id, "table_name": report.table, "source": report.source,
        "rows_read": rows_read, "rows_accepted": report.rows_accepted, "rows_new": report.rows_new,
        "rows_updated": report.rows_updated, "rows_already_present": report.rows_already_present,
        "rows_quarantined": report.rows_quarantined,
        "quarantine_reasons": json.dumps(report.quarantine_reasons),
        "started_at": pd.Timestamp.now("UTC").tz_localize(None), "finished_at": pd.Timestamp.now("UTC").tz_localize(None),
    }
    runs = store.table("ingest_runs")
    store.con.insert("ingest_runs", ibis.memtable(pd.DataFrame([row])).cast(runs.schema()).select(runs.columns))
