"""What the Workspace calls to run, store, inspect and compare segmentations.

``run_segmentation`` takes the feature snapshot at ``as_of`` (computing it when it is
not stored), fits what needs fitting (clusters on a bounded sample in memory, quantile
tiers), assigns every customer in the engine and stores the model and the memberships
in one transaction.

Versions: a segmentation's *version* changes when its definition changes (ignoring
descriptions and rule spacing). The model of a version is fitted on the first run and
reused on later runs at other dates, so ``cluster_2`` or a CLV tier cut means the same
thing over time and migrations between dates are meaningful. ``refit=True`` fits again;
the result is a new version unless it equals a stored model (the same data, definition
and seed give the same model, so the same version).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from segmint.errors import ConfigError, DataError, UnknownNameError, did_you_mean
from segmint.segment import membership as ms
from segmint.segment import model as docs
from segmint.segment.definitions import (
    ClusterDef,
    Definition,
    RuleDef,
    TierDef,
    fingerprint,
    load_definitions,
)
from segmint.segment.definitions import to_json as definition_json
from segmint.segment.reasons import cached_plan, explain_stored, reasons_table
from segmint.segment.rfm_template import RFM_BINS
from segmint.segment.rule_compile import catalog_from_schema
from segmint.segment.rules import RuleSegmentation, explain, resolver_for
from segmint.segment.rules import attrition as rule_attrition

__all__ = [
    "RunCache",
    "SegmentationResult",
    "SnapshotMissing",
    "apply_model",
    "attrition",
    "diff",
    "diff_versions",
    "features_at",
    "get_definition",
    "history",
    "label_table",
    "list_segmentations",
    "members",
    "preview_rule",
    "run_segmentation",
    "stored_model",
    "stored_run",
    "why",
]

ID = "customer_id"
MODEL_KINDS = ("rules", "cluster", "hybrid", "tiers")


@dataclass
class SegmentationResult:
    """One stored run of a segmentation.

    ``labels`` is a Series (segment per customer) for exclusive kinds and a boolean
    DataFrame (one column per audience) for audiences, indexed by ``customer_id``.
    ``selection`` maps the clustered scope (``"all"``, or the segment of a hybrid) to its
    chosen ``k``, the ``reason`` and the k-selection ``table``.
    """

    name: str
    kind: str
    version: int
    as_of: str
    labels: pd.Series | pd.DataFrame
    sizes: dict[str, int]
    model: dict[str, Any]
    new_version: bool = False
    fitted: bool = False
    selection: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def k(self) -> int | None:
        return self.selection["all"]["k"] if "all" in self.selection else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-customer labels)."""
        return {"name": self.name, "kind": self.kind, "version": self.version, "as_of": self.as_of,
                "customers": len(self.labels), "sizes": self.sizes, "new_version": self.new_version,
                "fitted": self.fitted,
                "selection": {s: {"k": v["k"], "reason": v["reason"], "table": v["table"].to_dict(orient="records")}
                              for s, v in self.selection.items()}}


# ------------------------------------------------------------------ definitions and features
def get_definition(ws, name: str, defs: Mapping[str, Definition] | None = None) -> Definition:
    defs = load_definitions(ws) if defs is None else defs
    if name not in defs:
        known = ", ".join(defs) or "none (add one under segmentations: in segmint.yaml)"
        raise UnknownNameError(f"no segmentation {name!r}; {_hint(name, defs)}defined: {known}")
    return defs[name]


def _hint(name: str, choices) -> str:
    """ "did you mean 'x'? " when a close name exists, else nothing (the caller lists them all)."""
    hint = did_you_mean(name, list(choices))
    return hint + " " if hint.startswith("did you mean") else ""


def _iso(when: dt.datetime) -> str:
    return when.date().isoformat() if when.time() == dt.time() else when.isoformat()


def features_at(ws, as_of: object = None) -> tuple[ir.Table, dt.datetime]:
    """The stored feature snapshot at ``as_of``, computed and stored first when missing.

    ``as_of=None`` means the day after the last order (the features module's default).
    """
    from segmint.features.asof import default_as_of, parse_as_of
    from segmint.features.snapshot import list_snapshots, load_features, snapshot

    when = parse_as_of(as_of) if as_of is not None else default_as_of(ws.store.table("orders"))
    if _iso(when) not in {s["as_of"] for s in list_snapshots(ws.store)}:
        snapshot(ws.store, when, ws.config.features)
    return load_features(ws.store, when), when


