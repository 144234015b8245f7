"""The files destination: CSV, Parquet or JSON-lines files in a folder, each with a manifest.

``content: changes`` writes one file per message (``changes-<message id>.<ext>``); ``content:
audience`` writes the whole audience at each sync that has news (``audience-<time>.<ext>``).
Beside each data file, ``<name>.manifest.json`` says which message or runs it holds, the
counts per change, the rows and the data file's SHA-256. Both are written to a temporary
name and renamed into place, the manifest last: a reader that waits for manifests never
sees half a file. A segment with fewer members than ``privacy.min_segment_size`` is left out
of audience files (the manifest lists it under ``suppressed``), so that a file cannot single
a few people out.

Examples
--------
>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"customer_id": "C1", "segment": "VIP", "change": "entered"}]
>>> manifest = write_files(folder, "changes-msg_1", "csv", rows, {"message_id": "msg_1"})
>>> manifest["rows"], sorted(p.name for p in folder.iterdir())
(1, ['changes-msg_1.csv', 'changes-msg_1.manifest.json'])
>>> (folder / "changes-msg_1.csv").read_text().splitlines()[0]
'"customer_id","segment","change"'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segmint.activate.csvcells import neutralise_batch

__all__ = ["EXTENSIONS", "write_files"]

EXTENSIONS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_data(path: Path, fmt: str, rows: list[dict[str, Any]], neutralise: bool) -> None:
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, default=str, ensure_ascii=False) + "\n")
        return
    table = pa.Table.from_pylist(rows) if rows else pa.table({"customer_id": pa.array([], pa.string())})
    if fmt == "parquet":
        pq.write_table(table, path)
        return
    if neutralise:
        table = pa.Table.from_batches([neutralise_batch(b) for b in table.to_batches()] or [], schema=None) \
            if table.num_rows else table
    pacsv.write_csv(table, path)


def write_files(folder: Path, stem: str, fmt: str, rows: list[dict[str, Any]], manifest: dict[str, Any],
                neutralise: bool = True) -> dict[str, Any]:
    """Write ``stem.<ext>`` and ``stem.manifest.json`` into ``folder`` atomically; return the manifest.

    Parameters
    ----------
    folder : Path
        Created when missing.
    stem : str
        The files' name without extension (segmint's own text: a message id or a time).
    fmt : {"csv", "parquet", "jsonl"}
    rows : list of dict
        The data, one dict per row.
    manifest : dict
        What the manifest says besides the file, rows, counts and checksum.
    neutralise : bool, default True
        CSV only: neutralise cells a spreadsheet would run (``exports.neutralise_formulas``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{stem}.{EXTENSIONS[fmt]}"
    tmp = folder / f".{stem}.{EXTENSIONS[fmt]}.tmp"
    _write_data(tmp, fmt, rows, neutralise)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, data)
    counts = Counter(r.get("change", "member") for r in rows)
    doc = {**manifest, "file": data.name, "format": fmt, "rows": len(rows), "counts": dict(sorted(counts.items())),
           "sha256": _sha256(data), "written_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()}
    mtmp = folder / f".{stem}.manifest.json.tmp"
    mtmp.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str), encoding="utf-8")
    os.replace(mtmp, folder / f"{stem}.manifest.json")
    return doc
