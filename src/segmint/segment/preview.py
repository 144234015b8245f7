"""Preview a rule on a stored snapshot: its size and what each condition keeps, nothing saved."""

from __future__ import annotations

from segmint.segment.context import SegmentContext, features_at, iso, require_snapshot, resolver
from segmint.segment.results import RulePreview
from segmint.segment.rules import attrition as rule_attrition

__all__ = ["preview_rule"]


def preview_rule(ctx: SegmentContext, where: str, as_of: object = None, compute_snapshot: bool = True) -> RulePreview:
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
        snapshot, and a date without one raises :class:`~segmint.errors.SnapshotMissing`
        instead of writing a snapshot on a request thread.
    """
    defs = ctx.definitions()
    if not compute_snapshot:
        as_of = require_snapshot(ctx, as_of)
    table, when = features_at(ctx, as_of)
    steps = rule_attrition(where, table, resolver(defs, table))
    base = int(steps.attrs["base"])
    # The rule holds exactly when all of its top-level AND parts do: the last cumulative count.
    size = int(steps["kept_cumulative"].iloc[-1]) if len(steps) else base
    return RulePreview(where=where, as_of=iso(when), base=base, size=size, share=size / base if base else 0.0,
                       conditions=steps.to_dict(orient="records"))
