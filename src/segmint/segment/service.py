"""Compatibility: the segment service's old entry points, each a call of the :class:`~segmint.workspace.Workspace`.

The service was split (docs/segments.md): :mod:`segmint.segment.runs` (run and store),
:mod:`.inspect` (list, members, history, diffs), :mod:`.explain_run` (why, attrition),
:mod:`.preview` (rule preview), each taking a :class:`~segmint.segment.context.SegmentContext`;
the kinds live in :mod:`segmint.segment.kinds`. Call the workspace's methods; the names
here stay for code written against the old module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segmint.errors import SnapshotMissing
from segmint.segment.explain_run import RunCache
from segmint.segment.results import SegmentationResult
from segmint.segment.runs import apply_model, label_table

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segmint.segment.results import History, Migration, RulePreview, SegmentationInfo, Why
    from segmint.workspace import Workspace

__all__ = ["RunCache", "SegmentationResult", "SnapshotMissing", "apply_model", "diff", "diff_versions", "history",
           "label_table", "list_segmentations", "members", "preview_rule", "run_segmentation", "stored_model",
           "stored_run", "why"]


def __getattr__(name: str) -> Any:
    if name == "MODEL_KINDS":
        from segmint.segment import kinds

        return kinds.model_kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_segmentation(ws: Workspace, name: str, as_of: object = None, refit: bool = False) -> SegmentationResult:
    return ws.segment(name, as_of, refit)


def stored_run(ws: Workspace, name: str, as_of: object = None) -> SegmentationResult:
    return ws.stored_run(name, as_of)


def list_segmentations(ws: Workspace) -> list[SegmentationInfo]:
    return ws.segmentations()


def members(ws: Workspace, name: str, segment: str | None = None, as_of: object = None,
            version: int | None = None) -> ir.Table:
    return ws.members(name, segment, as_of, version)


def history(ws: Workspace, name: str, version: int | None = None) -> History:
    return ws.segment_history(name, version)


def diff(ws: Workspace, name: str, from_as_of: object, to_as_of: object, version: int | None = None) -> Migration:
    return ws.diff(name, from_as_of, to_as_of, version)


def diff_versions(ws: Workspace, name: str, v1: int, v2: int, as_of: object = None) -> Migration:
    return ws.diff_versions(name, v1, v2, as_of)


def why(ws: Workspace, name: str, customer_id: object, as_of: object = None, cache: RunCache | None = None) -> Why:
    return ws.why(name, str(customer_id), as_of, cache=cache)


def preview_rule(ws: Workspace, where: str, as_of: object = None, compute_snapshot: bool = True) -> RulePreview:
    return ws.preview_rule(where, as_of, compute_snapshot)


def stored_model(ws: Workspace, name: str, version: int) -> tuple[dict[str, Any], str]:
    return ws.stored_model(name, version)
