"""The personal-data step of ingest: find, decide, then hash or drop, or refuse the load.

Runs on the staged source (text columns plus ``_rec``) before anything is typed, checked or
written, so raw personal data reaches neither the tables nor the quarantine. Every source
column is looked at, whatever table it is for and whether the table keeps it: an ignored
column still shows in the quarantine's raw record.

1. :func:`find` looks at column names and at a sample of rows spread over the source
   (:mod:`segmint.ingest.pii_detect`), plus one pass over every row of the free-text columns
   for email addresses inside text, which a sample can miss.
2. :func:`decide` takes ``privacy.pii`` for a column (a setting for ``email`` also covers
   ``email_1``, ``email_2``: the copies of a repeated header) or the kind's default.
   A column the table ignores anyway is dropped rather than refused.
3. :func:`apply` hashes (whole values, or the email addresses inside text) and drops.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import pyarrow as pa

from segmint.errors import DataError
from segmint.ingest import pii, pii_detect
from segmint.ingest.pii_detect import Finding

_ENGINE_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_SAMPLE_VALUES = 200_000
_BATCH = 200  # columns per aggregate: wide sources get several flat queries, not one deep expression
DONE = {"hash": "hashed", "drop": "dropped", "keep": "kept"}


@dataclass(frozen=True)
class Decision:
    """What happens to one column, and why."""

    column: str
    action: str  # hash, drop, keep or refuse
    finding: Finding | None
    setting: str | None  # the privacy.pii key that chose the action, if one did

    def to_dict(self) -> dict:
        f = self.finding
        return {"action": DONE.get(self.action, self.action), "kind": f.kind if f else None,
                "found_by": f.found_by if f else "setting", "evidence": f.evidence if f else None,
                "inside_text": bool(f and f.embedded), "setting": self.setting}


def find(t: ibis.Table, columns: list[str], *, by_value: bool = True) -> dict[str, Finding]:
    """Personal-data columns of a staged table, by name and by a sample of values."""
    if not by_value:
        return pii_detect.detect(pa.table({c: pa.array([], pa.string()) for c in columns}), by_value=False)
    n = int(t.count().to_pyarrow().as_py())
    # Fewer rows for wide sources: about 200,000 values are looked at in all (a fraction of a second).
    size = max(200, min(pii_detect.SAMPLE_ROWS, _SAMPLE_VALUES // max(1, len(columns))))
    schema = t.schema()
    typed = [c for c in columns if not schema[c].is_string()]
    if typed:  # a Parquet file's numbers and times are staged typed: looked at as the text they were staged as
        t = t.mutate(**{c: t[c].cast("string") for c in typed})
    sample = _spread_sample(t, n, size).select(columns)  # no select in the engine: cheap for wide sources
    found = pii_detect.detect(sample)
    # A sample can miss the one note in thousands that mentions an address, so free-text columns (where
    # such notes live) are searched in every row; ids, amounts, dates and codes are not, which keeps this
    # to a few columns (a full search of every column cost ~10% of an orders ingest).
    text_like = [c for c in columns if c not in found and n > len(sample) and pii_detect.free_text(sample[c])]
    for column in _columns_with_email(t, text_like) if text_like else ():
        found[column] = Finding(column, "email", "values", "some values contain an email address", embedded=True)
    return {c: found[c] for c in columns if c in found}


def _spread_sample(t: ibis.Table, n: int, size: int, chunks: int = 20) -> pa.Table:
    """``size`` rows in ``chunks`` runs spread evenly over the source (sorted files vary along it).

    Runs of consecutive ``_rec`` let the engine skip the rest of the table by its min/max statistics,
    where a filter on ``_rec % step`` reads every row (measured 2x slower on 1.3M orders).
    """
    if n <= size:
        return t.to_pyarrow()
    run, gap = max(1, size // chunks), n // chunks
    parts = [t.filter(t._rec.between(j * gap, j * gap + run - 1)) for j in range(chunks)]
    return functools.reduce(lambda a, b: a.union(b, distinct=False), parts).to_pyarrow()


def _columns_with_email(t: ibis.Table, columns: list[str]) -> set[str]:
    """Columns where any row holds an email address: '@' first (cheap), the pattern only where it is."""
    found: set[str] = set()
    for start in range(0, len(columns), _BATCH):
        batch = columns[start:start + _BATCH]
        at = t.aggregate(**{f"c{i}": t[c].cast("string").contains("@").any() for i, c in enumerate(batch)})
        hits = at.to_pyarrow().to_pylist()[0]
        maybe = [c for i, c in enumerate(batch) if hits[f"c{i}"]]
        if maybe:
            agg = t.aggregate(**{f"c{i}": t[c].cast("string").re_search(_ENGINE_EMAIL).any()
                                 for i, c in enumerate(maybe)})
            row = agg.to_pyarrow().to_pylist()[0]
            found.update(c for i, c in enumerate(maybe) if row[f"c{i}"])
    return found


def setting_for(column: str, policy: Mapping[str, str], columns: list[str]) -> str | None:
    """The ``privacy.pii`` key that applies to ``column``: its own name, else the header it repeats.

    A repeated header is renamed by the reader (``email``, ``email_1``, ``email_2``), so a setting for
    ``email`` covers its copies unless they have one of their own.

    Examples
    --------
    >>> setting_for("email_1", {"email": "keep"}, ["email", "email_1"])
    'email'
    >>> setting_for("email_1", {"email": "keep", "email_1": "drop"}, ["email", "email_1"]) is None
    False
    >>> setting_for("phone_2", {"email": "keep"}, ["phone_2"]) is None
    True
    """
    if column in policy:
        return column
    base = re.sub(r"(_\d+)+$", "", column)
    if base != column and base in policy and base in columns:
        return base
    return None


def decide(findings: Mapping[str, Finding], policy: Mapping[str, str], columns: list[str],
           ignored: list[str]) -> dict[str, Decision]:
    """The action for every found or configured column, in source order (``refuse`` included)."""
    out: dict[str, Decision] = {}
    for column in columns:
        finding = findings.get(column)
        setting = setting_for(column, policy, columns)
        if finding is None and setting is None:
            continue
        action = policy[setting] if setting else pii_detect.DEFAULT_ACTIONS[finding.kind]
        if action == "refuse" and column in ignored:
            action = "drop"  # the table would not keep it: leave it out of the quarantine's raw record too
        out[column] = Decision(column, action, finding, setting)
    return out


def refusal(source: str, refused: list[Decision]) -> DataError:
    """The error that stops a load: each column, what was found (never a value), and the setting to add."""
    lines = [f"  - column {d.column!r}: {d.finding.describe()}" for d in refused if d.finding]
    names = ", ".join(f"{_yaml_key(d.column)}: drop" for d in refused)
    return DataError(
        f"{source}: personal data that segmint does not store unless told what to do with it; nothing was "
        "written.\n" + "\n".join(lines) + "\n"
        "Choose for each column in segmint.yaml (drop: leave it out; hash: a keyed pseudonym; "
        "keep: store it as it is), for example:\n"
        f"privacy:\n  pii: {{{names}}}"
    )


def _yaml_key(column: str) -> str:
    return column if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column) else '"' + column.replace('"', '\\"') + '"'


def apply(con, t: ibis.Table, decisions: Mapping[str, Decision], key: bytes | None,
          default_country_code: str | None) -> ibis.Table | None:
    """The staged table with hashed columns replaced and dropped ones left out (None: nothing to do)."""
    actions = {c: d for c, d in decisions.items() if d.action in ("hash", "drop")}
    if not actions:
        return None
    if key is None:
        raise DataError("personal data columns found but no pseudonymisation key was given")
    hashed = [c for c, d in actions.items() if d.action == "hash"]
    if not hashed:
        return t.drop(*actions)
    pseudo = pii.Pseudonymiser(key, default_country_code=default_country_code)
    arrow = t.select("_rec", *[t[c].cast("string").name(c) for c in hashed]).to_pyarrow()
    replaced = {"_rec": arrow.column("_rec")}
    for c in hashed:
        finding = actions[c].finding
        if finding is not None and finding.embedded:
            replaced[c] = pseudo.pseudonymise_embedded(arrow.column(c), finding.kind)
        else:
            # a column hashed on request without being found keeps the old default kind, so its pseudonyms last
            replaced[c] = pseudo.pseudonymise(arrow.column(c), finding.kind if finding else "name")
    joined = t.select(*[c for c in t.columns if c not in actions]).join(ibis.memtable(pa.table(replaced)), "_rec")
    return joined.select(*[c for c in t.columns if c not in actions or actions[c].action == "hash"])
