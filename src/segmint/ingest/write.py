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


def _small(con, name: str, expr: ibis.Table) -> ibis.Table | None:
    """Materialise ``expr`` (a small set of rows) as ``name``; None when it is empty."""
    con.create_table(name, expr, temp=True)
    t = con.table(name)
    if int(t.count().to_pyarrow().as_py()) == 0:
        con.drop_table(name, force=True)
        return None
    return t


def _repeated_keys(con, typed: ibis.Table, key: list[str], name: str) -> ibis.Table | None:
    """The rows whose key's hash (``_kh``) repeats, or every row when there is no key; None when none repeats.

    An exact copy repeats its row's key as well, so the copies and the repeated keys are both found among
    these rows: one aggregate over the whole source instead of one for each check (issue 16), and the two
    checks then run over a handful of rows.
    """
    if not key or "_kh" not in typed.columns:
        return typed
    repeated = typed.group_by("_kh").aggregate(_n=typed.count()).filter(lambda t: t._n > 1).select("_kh")
    keep = ["_rec", "_h", "_kh", "_reasons", *key]
    return _small(con, name, typed.semi_join(repeated, "_kh").select(*[c for c in keep if c in typed.columns]))


def _copies(con, typed: ibis.Table, source: ibis.Table, columns: list[str], name: str) -> ibis.Table | None:
    """``_rec`` of the rows that repeat an earlier row of the source exactly (all its columns).

    A hash of each row (``_h``, computed with the conversions) groups candidates in one cheap
    aggregate; only rows whose hash repeats are compared column by column, so the window runs
    over a handful of rows, not the whole source (hash collisions are compared away there).
    """
    repeated = typed.group_by("_h").aggregate(_n=typed.count()).filter(lambda t: t._n > 1).select("_h")
    cand = _small(con, name + "_cand", typed.semi_join(repeated, "_h").select("_rec"))
    if cand is None:
        return None
    rows = source.semi_join(cand, "_rec")
    # compared as text: a Parquet file's typed columns (-0.0 and 0.0 are equal numbers, not equal text)
    rank = ibis.row_number().over(group_by=[rows[c].cast("string") for c in columns], order_by=rows._rec)
    out = _small(con, name, rows.select("_rec", _rank=rank).filter(lambda t: t._rank > 0).select("_rec"))
    con.drop_table(name + "_cand", force=True)
    return out


def _key_repeats(con, typed: ibis.Table, key: list[str], copies: ibis.Table | None, name: str) -> ibis.Table | None:
    """``_rec`` of clean rows whose key an earlier clean row of the source already used.

    Clean: no column reason and not an exact copy. Candidates are the rows whose key's hash repeats,
    found by one aggregate over a single 64-bit column (an aggregate over the key's own columns, four
    texts for events, ran out of the 1 GB memory bound on a 64M-row file, issue 16); the first-come
    order is settled by a window over the candidates only, on the key itself (hash collisions are
    told apart there).
    """
    if not key:
        return None
    kh = ["_kh"] if "_kh" in typed.columns else []
    clean = typed.filter(checks.passes(typed._reasons)).select("_rec", *key, *kh)
    if copies is not None:
        clean = clean.anti_join(copies, "_rec")
    # ``_kh``: the key's hash, computed while staging (the pipeline's typed table); else computed here
    hashed = clean if kh else clean.mutate(_kh=ibis.struct({k: clean[k] for k in key}).hash())
    repeated = hashed.group_by("_kh").aggregate(_n=hashed.count()).filter(lambda t: t._n > 1).select("_kh")
    rows = _small(con, name + "_cand", hashed.semi_join(repeated, "_kh").select("_rec", *key))
    if rows is None:
        return None
    rank = ibis.row_number().over(group_by=[rows[k] for k in key], order_by=rows._rec)
    out = _small(con, name, rows.select("_rec", _rank=rank).filter(lambda t: t._rank > 0).select("_rec"))
    con.drop_table(name + "_cand", force=True)
    return out