def _require_snapshot(ws, as_of: object = None) -> dt.datetime:
    """The stored snapshot date for ``as_of`` (None: the latest); :class:`SnapshotMissing` when there is none."""
    from segmint.features.asof import default_as_of, parse_as_of
    from segmint.features.snapshot import list_snapshots

    stored = {s["as_of"]: s for s in list_snapshots(ws.store)}
    dates = sorted(stored, key=lambda d: pd.Timestamp(d), reverse=True)
    if as_of is None and dates:
        return parse_as_of(dates[0])
    when = parse_as_of(as_of) if as_of is not None else default_as_of(ws.store.table("orders"))
    if _iso(when) not in stored:
        some = ", ".join(dates[:5]) + (", ..." if len(dates) > 5 else "") if dates else "none yet"
        raise SnapshotMissing(
            f"no feature snapshot as of {_iso(when)}: computing one can take minutes, so a preview does not "
            f"start it. Run a segmentation at that date first (POST /api/v1/segmentations/NAME/runs or "
            f"`segmint segment NAME --as-of {_iso(when)}`), or preview as of a date that has one: {some}",
            _iso(when), dates)
    return when


def _rule_like(defs: Mapping[str, Definition]) -> dict[str, RuleSegmentation]:
    return {n: RuleSegmentation(d.rule_pairs(), else_=d.else_, exclusive=d.exclusive)
            for n, d in defs.items() if isinstance(d, RuleDef) and d.kind != "hybrid"}


def _resolver(defs: Mapping[str, Definition], table: ir.Table):
    """Resolve ``in_segment(...)`` against other rule definitions, evaluated on the same snapshot."""
    rule_defs = _rule_like(defs)
    inner = resolver_for(rule_defs, table)

    def resolve(segmentation: str, segment: str):
        if segmentation in defs and segmentation not in rule_defs:
            raise ConfigError(f"in_segment({segmentation!r}, ...) refers to a {defs[segmentation].kind} "
                              "segmentation; rules can refer to rules, audiences and rfm segmentations only")
        return inner(segmentation, segment)

    return resolve


# ------------------------------------------------------------------------------ models
def _fit(ws, defn: Definition, table: ir.Table, resolver) -> dict[str, Any]:
    from segmint.segment.hybrid import fit_cluster, fit_hybrid
    from segmint.segment.tiers import fit_tiers

    if isinstance(defn, TierDef):
        return fit_tiers(defn, table)
    if isinstance(defn, ClusterDef):
        return fit_cluster(defn, table).to_dict()
    if defn.kind == "rfm" and ws.config.features.rfm_bins != RFM_BINS:
        raise ConfigError(f"the built-in RFM template is written for scores 1..{RFM_BINS}, but features.rfm_bins "
                          f"is {ws.config.features.rfm_bins}; print it with `segmint segment --template rfm`, "
                          "adapt the rules and use kind: rules")
    defs = load_definitions(ws)
    segs = {n: (d.segment_names() if hasattr(d, "segment_names") else []) for n, d in defs.items()}
    rules = RuleSegmentation(defn.rule_pairs(), else_=defn.else_, exclusive=defn.exclusive)
    rules.check(catalog_from_schema(table.schema()), segs)  # unknown feature: "did you mean"
    if defn.kind == "hybrid":
        return fit_hybrid(defn, table, resolver)
    return docs.to_jsonable({**docs.model_header("rules"), "segmentation_kind": defn.kind, "rules": rules.to_dict()})


def _check_doc(doc: Mapping[str, Any] | str) -> dict[str, Any]:
    doc = docs.loads(doc) if isinstance(doc, str) else docs.from_jsonable(dict(doc))
    kind = doc.get("kind") if isinstance(doc, dict) else None
    # The header check comes first, so a document from an unknown version is refused as such.
    docs.check_model_header(doc, kind if kind in MODEL_KINDS else str(kind))
    if kind not in MODEL_KINDS:
        raise ConfigError(f"model document of unknown kind {kind!r}; {did_you_mean(str(kind), MODEL_KINDS)}")
    return doc


