"""``segmint features --export FILE``: a stored snapshot written out, one row per customer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segmint.errors import ConfigError
from segmint.features.asof import default_as_of, parse_as_of
from segmint.features.snapshot import list_snapshots, load_features, snapshot
from segmint.segment.context import iso
from segmint.segment.export import write_members

__all__ = ["FORMATS", "export_snapshot"]

FORMATS = {".csv": "csv", ".parquet": "parquet"}


def export_snapshot(store, path, as_of: Any = None, settings=None, full: bool = False, plausible=None) -> dict[str, Any]:
    """Write the snapshot at ``as_of`` to ``path`` (CSV or Parquet by extension); compute it when missing or ``full``.

    Returns ``path``, ``format``, ``as_of``, ``customers``, ``features`` (count) and ``computed``.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"--export {path}: the extension decides the format; use .csv or .parquet")
    when = parse_as_of(as_of, plausible) if as_of is not None else default_as_of(store.table("orders"), plausible)
    stored = {s["as_of"] for s in list_snapshots(store)}

    computed = full or iso(when) not in stored
    if computed:
        snapshot(store, when, settings, plausible=plausible, full=full)
    t = load_features(store, when).drop("as_of").order_by("customer_id")
    # one writer for every engine (streamed Arrow batches): the same file from DuckDB and Spark, and CSV
    # text cells a spreadsheet would run as formulas neutralised, as in member exports
    rows = write_members(t, path)
    return {"path": str(path), "format": fmt, "as_of": iso(when), "customers": rows,
            "features": len(t.columns) - 1, "computed": computed}