def finalize_reasons(store: Store, typed: ibis.Table, target: Contract, staged: stage.Staged) -> ibis.Table:
    """Add duplicate, key and unknown-customer reasons; returns the full checked table (an expression).

    Set operations in the engine, each a pass over the typed table that yields a small set of
    row positions: exact copies, repeated keys, unknown customers. The checked table is the
    typed one with those reasons joined on; nothing per row leaves the engine.
    """
    con = store.con
    name = f"_segmint_flags_{uuid.uuid4().hex[:8]}"
    staged.temporaries.extend([name + s for s in ("_pool", "_copy", "_key", "_unknown", "_erased", "")])
    source = staged.table(con)
    key = [k for k in target.key if k in typed.columns]  # optional key parts may be absent
    pool = _repeated_keys(con, typed, key, name + "_pool")
    copies = _copies(con, pool, source, staged.columns, name + "_copy") if pool is not None else None
    repeats = _key_repeats(con, pool, key, copies, name + "_key") if pool is not None else None
    unknown = None
    if "customer_id" in target.references and "customer_id" in typed.columns and store.count("customers") > 0:
        known = store.table("customers").select("customer_id")
        rows = typed.filter(typed.customer_id.notnull()).select("_rec", "customer_id")
        unknown = _small(con, name + "_unknown", rows.anti_join(known, "customer_id").select("_rec"))
    erased = None
    if "customer_id" in typed.columns:  # a person erased with `segmint forget` comes back only when re-admitted
        from segmint.privacy.ledger import erased_ids

        ids = erased_ids(store, typed.customer_id)
        if ids is not None:
            rows = typed.select("_rec", "customer_id")
            erased = _small(con, name + "_erased",
                            rows.semi_join(ids, rows.customer_id == ids._erased_id).select("_rec"))
    found = [(t, code) for t, code in ((copies, "duplicate_row"), (repeats, "duplicate_key"),
                                        (unknown, "unknown_customer"), (erased, "erased")) if t is not None]
    if not found:
        return typed
    parts = [t.select("_rec", _code=ibis.literal(code)) for t, code in found]
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p, distinct=False)
    flags = union.group_by("_rec").aggregate(
        **{f"_f{i}": (union._code == code).any() for i, (_, code) in enumerate(found)})
    con.create_table(name, flags, temp=True)
    flags = con.table(name)
    t = typed.left_join(flags, "_rec")
    t = t.drop(*[c for c in t.columns if c.endswith("_right")])
    extra = [checks.reason(t[f"_f{i}"], code) for i, (_, code) in enumerate(found)]
    return t.mutate(_reasons=checks.combine(t._reasons, extra)).drop(*[f"_f{i}" for i in range(len(found))])


def quarantine_rows(store: Store, checked: ibis.Table, staged: stage.Staged, report: IngestReport,
                    refused: ibis.Table | None = None) -> None:
    """Write quarantined rows (and reader rejects) to the quarantine table, idempotently.

    ``refused``: ``_rec`` of accepted rows that ``--mode append`` did not write (their key is
    stored with other values), quarantined as ``key_already_stored``.
    """
    con = store.con
    name = staged.name + "_quarantine"
    staged.temporaries.extend([name + "_bad", name])
    # The quarantined rows first (few), then their raw records: JSON of the source columns of those rows only.
    bad_rows = checked.filter(~checks.passes(checked._reasons)).select("_rec", "_reasons")
    if refused is not None:
        kept = checked.semi_join(refused, "_rec")
        bad_rows = bad_rows.union(kept.select("_rec", _reasons=ibis.literal("key_already_stored")), distinct=False)
    con.create_table(name + "_bad", bad_rows, temp=True)
    bad = con.table(name + "_bad")
    src = staged.table(con).semi_join(bad, "_rec")
    raw = ibis.struct({c: src[c].cast("string") for c in staged.columns}).cast("json").cast("string")
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


MODES = ("upsert", "append", "replace")


