"""What the workspace's segment methods return: typed results, each with a ``to_dict()`` for JSON.

``to_dict()`` gives the JSON the CLI's ``--json`` prints (and the API serves, where it
serves the same thing): these classes are the one place that shape is written down.

Examples
--------
>>> info = SegmentationInfo("value", "tiers", None, ["Low", "High"], [1], 2, "2025-06-01")
>>> info.to_dict()["last_as_of"]
'2025-06-01'
>>> table = pd.DataFrame({"k": [2, 3], "mean_rank": [1.5, float("nan")]})
>>> selection_json({"all": {"k": 2, "reason": "best", "table": table}})["all"]["table"]
[{'k': 2, 'mean_rank': 1.5}, {'k': 3, 'mean_rank': None}]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import pandas as pd

__all__ = ["History", "Migration", "RulePreview", "SegmentationInfo", "SegmentationResult", "Why",
           "selection_json"]


def _finite(value: Any) -> Any:
    """NaN and infinities as None (JSON has no NaN), everything else as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def selection_json(selection: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The k-selection of each clustered scope as JSON; NaN (a gap or BIC not computed) becomes null."""
    return {s: {"k": v["k"], "reason": v["reason"],
                "table": [{c: _finite(x) for c, x in r.items()} for r in v["table"].to_dict(orient="records")]}
            for s, v in selection.items()}


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
                "fitted": self.fitted, "selection": selection_json(self.selection)}


@dataclass
class SegmentationInfo:
    """One defined segmentation: its kind, description, segments, stored versions and runs."""

    name: str
    kind: str
    description: str | None
    segments: list[str] | None
    versions: list[int]
    runs: int
    last_as_of: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description, "segments": self.segments,
                "versions": self.versions, "runs": self.runs, "last_as_of": self.last_as_of}


@dataclass
class History:
    """Segment sizes per run date of one version, with how many customers entered and left.

    ``frame`` has ``as_of`` (timestamp), ``segment``, ``size``, ``entered``, ``left`` (null
    on the first date: nothing to compare with).
    """

    name: str
    version: int
    frame: pd.DataFrame

    def to_records(self) -> list[dict[str, Any]]:
        """One record per date and segment (``segmint history --json``): dates as ``YYYY-MM-DD``."""
        df = self.frame
        return [{"as_of": r["as_of"].date().isoformat() if r["as_of"].time().isoformat() == "00:00:00"
                 else r["as_of"].isoformat(), "segment": r["segment"],
                 **{c: (None if r[c] is None else int(r[c])) for c in ("size", "entered", "left")}}
                for r in df.astype(object).where(df.notna(), None).to_dict(orient="records")]

    def _rows(self) -> list[dict[str, Any]]:
        # as the API has always written them: as_of an ISO timestamp, missing counts null
        return [{"as_of": None if pd.isna(r["as_of"]) else pd.Timestamp(r["as_of"]).isoformat(),
                 "segment": r["segment"],
                 **{c: (None if pd.isna(r[c]) else int(r[c])) for c in ("size", "entered", "left")}}
                for r in self.frame.to_dict(orient="records")]

    def series(self) -> list[dict[str, Any]]:
        """``as_of`` (ISO timestamp), ``segment``, ``customers``: the points of the dashboard's chart."""
        return [{"as_of": r["as_of"], "segment": r["segment"], "customers": r["size"]} for r in self._rows()]

    def to_dict(self) -> dict[str, Any]:
        """What ``GET /api/v1/segmentations/NAME/history`` serves: ``name``, ``series`` and the raw ``history``."""
        rows = self._rows()
        return {"name": self.name,
                "series": [{"as_of": r["as_of"], "segment": r["segment"], "customers": r["size"]} for r in rows],
                "history": rows}


@dataclass
class Migration:
    """Who moved between two runs: two dates of a segmentation, or two versions at one date.

    ``matrix``: counts, rows the segment before, columns the segment after (None for
    audiences); ``changes``: per segment ``before``, ``after``, ``stayed``, ``entered``,
    ``left``; ``moved``: an Ibis table of the customers who moved. ``from_as_of`` and
    ``to_as_of`` are set for a migration between dates, ``as_of`` for one between versions.
    """

    matrix: pd.DataFrame | None
    changes: pd.DataFrame
    moved: ir.Table
    customers: int
    moved_count: int
    moved_share: float
    from_version: int
    to_version: int
    summary: str
    from_as_of: str | None = None
    to_as_of: str | None = None
    as_of: str | None = None

    def stats(self) -> dict[str, Any]:
        """The counts, dates, versions and summary (no tables)."""
        dates = ({"from": self.from_as_of, "to": self.to_as_of} if self.as_of is None else {"as_of": self.as_of})
        return {"customers": self.customers, "moved_count": self.moved_count, "moved_share": self.moved_share,
                **dates, "from_version": self.from_version, "to_version": self.to_version, "summary": self.summary}

    def links(self) -> list[dict[str, Any]]:
        """The non-empty cells of the matrix, row by row: ``from``, ``to``, ``customers`` (a Sankey's links)."""
        if self.matrix is None:
            return []
        long = self.matrix.stack().reset_index()
        long.columns = ["from", "to", "customers"]
        return [{"from": str(r["from"]), "to": str(r["to"]), "customers": int(r["customers"])}
                for r in long.to_dict("records") if pd.notna(r["customers"]) and r["customers"] > 0]

    def to_dict(self, sample: int = 20) -> dict[str, Any]:
        """``segmint diff --json``: the stats, the matrix by row, the changes and the first ``sample`` movers.

        Reads the movers from the store: call it while the workspace is open.
        """
        return {**self.stats(),
                "matrix": None if self.matrix is None else json.loads(self.matrix.to_json(orient="index")),
                "changes": self.changes.to_dict(orient="records"),
                "moved_sample": self.moved.limit(sample).to_pyarrow().to_pylist()}


@dataclass
class Why:
    """Why one customer is in their segment(s) of a run.

    ``rules``: per rule segment, its conditions and whether each held (None for models
    without rules); ``details``: the kind's own part (``cluster`` distances and pulls, a
    ``tier`` band...).
    """

    segmentation: str
    kind: str
    version: int
    as_of: str
    customer_id: str
    segments: list[str]
    rules: list[dict[str, Any]] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_parts(cls, header: dict[str, Any], segments: list[str], parts: dict[str, Any]) -> Why:
        """From the run's header, the customer's segments and the explanation's parts (``rules`` and the kind's)."""
        parts = dict(parts)
        rules = parts.pop("rules", None)
        return cls(**header, segments=segments, rules=rules, details=parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"segmentation": self.segmentation, "kind": self.kind, "version": self.version,
                               "as_of": self.as_of, "customer_id": self.customer_id, "segments": self.segments}
        if self.rules is not None:
            out["rules"] = self.rules
        out.update(self.details)
        return out


@dataclass
class RulePreview:
    """How many customers a rule selects on a snapshot, and what each top-level condition keeps."""

    where: str
    as_of: str
    base: int
    size: int
    share: float
    conditions: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "as_of": self.as_of, "base": self.base, "size": self.size, "share": self.share,
                "conditions": self.conditions}
