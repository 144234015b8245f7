"""Erase people from the store: every table that holds them, every text that names them, in one transaction.

:func:`plan` finds what a request would take (``segmint forget --dry-run``); :func:`erase` takes
it, writes the ledger and the suppression entries, and returns a :class:`Receipt`. The file
rewrite that leaves no byte of the deleted rows (:func:`segmint.store.erase.rewrite_database`)
and the workspace's files (reports, exports) are the workspace's part
(:meth:`segmint.workspace.Workspace.forget`), since it owns the open store and the folder.

Which tables: :func:`segmint.store.erase.customer_tables` (every table with a ``customer_id``
column, plus registered ones) and :func:`segmint.store.erase.text_tables` (text that may mention
a person: the quarantine's raw records are deleted, the audit log's lines redacted). A table a
later module adds is covered when it follows the convention (docs/privacy.md).

Destinations: every function registered with :func:`register_notifier` is called with the
request before the rows go, and its answers are the receipt's ``destinations``. None is
registered yet: the activation issue adds the outbox's ``deleted`` change and the database
destinations' DELETE through this hook.

Examples
--------
>>> clean_ids(["C1", " C2 ", "C1"])
['C1', 'C2']
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from segmint.errors import ConfigError
from segmint.ingest.pii import PREFIXES
from segmint.privacy import ledger
from segmint.store import kept_figures
from segmint.store.erase import customer_tables, delete_people, text_tables

if TYPE_CHECKING:  # pragma: no cover
    from segmint.store import Store

#: The most ids one request takes (a file of more is split into several requests).
MAX_IDS = 1_000_000
#: What replaces an erased id in a redacted audit line.
REDACTED = "[erased]"
_PSEUDONYM = re.compile("^(" + "|".join(re.escape(p) for p in PREFIXES.values()) + ")[0-9a-f]{32}$")

#: ``notifier(store, ids, request_id) -> [{"destination": name, "told": bool, "how": text}, ...]``
Notifier = Callable[["Store", list[str], str], list[dict[str, Any]]]
_NOTIFIERS: list[Notifier] = []


def register_notifier(fn: Notifier) -> None:
    """Have ``fn`` told of every erasure, before the rows go (the activation outbox, database destinations)."""
    if fn not in _NOTIFIERS:
        _NOTIFIERS.append(fn)


def unregister_notifier(fn: Notifier) -> None:
    """Stop telling ``fn`` (tests)."""
    if fn in _NOTIFIERS:
        _NOTIFIERS.remove(fn)


@dataclass
class Receipt:
    """What an erasure took (or, on a dry run, would take)."""

    request_id: str
    at: str
    dry_run: bool
    requested: int
    found: int
    not_found: int
    tables: dict[str, int] = field(default_factory=dict)
    mentions: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    rewritten: dict[str, int] | None = None
    files: dict[str, str] = field(default_factory=dict)
    still_named_in: list[str] = field(default_factory=list)
    destinations: list[dict[str, Any]] = field(default_factory=list)
    destinations_note: str = ("no destination holds or was sent these people; any that does is told at once "
                              "(docs/activation.md, \"Erasure\")")
    seconds: float = 0.0
    #: seconds per step: plan, delete (the transaction), rewrite (the file), files (reports, exports)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values()) + sum(self.mentions.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"] = self.rows
        return out


def clean_ids(ids: Iterable[Any]) -> list[str]:
    """The ids as trimmed text, duplicates and blanks left out, in first-seen order; refused when too many."""
    out: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if not text:
            continue
        if len(text) > 256 or "\0" in text:
            raise ConfigError(f"{text[:40]!r}... is not a customer id (at most 256 characters, no NUL)")
        out[text] = None
    if len(out) > MAX_IDS:
        raise ConfigError(f"{len(out):,} ids in one request; split the file into requests of at most {MAX_IDS:,}")
    return list(out)


@dataclass
class Plan:
    """What a request touches: the ids present, the pseudonyms they carry, the rows per table."""

    ids: list[str]
    present: set[str]
    needles: list[str]
    tables: dict[str, int]
    mentions: dict[str, int]
    mention_rows: dict[str, pa.Table]


def _ids_table(ids: list[str], column: str = "customer_id") -> ibis.Table:
    return ibis.memtable(pa.table({column: pa.array(ids, pa.string())}))


def plan(store: Store, ids: list[str], count: bool = True) -> Plan:
    """Find every row of ``ids`` and every text that names them (nothing is changed).

    ``count=False`` leaves the rows per table (and the ids present) to the delete, which counts each
    table just before deleting from it (:func:`segmint.store.erase.delete_people`): no table is counted twice.
    """
    keyed = customer_tables(store)
    wanted = _ids_table(ids, "_forget_id")
    tables: dict[str, int] = {}
    present: set[str] = set()
    for name, column in sorted(keyed.items()) if count else ():
        t = store.con.table(name)
        hit = t.semi_join(wanted, t[column] == wanted._forget_id)
        counted = hit.group_by(_id=hit[column]).aggregate(n=hit.count()).to_pyarrow()
        n = sum(counted.column("n").to_pylist())
        if n:
            tables[name] = int(n)
            present.update(counted.column("_id").to_pylist())
    needles = list(ids) + _pseudonyms(store, keyed, wanted)
    mentions, rows = {}, {}
    for name, (columns, _action) in sorted(text_tables(store).items()):
        found = _mentioning(store, name, columns, needles)
        if found.num_rows:
            mentions[name], rows[name] = found.num_rows, found
    return Plan(ids, present, needles, tables, mentions, rows)


def _pseudonyms(store: Store, keyed: dict[str, str], wanted: ibis.Table) -> list[str]:
    """The pseudonyms (``em_...``, ``ph_...``) on the customers' own rows: texts may name them too."""
    if "customers" not in keyed:
        return []
    t = store.con.table("customers")
    text_cols = [c for c, typ in t.schema().items() if typ.is_string() and c not in ("customer_id", "_source")]
    if not text_cols:
        return []
    rows = t.semi_join(wanted, t.customer_id == wanted._forget_id).select(*text_cols).to_pyarrow().to_pylist()
    out = {v for r in rows for v in r.values() if isinstance(v, str) and _PSEUDONYM.match(v)}
    return sorted(out)