def write_accepted(store: Store, target: Contract, good: ibis.Table, provided: list[str], source: str,
                   report: IngestReport, mode: str = "upsert") -> ibis.Table | None:
    """Write the accepted rows as ``mode`` says; count them as new, updated or unchanged.

    * ``upsert``: insert new keys, replace the stored row of a known key whose values changed
      (columns the source lacks keep their stored values), count identical rows as unchanged;
      re-ingesting a file adds nothing.
    * ``append``: insert new keys and never change a stored row; a row whose key is stored with
      other values is refused: its ``_rec`` is returned (a small table) for the quarantine,
      reason ``key_already_stored``.
    * ``replace``: the table holds exactly this source's accepted rows afterwards (counted
      against what it held before; ``report.rows_removed`` says how many stored rows went).

    The comparison with the store is one join of this source's rows with the stored table on
    the key: its time grows with the file (the engine skips stored row groups whose key range
    the file's keys miss), and nothing is compared when the table is empty.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    con = store.con
    stored = store.table(target.table)
    schema = stored.schema()
    name = f"_segmint_accept_{report.ingest_id}"
    key = [k for k in target.key if k in provided]
    stored_rows = int(stored.count().to_pyarrow().as_py())
    report.mode = mode
    refused = None
    if stored_rows == 0 or not key:
        if stored_rows and mode == "replace":
            report.rows_removed = stored_rows
            store.delete_all(target.table)
            stored_rows = 0
        _insert(store, target, good.select(*provided), provided, source)  # read once, straight into the table
        report.rows_new = store.count(target.table) - stored_rows  # the table's own count: no second pass
        return None
    marker = "_s__present"
    s = stored.select(*[stored[c].name(f"_s_{c}") for c in provided], **{marker: ibis.literal(True)})
    pos = ["_rec"] if "_rec" in good.columns else []  # orders built from line items have no position
    incoming = good.select(*pos, *provided)
    joined = incoming.left_join(s, [incoming[k].identical_to(s[f"_s_{k}"]) for k in key])
    exists = joined[marker].notnull()
    same = ibis.literal(True)
    for c in provided:
        same = same & joined[c].cast(schema[c]).identical_to(joined[f"_s_{c}"])
    con.create_table(name + "_flags", joined.select(*pos, *provided, _exists=exists, _same=same & exists),
                     temp=True)
    flags = con.table(name + "_flags")
    stats = flags.aggregate(new=(~flags._exists).sum(), same=flags._same.sum(), n=flags.count())
    stats = stats.to_pyarrow().to_pylist()[0]
    report.rows_new = int(stats["new"] or 0)
    report.rows_already_present = int(stats["same"] or 0)
    changed_n = int(stats["n"]) - report.rows_new - report.rows_already_present
    changed = flags.filter(flags._exists & ~flags._same)
    if mode == "replace":
        report.rows_updated = changed_n
        report.rows_removed = stored_rows - (report.rows_already_present + changed_n)
        store.delete_all(target.table)
        _insert(store, target, flags.select(*provided), provided, source)
    elif mode == "append":
        if changed_n and pos:
            con.create_table(name + "_refused", changed.select("_rec"), temp=True)
            refused = con.table(name + "_refused")
        _insert(store, target, flags.filter(~flags._exists).select(*provided), provided, source)
    else:
        report.rows_updated = changed_n
        if changed_n:
            _update(store, target, changed.select(*provided), provided, key, source, name + "_upd")
        _insert(store, target, flags.filter(~flags._exists).select(*provided), provided, source)
    con.drop_table(name + "_flags", force=True)
    return refused


def _insert(store: Store, target: Contract, rows: ibis.Table, provided: list[str], source: str) -> None:
    """Insert ``rows`` (the provided columns) with nulls for the others and the lineage columns."""
    stored = store.table(target.table)
    schema = stored.schema()
    fill = {c: ibis.null(schema[c]) for c in stored.columns if c not in provided and not c.startswith("_")}
    out = rows.mutate(**fill, _source=ibis.literal(source), _ingested_at=ibis.now().cast("timestamp"))
    store.con.insert(target.table, out.select(stored.columns).cast(schema))


def _update(store: Store, target: Contract, changed: ibis.Table, provided: list[str], key: list[str], source: str,
            name: str) -> None:
    """Replace the stored rows of ``changed``'s keys; columns the source lacks keep their stored values."""
    con = store.con
    stored = store.table(target.table)
    schema = stored.schema()
    lineage = ("_source", "_ingested_at")
    keep = [c for c in stored.columns if c not in provided and c not in lineage]
    if keep:
        old = stored.select(*[stored[k].name(f"_k_{k}") for k in key], *[stored[c].name(f"_o_{c}") for c in keep])
        upd = changed.left_join(old, [changed[k].identical_to(old[f"_k_{k}"]) for k in key])
    else:  # the source has every column: nothing to keep, and no second pass over the stored table
        upd = changed
    upd_rows = upd.select(*[upd[c] if c in provided else upd[f"_o_{c}"].name(c) for c in stored.columns
                            if c not in lineage],
                          _source=ibis.literal(source), _ingested_at=ibis.now().cast("timestamp"))
    con.create_table(name, upd_rows, temp=True)
    try:
        store.delete_keys(target.table, key, con.table(name))  # Ibis has no DELETE: the store's statement
        con.insert(target.table, con.table(name).select(stored.columns).cast(schema))
    finally:
        con.drop_table(name, force=True)


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
