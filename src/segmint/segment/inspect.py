"""Read stored runs: the list of segmentations, members, history, and migrations (between dates or versions)."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from segmint.errors import UnknownNameError
from segmint.segment import kinds
from segmint.segment import membership as ms
from segmint.segment.context import ID, SegmentContext, features_at, get_definition, hint, iso, resolver
from segmint.segment.results import History, Migration, SegmentationInfo
from segmint.segment.runs import label_table, model, run_of

__all__ = ["diff", "diff_versions", "history", "list_segmentations", "members"]


def list_segmentations(ctx: SegmentContext) -> list[SegmentationInfo]:
    """Every definition with its kind, description, stored versions and runs."""
    out = []
    for name, defn in ctx.definitions().items():
        runs = ms.runs(ctx.store, name)
        out.append(SegmentationInfo(
            name=name, kind=defn.kind, description=defn.description,
            segments=defn.segment_names() if hasattr(defn, "segment_names") else None,
            versions=[int(v["version"]) for v in ms.versions(ctx.store, name)], runs=len(runs),
            last_as_of=iso(pd.Timestamp(runs["as_of"].iloc[-1]).to_pydatetime()) if len(runs) else None))
    return out


def members(ctx: SegmentContext, name: str, segment: str | None = None, as_of: object = None,
            version: int | None = None) -> ir.Table:
    """Stored members of a run (latest by default): ``customer_id``, ``segment``; one segment or all."""
    version, when = run_of(ctx, name, as_of, version)
    t = ms.memberships(ctx.store, name, version, when)
    if segment is not None:
        doc = model(ctx, name, version)
        names = kinds.for_model(doc).segment_names(doc)
        if segment not in names:
            raise UnknownNameError(f"segmentation {name!r} has no segment {segment!r}; "
                                   f"{hint(segment, names)}segments: {', '.join(names)}")
        t = t.filter(t.segment == segment)
    return t.order_by([ID, "segment"])


def history(ctx: SegmentContext, name: str, version: int | None = None) -> History:
    """Segment sizes per ``as_of`` with customers who entered and left since the previous run."""
    version = run_of(ctx, name, None, version)[0]
    return History(name=name, version=version, frame=ms.history(ctx.store, name, version))


def _summary(mig: dict, top: int = 3) -> str:
    text = (f"{mig['moved_count']:,} of {mig['customers']:,} customers ({mig['moved_share']:.1%}) "
            "change segment")
    ch = mig["changes"].assign(turnover=lambda d: d.entered + d.left).sort_values("turnover", ascending=False)
    parts = [f"{r.segment}: {r.left:,} leave, {r.entered:,} enter" for r in ch.head(top).itertuples() if r.turnover]
    return text + ("; " + "; ".join(parts) if parts else "")


def _exclusive(ctx: SegmentContext, name: str, defs=None) -> bool:
    return kinds.get(get_definition(ctx, name, defs).kind).exclusive


def diff(ctx: SegmentContext, name: str, from_as_of: object, to_as_of: object, version: int | None = None) -> Migration:
    """Migration between two runs at two dates: matrix, per-segment changes, movers and a summary."""
    v1, d1 = run_of(ctx, name, from_as_of, version)
    v2, d2 = run_of(ctx, name, to_as_of, version)
    mig = ms.migration(ms.memberships(ctx.store, name, v1, d1), ms.memberships(ctx.store, name, v2, d2),
                       exclusive=_exclusive(ctx, name))
    note = "" if v1 == v2 else f" (versions differ: {v1} then {v2})"
    return Migration(**mig, from_as_of=iso(d1), to_as_of=iso(d2), from_version=v1, to_version=v2,
                     summary=_summary(mig) + note)


def diff_versions(ctx: SegmentContext, name: str, v1: int, v2: int, as_of: object = None) -> Migration:
    """What a definition change does at one date: the two versions' labels compared.

    A version without a stored run at ``as_of`` is applied to that snapshot on the fly
    (nothing is stored). ``as_of`` defaults to the latest run of ``v2``.
    """
    when = run_of(ctx, name, None, v2)[1] if as_of is None else features_at(ctx, as_of)[1]
    defs = ctx.definitions()
    sides = []
    for v in (v1, v2):
        doc = model(ctx, name, v)
        stored = ms.memberships(ctx.store, name, v, when)
        if int(stored.count().to_pyarrow().as_py()) == 0:
            table = features_at(ctx, when)[0]
            stored = label_table(doc, table, resolver(defs, table))
            stored = stored.filter(stored.segment.notnull()).select(ID, "segment")
        sides.append(stored)
    mig = ms.migration(sides[0], sides[1], exclusive=_exclusive(ctx, name, defs))
    return Migration(**mig, as_of=iso(when), from_version=int(v1), to_version=int(v2),
                     summary=f"version {v1} -> {v2} at {iso(when)}: " + _summary(mig))