def _mentioning(store: Store, table: str, columns: tuple[str, ...], needles: list[str]) -> pa.Table:
    """The rows of ``table`` whose text columns name one of ``needles`` (as a whole token)."""
    t = store.con.table(table)
    needles = _present(t, columns, needles)
    if not needles:
        return t.limit(0).to_pyarrow()
    n = ibis.memtable(pa.table({"_needle": pa.array(needles, pa.string())}))
    cond = ibis.literal(False)
    for c in columns:
        cond = cond | t[c].cast("string").contains(n._needle).fill_null(False)
    candidates = t.semi_join(n, cond).to_pyarrow()  # a superset: exact token matches are checked here
    if not candidates.num_rows:
        return candidates
    pattern = _token_pattern(needles)
    keep = [any(isinstance(r[c], str) and pattern.search(r[c]) for c in columns) for r in candidates.to_pylist()]
    return candidates.filter(pa.array(keep, pa.bool_()))


_WORD = re.compile(r"[A-Za-z0-9_]+")


def _present(t: ibis.Table, columns: tuple[str, ...], needles: list[str]) -> list[str]:
    """The needles that occur in the columns as whole tokens (one hash join over the texts' tokens).

    A containment test of every row against thousands of ids is a cross join; this keeps it to the few
    needles actually there. Needles with other characters than letters, digits and ``_`` are kept as they are.
    """
    words = [x for x in needles if _WORD.fullmatch(x)]
    others = [x for x in needles if not _WORD.fullmatch(x)]
    if not words:
        return others
    n = ibis.memtable(pa.table({"_word": pa.array(words, pa.string())}))
    found: set[str] = set()
    for c in columns:
        tokens = t.select(_word=t[c].cast("string").re_split(r"[^A-Za-z0-9_]+").unnest()).distinct()
        found.update(tokens.semi_join(n, "_word")._word.to_pyarrow().to_pylist())
    return sorted(found) + others


def _token_pattern(needles: list[str]) -> re.Pattern:
    """A needle not inside a longer id: no letter, digit or ``_`` on either side."""
    alternatives = "|".join(re.escape(x) for x in sorted(needles, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])")


def erase(store: Store, ids: Iterable[Any], *, request: str = "", who: str = "cli", dry_run: bool = False,
          key: bytes | None = None) -> tuple[Receipt, Plan]:
    """Delete every row of ``ids``; write the ledger and the suppression entries (one transaction).

    Returns the receipt (without the file rewrite, which the caller does) and the plan it followed.
    """
    ids = clean_ids(ids)
    request_id = uuid.uuid4().hex[:16]
    receipt = Receipt(request_id=request_id, at=ledger.now().isoformat(timespec="seconds"), dry_run=dry_run,
                      requested=len(ids), found=0, not_found=0)
    if not ids:
        raise ConfigError("no customer id given: name one or more, or --from-file FILE (one id a line)")
    started = time.perf_counter()
    p = plan(store, ids, count=dry_run)
    receipt.phases["plan"] = round(time.perf_counter() - started, 3)
    receipt.mentions = dict(p.mentions)
    if dry_run:
        receipt.found = len(p.present)
        receipt.not_found = len(ids) - receipt.found
        receipt.tables = dict(p.tables)
        return receipt, p
    key = key if key is not None else ledger.erasure_key(store)
    hashes = [ledger.subject_hash(key, i) for i in ids] if key is not None else []
    for notify in list(_NOTIFIERS):
        receipt.destinations.extend(notify(store, list(ids), request_id))
    if receipt.destinations:
        receipt.destinations_note = f"{sum(bool(d.get('told')) for d in receipt.destinations)} destination(s) told"
    keyed = customer_tables(store)
    started = time.perf_counter()
    with store.transaction():
        p.tables, p.present = delete_people(store, keyed, ids)
        if "memberships" in p.tables:  # the runs' stored counts say what they hold now
            store.runs.recount()
        kept_figures.clear(store)  # monitoring figures computed with them go too
        receipt.tables, receipt.found = dict(p.tables), len(p.present)
        receipt.not_found = len(ids) - receipt.found
        for name, found in p.mention_rows.items():
            _columns, action = text_tables(store)[name]
            _drop_rows(store, name, found)
            if action == "redact":
                _insert_redacted(store, name, found, _columns, _token_pattern(p.needles))
        ledger.ensure_tables(store)
        receipt.suppressed = ledger.suppress(store, hashes, request_id)
        ledger.record(store, request_id=request_id, action="forget", request=request[:200], who=who, hashes=hashes,
                      tables={**p.tables, **{f"{k} (text)": v for k, v in p.mentions.items()}},
                      destinations=receipt.destinations,
                      details={"requested": len(ids), "found": receipt.found})
    receipt.phases["delete"] = round(time.perf_counter() - started, 3)
    return receipt, p


