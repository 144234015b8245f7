"""Run a segmentation and store it; read a stored run back; label customers with a model.

``run_segmentation`` takes the feature snapshot at ``as_of`` (computing it when it is
not stored), fits what needs fitting (its kind's :meth:`~segmint.segment.kinds.base.SegmentationKind.fit`:
clusters on a bounded sample in memory, quantile tiers...), assigns every customer in the
engine and stores the model, the memberships and the reasons in one transaction.

Versions: a segmentation's *version* changes when its definition changes (ignoring
descriptions and rule spacing). The model of a version is fitted on the first run and
reused on later runs at other dates, so ``cluster_2`` or a CLV tier cut means the same
thing over time and migrations between dates are meaningful. ``refit=True`` fits again;
the result is a new version unless it equals a stored model (the same data, definition
and seed give the same model, so the same version).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from segmint.errors import ConfigError, DataError, RunMissing, UnknownNameError
from segmint.segment import kinds
from segmint.segment import membership as ms
from segmint.segment import model as docs
from segmint.segment.context import ID, SegmentContext, features_at, get_definition, iso, resolver
from segmint.segment.definitions import fingerprint
from segmint.segment.definitions import to_json as definition_json
from segmint.segment.reasons import reasons_table
from segmint.segment.results import SegmentationResult

__all__ = ["MODEL_KINDS", "SegmentationResult", "apply_model", "label_table", "model", "run_info", "run_of",
           "run_segmentation", "stored_run"]


def __getattr__(name: str) -> Any:
    # MODEL_KINDS follows the registry: a kind registered later reads its documents too.
    if name == "MODEL_KINDS":
        return kinds.model_kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------ models
def label_table(doc: Mapping[str, Any] | str, table: ir.Table, resolver=None) -> ir.Table:
    """Assign every row of ``table`` with a model: ``customer_id``, ``segment`` (one row per audience held)."""
    doc = kinds.check_doc(doc)
    return kinds.for_model(doc).label(doc, table, resolver)


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


def _selection(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {scope: {"k": d["selection"]["k"], "reason": d["selection"]["reason"],
                    "table": pd.DataFrame(d["selection"]["table"])}
            for scope, d in kinds.for_model(doc).selection(doc).items()}


# ---------------------------------------------------------------------------------- run
def run_segmentation(ctx: SegmentContext, name: str, as_of: object = None, refit: bool = False) -> SegmentationResult:
    """Run segmentation ``name`` at ``as_of`` and store the model and memberships (one transaction)."""
    defs = ctx.definitions()
    defn = get_definition(ctx, name, defs)
    kind = kinds.get(defn.kind)
    table, when = features_at(ctx, as_of)
    resolve = resolver(defs, table)
    store = ctx.store
    stored = ms.versions(store, name)
    fp = fingerprint(defn)
    same = [v for v in stored if v["fingerprint"] == fp]
    new_row, fitted = None, False
    if same and not refit:
        version, doc = int(same[-1]["version"]), kinds.check_doc(same[-1]["model"])
    else:
        doc, fitted = kind.fit(defn, table, kinds.FitContext(ctx.features, defs, resolve)), True
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
    checked = kinds.check_doc(doc)
    labels, reasons = label_table(checked, table, resolve), reasons_table(checked, table, resolve)
    if kinds.for_model(checked).is_exclusive(checked):
        # One segment per customer: labels and reasons, one row each per customer of the snapshot,
        # are stored together without reading the memberships back (see ms.write_run).
        rows = labels.left_join(reasons, labels[ID] == reasons[ID]).select(labels[ID], labels.segment,
                                                                          reasons.reasons)
        ms.write_run(store, name, version, when, rows, new_row, exclusive=True)
    else:  # audiences: several rows per customer, their segments collected from the memberships
        ms.write_run(store, name, version, when, labels, new_row, reasons=reasons)
    # the selection comes from the decoded document: floats (NaN for a k that failed the gate), not their JSON
    return _result(ctx, name, defn.kind, version, when, checked, new_row is not None, fitted, stored_doc=doc)


def stored_run(ctx: SegmentContext, name: str, as_of: object = None) -> SegmentationResult:
    """The stored run of ``name`` at ``as_of``, read back; segmented (and stored) first only when missing.

    ``as_of=None`` means the day after the last order, as for :func:`run_segmentation`. A
    stored run counts only when it was made with the current definition (same fingerprint):
    after an edit of the definition the segmentation runs again, as :func:`run_segmentation`
    would. ``fitted`` and ``new_version`` are False when the run was read back.
    """
    from segmint.features.asof import default_as_of, parse_as_of

    defn = get_definition(ctx, name)
    when = (parse_as_of(as_of, ctx.plausible) if as_of is not None
            else default_as_of(ctx.store.table("orders"), ctx.plausible))
    try:
        version, when = run_of(ctx, name, when)
    except DataError:  # never run at this as_of
        return run_segmentation(ctx, name, when)
    row = next((v for v in ms.versions(ctx.store, name) if int(v["version"]) == version), None)
    if row is None or row["fingerprint"] != fingerprint(defn):  # the definition changed since
        return run_segmentation(ctx, name, when)
    return _result(ctx, name, defn.kind, version, when, kinds.check_doc(row["model"]), False, False)


def _result(ctx: SegmentContext, name: str, kind: str, version: int, when: dt.datetime, doc: dict[str, Any],
            new_version: bool, fitted: bool, stored_doc: dict[str, Any] | None = None) -> SegmentationResult:
    rows = ms.memberships(ctx.store, name, version, when).order_by([ID, "segment"]).to_pyarrow().to_pandas()
    names = kinds.for_model(doc).segment_names(doc)
    counts = rows["segment"].value_counts()
    sizes = {n: int(counts.get(n, 0)) for n in names}
    sizes.update({str(n): int(c) for n, c in counts.items() if n not in sizes})
    if kinds.get(kind).exclusive:
        labels = rows.set_index(ID)["segment"]
    else:
        labels = pd.crosstab(rows[ID], rows["segment"]).astype(bool).reindex(columns=names, fill_value=False)
    return SegmentationResult(name=name, kind=kind, version=version, as_of=iso(when), labels=labels, sizes=sizes,
                              model=doc if stored_doc is None else stored_doc, new_version=new_version,
                              fitted=fitted, selection=_selection(doc))


# ------------------------------------------------------------------------------- reading
def run_of(ctx: SegmentContext, name: str, as_of: object = None, version: int | None = None) -> tuple[int, dt.datetime]:
    """The stored run to read: latest ``as_of`` (or the one given), latest version run there."""
    version, when, _ = run_info(ctx, name, as_of, version)
    return version, when


def run_info(ctx: SegmentContext, name: str, as_of: object = None, version: int | None = None,
             defined: bool = True) -> tuple[int, dt.datetime, bool]:
    """:func:`run_of` and whether that run stored its reasons (one small query, no pandas).

    ``defined=False`` reads stored runs without first checking that the definition still
    exists (parsing every definition costs more than the rest of a look-up); a name
    with no runs is still checked, so an unknown name gets its "did you mean".
    """
    from segmint.features.asof import _parse as _parse_as_of
    from segmint.features.asof import parse_as_of

    if defined:
        get_definition(ctx, name)
    every = ms.find_runs(ctx.store, name)
    if not every:
        get_definition(ctx, name)
        raise RunMissing(f"segmentation {name!r} has not been run yet; run `segmint segment {name}`")
    runs = every
    if version is not None:
        runs = [r for r in runs if r[0] == int(version)]
        if not runs:
            known = ", ".join(str(v["version"]) for v in ms.versions(ctx.store, name))
            raise UnknownNameError(f"segmentation {name!r} has no run of version {version}; versions: {known}")
    if as_of is not None:
        # Reading a stored run computes nothing: any well-formed date is looked up (a run stored at an
        # implausible date before segmint checked dates stays readable); one without a run is a RunMissing,
        # whose advice depends on whether a run could be made at that date.
        when = _parse_as_of(as_of)
        runs = [r for r in runs if pd.Timestamp(r[1]).to_pydatetime() == when]
        if not runs:
            dates = ", ".join(sorted({iso(pd.Timestamp(r[1]).to_pydatetime()) for r in every}))
            try:
                parse_as_of(when, ctx.plausible)
                advice = f"Run `segmint segment {name} --as-of {iso(when)}`"
            except ConfigError as exc:
                advice = str(exc)
            raise RunMissing(f"segmentation {name!r} has no run as of {iso(when)}; runs: {dates}. {advice}",
                             iso(when), dates.split(", "))
    last = max(runs, key=lambda r: (r[1], r[0]))
    return int(last[0]), pd.Timestamp(last[1]).to_pydatetime(), last[2]


def model(ctx: SegmentContext, name: str, version: int) -> dict[str, Any]:
    """The checked model document of a stored version."""
    row = next((v for v in ms.versions(ctx.store, name) if int(v["version"]) == int(version)), None)
    if row is None:
        raise UnknownNameError(f"segmentation {name!r} has no version {version}")
    return kinds.check_doc(row["model"])