def label_table(doc: Mapping[str, Any] | str, table: ir.Table, resolver=None) -> ir.Table:
    """Assign every row of ``table`` with a model: ``customer_id``, ``segment`` (one row per audience held)."""
    from segmint.segment.assign import assign_expression
    from segmint.segment.hybrid import hybrid_expression
    from segmint.segment.tiers import tier_expression

    doc = _check_doc(doc)
    kind = doc["kind"]
    if kind == "rules":
        rules = RuleSegmentation.from_dict(doc["rules"])
        if not rules.exclusive:
            conds = rules.compile(table, resolver)
            parts = [table.filter(c).select(table[ID], segment=ibis.literal(n, type="string"))
                     for n, c in conds.items()]
            out = parts[0]
            for p in parts[1:]:
                out = out.union(p)
            return out
        segment = rules.compile(table, resolver)
    elif kind == "cluster":
        segment = assign_expression(doc, table)
    elif kind == "hybrid":
        segment = hybrid_expression(doc, table, resolver)
    else:
        segment = tier_expression(doc, table)
    return table.select(table[ID], segment=segment)


def _exclusive(doc: Mapping[str, Any]) -> bool:
    """Whether a model gives each customer one segment at most (every kind but audiences)."""
    return doc["kind"] != "rules" or RuleSegmentation.from_dict(doc["rules"]).exclusive


def apply_model(model_doc: Mapping[str, Any] | str, features, resolver=None) -> ir.Table:
    """Label customers with a fitted model without refitting.

    Parameters
    ----------
    model_doc : dict or str
        A model document (as stored, or ``SegmentationResult.model``), or its JSON text.
    features : ibis.Table, pandas.DataFrame or pyarrow.Table
        One row per customer with ``customer_id`` and the features the model uses.
    resolver : callable, optional
        Segment resolver for rules using ``in_segment``.

    Returns
    -------
    ibis.Table
        ``customer_id`` and ``segment``, sorted by ``customer_id`` (audiences: one row per membership).

    Raises
    ------
    ModelVersionError
        The document comes from a format version or segmint major version this one cannot read.
    """
    if isinstance(features, pd.DataFrame):
        features = pa.Table.from_pandas(features, preserve_index=False)
    if isinstance(features, pa.Table):
        features = ibis.memtable(features)
    return label_table(model_doc, features, resolver).order_by([ID, "segment"])


def _segment_names(doc: Mapping[str, Any]) -> list[str]:
    from segmint.segment.cluster import NOISE
    from segmint.segment.hybrid import hybrid_segments

    kind = doc["kind"]
    if kind == "rules":
        return RuleSegmentation.from_dict(doc["rules"]).names
    if kind == "cluster":
        return list(doc["segments"]) + ([NOISE] if doc["algorithm"] == "hdbscan" else [])
    if kind == "hybrid":
        return hybrid_segments(doc)
    return list(doc["labels"]) + ([doc["missing"]] if doc["missing"] else [])