def _drop_rows(store: Store, table: str, rows: pa.Table) -> None:
    keys = ibis.memtable(rows)
    store.delete_keys(table, list(rows.column_names), keys, null_safe=True)


def _insert_redacted(store: Store, table: str, rows: pa.Table, columns: tuple[str, ...],
                     pattern: re.Pattern) -> None:
    data = rows.to_pylist()
    for r in data:
        for c in columns:
            if isinstance(r[c], str):
                r[c] = _redact_text(r[c], pattern)
    schema = store.con.table(table).schema()
    store.con.insert(table, ibis.memtable(pa.Table.from_pylist(data, schema=rows.schema)).cast(schema))


def _redact_text(text: str, pattern: re.Pattern) -> str:
    """``text`` with every mention replaced; JSON text stays valid JSON (only its strings are redacted).

    A numeric id such as ``0`` also matches numbers, which a replacement in the raw text turned into
    ``{"limit": [erased]}``: the audit log could not be read back.

    Examples
    --------
    >>> p = _token_pattern(["0", "C7"])
    >>> _redact_text('{"limit": 0, "argv": ["forget", "0", "C7 and C70"]}', p)
    '{"limit": 0, "argv": ["forget", "[erased]", "[erased] and C70"]}'
    >>> _redact_text("look-up of C7", p)
    'look-up of [erased]'
    """
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if doc is not None:
            def walk(v):
                if isinstance(v, str):
                    return pattern.sub(REDACTED, v)
                if isinstance(v, list):
                    return [walk(x) for x in v]
                if isinstance(v, dict):
                    return {pattern.sub(REDACTED, k): walk(x) for k, x in v.items()}
                return v
            return json.dumps(walk(doc), separators=(", ", ": "), ensure_ascii=False)
    return pattern.sub(REDACTED, text)


def finish_ledger(store: Store, receipt: Receipt) -> None:
    """Add what the workspace did after the transaction (the rewrite, files) to the request's ledger row."""
    from segmint.privacy.ledger import LEDGER

    t = store.con.table(LEDGER)
    row = t.filter(t.request_id == receipt.request_id).to_pyarrow().to_pylist()
    if not row:
        return
    r = row[0]
    r["files"] = json.dumps(receipt.files, sort_keys=True)
    details = json.loads(r["details"] or "{}")
    details.update(rewritten=receipt.rewritten, still_named_in=receipt.still_named_in)
    r["details"] = json.dumps(details, sort_keys=True, default=str)
    with store.transaction():
        store.delete_rows(LEDGER, request_id=receipt.request_id)
        store.con.insert(LEDGER, ibis.memtable(pa.Table.from_pylist([r], schema=ledger.SCHEMAS[LEDGER].to_pyarrow())))


def readmit(store: Store, ids: Iterable[Any], *, who: str = "cli", key: bytes | None = None) -> dict[str, Any]:
    """Lift the suppression of ``ids``: their rows are ingested again. Recorded in the ledger."""
    ids = clean_ids(ids)
    if not ids:
        raise ConfigError("no customer id given to re-admit")
    key = key if key is not None else ledger.erasure_key(store)
    hashes = [ledger.subject_hash(key, i) for i in ids]
    request_id = uuid.uuid4().hex[:16]
    with store.transaction():
        n = ledger.lift(store, hashes)
        ledger.record(store, request_id=request_id, action="readmit", request="", who=who, hashes=hashes, tables={},
                      details={"requested": len(ids), "readmitted": n})
    return {"request_id": request_id, "requested": len(ids), "readmitted": n, "not_suppressed": len(ids) - n}


__all__ = ["Plan", "Receipt", "clean_ids", "erase", "finish_ledger", "plan", "readmit", "register_notifier",
           "unregister_notifier"]
