"""The parity harness: one shop through DuckDB and through Spark, and what must agree.

:func:`run` ingests a shop's files into a fresh workspace on one backend, computes the feature
snapshot, runs every segmentation and reads back what users see (memberships, stored reasons,
``why``, an exported audience); :func:`assert_same` compares two such results: counts, sums
and texts exactly, floats within 1e-9 relative (docs/spark.md lists the known differences).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from segmint.workspace import Workspace

AS_OF = "2024-06-01"
#: Segmentations every parity run stores: RFM scores and rules over the snapshot (with their reasons).
SEGMENTS = """segmentations:
  rfm:
    kind: rfm
  value:
    kind: rules
    segments:
      - {name: Big, where: "monetary_total >= 100 and frequency >= 3"}
      - {name: Active, where: "recency_days <= 60"}
    else: Other
"""
TABLES = ("customers", "orders", "events")


@dataclass
class Result:
    """What one backend made of a shop."""

    features: pd.DataFrame
    quarantined: dict[str, int]
    members: dict[str, pd.DataFrame] = field(default_factory=dict)
    reasons: dict[str, pd.DataFrame] = field(default_factory=dict)
    why: dict[str, list] = field(default_factory=dict)
    exported: dict[str, str] = field(default_factory=dict)


def write_shop(folder: Path, shop: dict[str, list[dict]]) -> Path:
    """Write a shop (table -> rows) as CSV files, every value as text (None: an empty cell)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in shop.items():
        if not rows:
            continue
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return folder


def workspace(root: Path, backend: str, master: str = "local[2]") -> Workspace:
    """A new workspace on ``backend`` with the parity segmentations."""
    ws = Workspace.init(root)
    ws.close()
    cfg = root / "segmint.yaml"
    if backend == "spark":
        cfg.write_text(cfg.read_text() + f"engine:\n  backend: spark\n  spark:\n    master: {master!r}\n")
    (root / "segments" / "parity.yaml").write_text(SEGMENTS)
    return Workspace.open(root)


def run(root: Path, data: Path, backend: str, master: str = "local[2]") -> Result:
    """Ingest ``data`` on ``backend``, snapshot the features, run the segmentations, read them back."""
    ws = workspace(root, backend, master)
    try:
        quarantined = {}
        for table in TABLES:
            if (data / f"{table}.csv").exists():
                report = ws.ingest(table, data / f"{table}.csv")
                quarantined[table] = report.rows_read - report.rows_accepted
        features = ws.features(as_of=AS_OF)
        result = Result(_sorted(features), quarantined)
        for name in ("rfm", "value"):
            ws.segment(name, as_of=AS_OF)
            result.members[name] = _sorted(ws.members(name, as_of=AS_OF).to_pandas())
            info = ws.store.runs.find(name)[-1]
            rows = ws.store.runs.rows(name, info[0], info[1]).to_pandas()
            # The reasons' JSON as values: Spark writes 1.5E9 where DuckDB writes 1500000000.0 (docs/spark.md)
            result.reasons[name] = _sorted(rows.assign(segments=rows.segments.map(list),
                                                       reasons=rows.reasons.map(json.loads)))
            some = sorted(result.members[name].customer_id)[:3]
            result.why[name] = [_why(ws.why(name, c, as_of=AS_OF)) for c in some]
    finally:
        ws.close()
    for name in result.members:
        out = root / f"{name}.csv"
        _export(root, name, out)
        result.exported[name] = out.read_text(encoding="utf-8")
    return result


def _export(root: Path, name: str, out: Path) -> None:
    """Export an audience as users do (``segmint members NAME -o FILE``), in this process."""
    from segmint.cli import run as cli

    assert cli(["members", name, "--as-of", AS_OF, "-o", str(out), "-w", str(root)]) == 0


def _why(why) -> dict:
    return {"customer_id": why.customer_id, "segments": list(why.segments), "rules": why.rules,
            "details": why.details}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def assert_same(a: Result, b: Result) -> None:
    """Assert two backends' results agree: exact except floats (1e-9 relative)."""
    assert a.quarantined == b.quarantined
    assert_frames(a.features, b.features, "features")
    for name in a.members:
        assert_frames(a.members[name], b.members[name], f"members of {name}")
        assert_frames(a.reasons[name], b.reasons[name], f"reasons of {name}")
        assert _close(a.why[name], b.why[name]), f"why of {name}: {a.why[name]} on DuckDB, {b.why[name]} on Spark"
        assert a.exported[name] == b.exported[name], name


def assert_frames(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    """Same columns, same rows; numbers exact unless floating (then 1e-9 relative); NaN equals NaN, None None."""
    assert list(a.columns) == list(b.columns), f"{what}: columns differ: {set(a.columns) ^ set(b.columns)}"
    assert len(a) == len(b), f"{what}: {len(a)} rows on DuckDB, {len(b)} on Spark"
    for column in a.columns:
        for i, (x, y) in enumerate(zip(a[column].tolist(), b[column].tolist())):
            assert _close(x, y), (f"{what}: column {column}, customer {a.customer_id.iloc[i]!r}: "
                                 f"{x!r} on DuckDB, {y!r} on Spark")


def _same(x, y) -> bool:
    if _missing(x) or _missing(y):
        return _missing(x) and _missing(y) and _nan(x) == _nan(y)
    if isinstance(x, float) or isinstance(y, float):
        return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12)
    if hasattr(x, "tolist"):
        x = x.tolist()
    if hasattr(y, "tolist"):
        y = y.tolist()
    return x == y


def _close(x, y) -> bool:
    """Nested lists and dicts equal, floats within 1e-9 relative."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_close(i, j) for i, j in zip(x, y))
    return _same(x, y)


def _missing(v) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)
