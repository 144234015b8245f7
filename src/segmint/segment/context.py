"""What the segment modules need from a workspace, and nothing more: :class:`SegmentContext`.

The runs, inspections, explanations and previews (:mod:`.runs`, :mod:`.inspect`,
:mod:`.explain_run`, :mod:`.preview`) take a context, never the
:class:`~segmint.workspace.Workspace` itself: the store, the feature settings, how to
load the definitions, and the cache of parsed model documents. The workspace builds one
per call (:meth:`segmint.workspace.Workspace.segments`), which costs a few attribute reads.

Also here: the definition and feature-snapshot look-ups every one of those modules starts with.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pandas as pd

from segmint.errors import ConfigError, DataError, SnapshotMissing, UnknownNameError, did_you_mean
from segmint.segment import kinds
from segmint.segment.definitions import Definition
from segmint.segment.model_cache import ModelDocs
from segmint.segment.rules import RuleSegmentation, resolver_for

if TYPE_CHECKING:
    from segmint.config import FeatureConfig, PlausibleDates
    from segmint.store import Store

__all__ = ["ID", "ModelDocs", "SegmentContext", "features_at", "get_definition", "iso", "require_snapshot",
           "resolver"]

ID = "customer_id"


@dataclass(frozen=True)
class SegmentContext:
    """The store, the feature settings, the definitions and the model cache of one workspace.

    Attributes
    ----------
    store : segmint.store.Store
    features : segmint.config.FeatureConfig
        Settings used when a snapshot has to be computed (and by the RFM template's check).
    load_definitions : callable
        Returns every definition by name (segmint.yaml, then segments/*.yaml); called when needed,
        so an edit of the files is seen by the next call.
    models : ModelDocs
        Parsed model documents, shared by every context of the workspace.
    plausible : PlausibleDates, optional
        The workspace's ``ingest.plausible_dates``, for every as_of given or derived.
    """

    store: Store
    features: FeatureConfig
    load_definitions: Callable[[], dict[str, Definition]]
    models: ModelDocs = field(default_factory=ModelDocs)
    #: ``ingest.plausible_dates``: an as_of outside it is refused (None: 1900 to a year from today).
    plausible: PlausibleDates | None = None

    def definitions(self) -> dict[str, Definition]:
        return self.load_definitions()


def iso(when: dt.datetime) -> str:
    """A run's as_of as the answers write it: a date, or a timestamp when it has a time."""
    return when.date().isoformat() if when.time() == dt.time() else when.isoformat()


def hint(name: str, choices: Iterable[str]) -> str:
    """ "did you mean 'x'? " when a close name exists, else nothing (the caller lists them all)."""
    text = did_you_mean(name, list(choices))
    return text + " " if text.startswith("did you mean") else ""


def get_definition(ctx: SegmentContext, name: str, defs: Mapping[str, Definition] | None = None) -> Definition:
    """The definition ``name``; :class:`UnknownNameError` with "did you mean" and the list when unknown."""
    defs = ctx.definitions() if defs is None else defs
    if name not in defs:
        known = ", ".join(defs) or "none (add one under segmentations: in segmint.yaml)"
        raise UnknownNameError(f"no segmentation {name!r}; {hint(name, defs)}defined: {known}")
    return defs[name]


_SNAPSHOT_LOCK = threading.Lock()


def features_at(ctx: SegmentContext, as_of: object = None) -> tuple[ir.Table, dt.datetime]:
    """The stored feature snapshot at ``as_of``, computed and stored first when missing.

    ``as_of=None`` means the day after the last order (the features module's default).
    """
    from segmint.features.asof import default_as_of, parse_as_of
    from segmint.features.snapshot import list_snapshots, load_features, snapshot

    when = (parse_as_of(as_of, ctx.plausible) if as_of is not None
            else default_as_of(ctx.store.table("orders"), ctx.plausible))
    if iso(when) not in {s["as_of"] for s in list_snapshots(ctx.store)}:
        # One thread at a time checks and computes (the server's job and a request may both need the
        # snapshot of a new date): two writers of the same date collided ("Conflict on tuple deletion")
        # or stored it twice.
        with _SNAPSHOT_LOCK:
            if iso(when) not in {s["as_of"] for s in list_snapshots(ctx.store)}:
                made = snapshot(ctx.store, when, ctx.features, plausible=ctx.plausible)
                if not made["customers"]:
                    raise DataError(_no_customers(ctx, when))
    return load_features(ctx.store, when), when


def _no_customers(ctx: SegmentContext, when: dt.datetime) -> str:
    """Why a snapshot at ``when`` has nobody in it, and what to do (instead of "no snapshot is stored")."""
    o = ctx.store.table("orders")
    first = o.ordered_at.min().to_pyarrow().as_py()
    held = ("the orders table is empty" if first is None
            else f"the first order is on {first.date().isoformat()}")
    return (f"no customers as of {iso(when)}: no order before that date and no customer signed up by then "
            f"({held}), so there is nothing to segment; ingest orders or customers first (`segmint ingest "
            "orders FILE`), or choose a later --as-of")


def require_snapshot(ctx: SegmentContext, as_of: object = None) -> dt.datetime:
    """The stored snapshot date for ``as_of`` (None: the latest); :class:`SnapshotMissing` when there is none."""
    from segmint.features.asof import default_as_of, parse_as_of
    from segmint.features.snapshot import list_snapshots

    stored = {s["as_of"]: s for s in list_snapshots(ctx.store)}
    dates = sorted(stored, key=lambda d: pd.Timestamp(d), reverse=True)
    if as_of is None and dates:
        return parse_as_of(dates[0])
    when = (parse_as_of(as_of, ctx.plausible) if as_of is not None
            else default_as_of(ctx.store.table("orders"), ctx.plausible))
    if iso(when) not in stored:
        some = ", ".join(dates[:5]) + (", ..." if len(dates) > 5 else "") if dates else "none yet"
        raise SnapshotMissing(
            f"no feature snapshot as of {iso(when)}: computing one can take minutes, so a preview does not "
            f"start it. Run a segmentation at that date first (POST /api/v1/segmentations/NAME/runs or "
            f"`segmint segment NAME --as-of {iso(when)}`), or preview as of a date that has one: {some}",
            iso(when), dates)
    return when


def resolver(defs: Mapping[str, Definition], table: ir.Table):
    """Resolve ``in_segment(...)`` against the referable (rule) definitions, evaluated on the same snapshot."""
    rule_defs: dict[str, RuleSegmentation] = {}
    for n, d in defs.items():
        rules = kinds.get(d.kind).rule_segmentation(d)
        if rules is not None:
            rule_defs[n] = rules
    inner = resolver_for(rule_defs, table)

    def resolve(segmentation: str, segment: str):
        if segmentation in defs and segmentation not in rule_defs:
            raise ConfigError(f"in_segment({segmentation!r}, ...) refers to a {defs[segmentation].kind} "
                              "segmentation; rules can refer to rules, audiences and rfm segmentations only")
        return inner(segmentation, segment)

    return resolve