def _selection(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    docs_by_scope = {"all": doc} if doc["kind"] == "cluster" else dict(doc.get("clusters") or {})
    return {scope: {"k": d["selection"]["k"], "reason": d["selection"]["reason"],
                    "table": pd.DataFrame(d["selection"]["table"])} for scope, d in docs_by_scope.items()}


# ---------------------------------------------------------------------------------- run
def run_segmentation(ws, name: str, as_of: object = None, refit: bool = False) -> SegmentationResult:
    """Run segmentation ``name`` at ``as_of`` and store the model and memberships (one transaction)."""
    defs = load_definitions(ws)
    defn = get_definition(ws, name, defs)
    table, when = features_at(ws, as_of)
    resolver = _resolver(defs, table)
    store = ws.store
    stored = ms.versions(store, name)
    fp = fingerprint(defn)
    same = [v for v in stored if v["fingerprint"] == fp]
    new_row, fitted = None, False
    if same and not refit:
        version, doc = int(same[-1]["version"]), _check_doc(same[-1]["model"])
    else:
        doc, fitted = _fit(ws, defn, table, resolver), True
        text = docs.dumps(doc)
        match = next((v for v in reversed(same) if v["model"] == text), None)
        if match is not None:
            version = int(match["version"])
        else:
            version = max((int(v["version"]) for v in stored), default=0) + 1
            new_row = {"name": name, "version": version, "kind": defn.kind, "fingerprint": fp,
                       "definition": definition_json(defn), "model": text, "fitted_as_of": when,
                       "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
    # Reasons come from the same snapshot and resolver as the labels, in the same transaction.
    checked = _check_doc(doc)
    labels, reasons = label_table(checked, table, resolver), reasons_table(checked, table, resolver)
    if _exclusive(checked):
        # One segment per customer: labels and reasons, one row each per customer of the snapshot,
        # are stored together without reading the memberships back (see ms.write_run).
        rows = labels.left_join(reasons, labels[ID] == reasons[ID]).select(labels[ID], labels.segment,
                                                                          reasons.reasons)
        ms.write_run(store, name, version, when, rows, new_row, exclusive=True)
    else:  # audiences: several rows per customer, their segments collected from the memberships
        ms.write_run(store, name, version, when, labels, new_row, reasons=reasons)
    return _result(ws, name, defn.kind, version, when, doc, new_row is not None, fitted)


def stored_run(ws, name: str, as_of: object = None) -> SegmentationResult:
    """The stored run of ``name`` at ``as_of``, read back; segmented (and stored) first only when missing.

    ``as_of=None`` means the day after the last order, as for :func:`run_segmentation`. A
    stored run counts only when it was made with the current definition (same fingerprint):
    after an edit of the definition the segmentation runs again, as :func:`run_segmentation`
    would. ``fitted`` and ``new_version`` are False when the run was read back.
    """
    from segmint.features.asof import default_as_of, parse_as_of

    defn = get_definition(ws, name)
    when = parse_as_of(as_of) if as_of is not None else default_as_of(ws.store.table("orders"))
    try:
        version, when = _run(ws, name, when)
    except DataError:  # never run at this as_of
        return run_segmentation(ws, name, when)
    row = next((v for v in ms.versions(ws.store, name) if int(v["version"]) == version), None)
    if row is None or row["fingerprint"] != fingerprint(defn):  # the definition changed since
        return run_segmentation(ws, name, when)
    return _result(ws, name, defn.kind, version, when, _check_doc(row["model"]), False, False)


def _result(ws, name, kind, version, when, doc, new_version, fitted) -> SegmentationResult:
    rows = ms.memberships(ws.store, name, version, when).order_by([ID, "segment"]).to_pyarrow().to_pandas()
    names = _segment_names(doc)
    counts = rows["segment"].value_counts()
    sizes = {n: int(counts.get(n, 0)) for n in names}
    sizes.update({str(n): int(c) for n, c in counts.items() if n not in sizes})
    if kind == "audiences":
        labels = pd.crosstab(rows[ID], rows["segment"]).astype(bool).reindex(columns=names, fill_value=False)
    else:
        labels = rows.set_index(ID)["segment"]
    return SegmentationResult(name=name, kind=kind, version=version, as_of=_iso(when), labels=labels, sizes=sizes,
                              model=doc, new_version=new_version, fitted=fitted, selection=_selection(doc))


# ------------------------------------------------------------------------------- reading
def list_segmentations(ws) -> list[dict[str, Any]]:
    """Every definition with its kind, description, stored versions and runs."""
    out = []
    for name, defn in load_definitions(ws).items():
        runs = ms.runs(ws.store, name)
        out.append({"name": name, "kind": defn.kind, "description": defn.description,
                    "segments": defn.segment_names() if hasattr(defn, "segment_names") else None,
                    "versions": [int(v["version"]) for v in ms.versions(ws.store, name)],
                    "runs": len(runs),
                    "last_as_of": _iso(pd.Timestamp(runs["as_of"].iloc[-1]).to_pydatetime()) if len(runs) else None})
    return out


def _run(ws, name: str, as_of: object = None, version: int | None = None) -> tuple[int, dt.datetime]:
    """The stored run to read: latest ``as_of`` (or the one given), latest version run there."""
    version, when, _ = _run_info(ws, name, as_of, version)
    return version, when


def _run_info(ws, name: str, as_of: object = None, version: int | None = None,
              defined: bool = True) -> tuple[int, dt.datetime, bool]:
    """:func:`_run` and whether that run stored its reasons (one small query, no pandas).

    ``defined=False`` reads stored runs without first checking that the definition still
    exists (parsing every definition costs more than the rest of a look-up); a name
    with no runs is still checked, so an unknown name gets its "did you mean".
    """
    from segmint.features.asof import parse_as_of

    if defined:
        get_definition(ws, name)
    every = ms.find_runs(ws.store, name)
    if not every:
        get_definition(ws, name)
        raise DataError(f"segmentation {name!r} has not been run yet; run `segmint segment {name}`")
    runs = every
    if version is not None:
        runs = [r for r in runs if r[0] == int(version)]
        if not runs:
            known = ", ".join(str(v["version"]) for v in ms.versions(ws.store, name))
            raise UnknownNameError(f"segmentation {name!r} has no run of version {version}; versions: {known}")
    if as_of is not None:
        when = parse_as_of(as_of)
        runs = [r for r in runs if pd.Timestamp(r[1]) == pd.Timestamp(when)]
        if not runs:
            dates = ", ".join(sorted({_iso(pd.Timestamp(r[1]).to_pydatetime()) for r in every}))
            raise DataError(f"segmentation {name!r} has no run as of {_iso(when)}; runs: {dates}. "
                            f"Run `segmint segment {name} --as-of {_iso(when)}`")
    last = max(runs, key=lambda r: (r[1], r[0]))
    return int(last[0]), pd.Timestamp(last[1]).to_pydatetime(), last[2]


def _model(ws, name: str, version: int) -> dict[str, Any]:
    row = next((v for v in ms.versions(ws.store, name) if int(v["version"]) == int(version)), None)
    if row is None:
        raise UnknownNameError(f"segmentation {name!r} has no version {version}")
    return _check_doc(row["model"])


def members(ws, name: str, segment: str | None = None, as_of: object = None, version: int | None = None) -> ir.Table:
    """Stored members of a run (latest by default): ``customer_id``, ``segment``; one segment or all."""
    version, when = _run(ws, name, as_of, version)
    t = ms.memberships(ws.store, name, version, when)
    if segment is not None:
        names = _segment_names(_model(ws, name, version))
        if segment not in names:
            raise UnknownNameError(f"segmentation {name!r} has no segment {segment!r}; "
                                   f"{_hint(segment, names)}segments: {', '.join(names)}")
        t = t.filter(t.segment == segment)
    return t.order_by([ID, "segment"])


def history(ws, name: str, version: int | None = None) -> pd.DataFrame:
    """Segment sizes per ``as_of`` with customers who entered and left since the previous run."""
    version = _run(ws, name, None, version)[0]
    return ms.history(ws.store, name, version)


def _summary(mig: dict[str, Any], top: int = 3) -> str:
    text = (f"{mig['moved_count']:,} of {mig['customers']:,} customers ({mig['moved_share']:.1%}) "
            "change segment")
    ch = mig["changes"].assign(turnover=lambda d: d.entered + d.left).sort_values("turnover", ascending=False)
    parts = [f"{r.segment}: {r.left:,} leave, {r.entered:,} enter" for r in ch.head(top).itertuples() if r.turnover]
    return text + ("; " + "; ".join(parts) if parts else "")


def diff(ws, name: str, from_as_of: object, to_as_of: object, version: int | None = None) -> dict[str, Any]:
    """Migration between two runs at two dates: matrix, per-segment changes, movers and a summary."""
    v1, d1 = _run(ws, name, from_as_of, version)
    v2, d2 = _run(ws, name, to_as_of, version)
    kind = get_definition(ws, name).kind
    mig = ms.migration(ms.memberships(ws.store, name, v1, d1), ms.memberships(ws.store, name, v2, d2),
                       exclusive=kind != "audiences")
    note = "" if v1 == v2 else f" (versions differ: {v1} then {v2})"
    return {**mig, "from": _iso(d1), "to": _iso(d2), "from_version": v1, "to_version": v2,
            "summary": _summary(mig) + note}


def diff_versions(ws, name: str, v1: int, v2: int, as_of: object = None) -> dict[str, Any]:
    """What a definition change does at one date: the two versions' labels compared.

    A version without a stored run at ``as_of`` is applied to that snapshot on the fly
    (nothing is stored). ``as_of`` defaults to the latest run of ``v2``.
    """
    when = _run(ws, name, None, v2)[1] if as_of is None else features_at(ws, as_of)[1]
    defs = load_definitions(ws)
    sides = []
    for v in (v1, v2):
        doc = _model(ws, name, v)
        stored = ms.memberships(ws.store, name, v, when)
        if int(stored.count().to_pyarrow().as_py()) == 0:
            table = features_at(ws, when)[0]
            stored = label_table(doc, table, _resolver(defs, table))
            stored = stored.filter(stored.segment.notnull()).select(ID, "segment")
        sides.append(stored)
    kind = get_definition(ws, name, defs).kind
    mig = ms.migration(sides[0], sides[1], exclusive=kind != "audiences")
    return {**mig, "as_of": _iso(when), "from_version": int(v1), "to_version": int(v2),
            "summary": f"version {v1} -> {v2} at {_iso(when)}: " + _summary(mig)}


# -------------------------------------------------------------------------- explanations
_DOCS: dict[str, dict[str, Any]] = {}
_DOCS_LOCK = threading.Lock()


def stored_model(ws, name: str, version: int) -> tuple[dict[str, Any], str]:
    """A version's checked model document and its text, parsed once per process.

    A stored version's model never changes (a new model is a new version), so its text
    is a safe key; the look-up reads the text with one small query and skips the parse.
    """
    text = ms.model_text(ws.store, name, version)
    if text is None:
        raise UnknownNameError(f"segmentation {name!r} has no version {version}")
    with _DOCS_LOCK:
        doc = _DOCS.get(text)
    if doc is None:
        doc = _check_doc(text)
        with _DOCS_LOCK:
            if len(_DOCS) >= 64:
                _DOCS.clear()
            _DOCS[text] = doc
    return doc, text


class RunCache:
    """Stored-run answers for repeated look-ups: which run ``(name, as_of)`` means, and its model.

    Valid while this process stores no run (:func:`segmint.segment.membership.writes`);
    another process cannot store one while this one holds the workspace open. The
    server keeps one per app, so a look-up runs one query instead of three.
    """

    def __init__(self) -> None:
        self._items: dict[tuple, tuple[int, tuple]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple | None:
        entry = self._items.get(key)
        return entry[1] if entry is not None and entry[0] == ms.writes() else None

    def put(self, key: tuple, generation: int, value: tuple) -> None:
        with self._lock:
            if len(self._items) > 1024:
                self._items.clear()
            self._items[key] = (generation, value)


def why(ws, name: str, customer_id: object, as_of: object = None, cache: RunCache | None = None) -> dict[str, Any]:
    """Why a customer is in their segment(s): rule conditions held or failed, or cluster distances.

    Runs store their reasons (:mod:`segmint.segment.reasons`), so this is three small
    queries (the run, the model, the customer's row); a run stored before reasons
    existed is explained by evaluating the rules on its feature snapshot, with the same
    result. Stored runs are explained even when their definition has since been removed.
    With a :class:`RunCache`, repeated look-ups skip the first two queries.

    Raises
    ------
    UnknownNameError
        Unknown segmentation, or a customer who is not in the run's feature snapshot.
    DataError
        The segmentation has no run (at ``as_of``).
    """
    key = (str(ws.store.path), name, None if as_of is None else str(as_of))
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        generation = ms.writes()  # read before the tables: see RunCache
        version, when, stored = _run_info(ws, name, as_of, defined=False)
        doc, text = stored_model(ws, name, version)
        hit = (version, when, stored, doc, text)
        if cache is not None:
            cache.put(key, generation, hit)
    version, when, stored, doc, text = hit
    cid = str(customer_id)
    header = {"segmentation": name, "kind": doc["kind"], "version": version, "as_of": _iso(when),
              "customer_id": cid}
    if stored:
        found = ms.lookup(ws.store, name, version, when, cid)
        if found is None:
            raise UnknownNameError(f"customer {cid!r} is not in the feature snapshot as of {_iso(when)}")
        assigned, payload = found
        return {**header, "segments": assigned,
                **explain_stored(doc, payload, assigned, cached_plan(doc, text))}
    return _why_computed(ws, name, doc, version, when, cid)


def _why_computed(ws, name: str, doc: dict[str, Any], version: int, when: dt.datetime, cid: str) -> dict[str, Any]:
    """``why`` for a run without stored reasons: evaluate every rule on the feature snapshot."""
    from segmint.features.snapshot import load_features
    from segmint.segment.hybrid import explain_cluster
    from segmint.segment.tiers import describe_band

    table = load_features(ws.store, when)
    assigned = (ms.memberships(ws.store, name, version, when).filter(lambda t: t.customer_id == cid)
                .order_by("segment").to_pyarrow()["segment"].to_pylist())
    row = table.filter(table[ID] == cid).to_pyarrow().to_pandas()
    if row.empty:
        raise UnknownNameError(f"customer {cid!r} is not in the feature snapshot as of {_iso(when)}")
    out: dict[str, Any] = {"segmentation": name, "kind": doc["kind"], "version": version, "as_of": _iso(when),
                           "customer_id": cid, "segments": assigned}
    rules_doc = doc.get("rules")
    if rules_doc is not None:
        resolver = _resolver(load_definitions(ws), table)
        out["rules"] = []
        for seg in rules_doc["segments"]:
            steps = explain(seg["where"], table, ID, cid, resolver)
            out["rules"].append({"segment": seg["name"], "where": seg["where"], "held": bool(steps["held"][0] is True),
                                 "conditions": steps.to_dict(orient="records")})
    if doc["kind"] == "cluster":
        out["cluster"] = explain_cluster(doc, row)
    elif doc["kind"] == "hybrid":
        for segment, cdoc in doc["clusters"].items():
            if any(a.startswith(segment + "/") for a in assigned):
                out["cluster"] = explain_cluster(cdoc, row)
    elif doc["kind"] == "tiers":
        value = row[doc["feature"]].iloc[0]
        out["tier"] = {"feature": doc["feature"], "value": None if pd.isna(value) else float(value),
                       "band": describe_band(doc, assigned[0]) if assigned else None, "cuts": doc["cuts"]}
    return out


def attrition(ws, name: str, as_of: object = None) -> dict[str, pd.DataFrame]:
    """Per rule segment: how many customers each AND condition keeps, alone and cumulatively."""
    defs = load_definitions(ws)
    defn = get_definition(ws, name, defs)
    if not isinstance(defn, RuleDef):
        raise ConfigError(f"segmentation {name!r} is of kind {defn.kind}; attrition applies to rule segments")
    table, _ = features_at(ws, as_of)
    resolver = _resolver(defs, table)
    return {s.name: rule_attrition(s.where, table, resolver) for s in defn.segments}


class SnapshotMissing(DataError):
    """No feature snapshot is stored at the date asked for (and the caller did not want one computed).

    ``as_of`` is the date (ISO text), ``available`` the dates that have one, newest first.
    """

    def __init__(self, message: str, as_of: str, available: list[str]) -> None:
        super().__init__(message)
        self.as_of = as_of
        self.available = available


def preview_rule(ws, where: str, as_of: object = None, compute_snapshot: bool = True) -> dict[str, Any]:
    """Size and condition attrition of a rule on the snapshot, without saving anything.

    Parameters
    ----------
    where : str
        The rule.
    as_of : date-like, optional
        Snapshot date; default the day after the last order.
    compute_snapshot : bool, default True
        Compute and store the snapshot when it is missing (seconds to minutes on a large
        shop). The server passes False: ``as_of=None`` then means the latest stored
        snapshot, and a date without one raises :class:`SnapshotMissing` instead of
        writing a snapshot on a request thread.
    """
    defs = load_definitions(ws)
    if not compute_snapshot:
        as_of = _require_snapshot(ws, as_of)
    table, when = features_at(ws, as_of)
    steps = rule_attrition(where, table, _resolver(defs, table))
    base = int(steps.attrs["base"])
    # The rule holds exactly when all of its top-level AND parts do: the last cumulative count.
    size = int(steps["kept_cumulative"].iloc[-1]) if len(steps) else base
    return {"where": where, "as_of": _iso(when), "base": base, "size": size,
            "share": size / base if base else 0.0, "conditions": steps.to_dict(orient="records")}
