"""Write segment members to a file, the format chosen by the file's extension.

``.csv`` (and ``.csv.gz``), ``.parquet`` and ``.jsonl`` (JSON lines, also ``.ndjson``).
Rows are streamed from the engine in Arrow batches, so a large audience never sits
in memory as one Python list.

Examples
--------
>>> import ibis, pyarrow as pa, tempfile, pathlib
>>> t = ibis.memtable(pa.table({"customer_id": ["C1", "C2"], "segment": ["VIP", "VIP"]}))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "vip.jsonl"
>>> write_members(t, path)
2
>>> path.read_text().splitlines()[0]
'{"customer_id": "C1", "segment": "VIP"}'
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segmint.activate.csvcells import neutralise_batch
from segmint.errors import ConfigError

__all__ = ["FORMATS", "format_of", "write_members"]

FORMATS = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def format_of(path: str | Path) -> str:
    """The export format of ``path`` from its extension."""
    name = str(path).lower()
    for ext, fmt in sorted(FORMATS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ext):
            return fmt
    raise ConfigError(f"cannot tell the export format of {str(path)!r}; end the file name with "
                      + ", ".join(FORMATS))


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _naive_utc(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamps as the store keeps them, UTC without a zone: DuckDB hands them out so, Spark as UTC-zoned.

    Without this the same export would read back as zoned times from one engine and plain ones from
    the other.
    """
    if not any(pa.types.is_timestamp(f.type) and f.type.tz for f in batch.schema):
        return batch
    columns = [c.cast(pa.timestamp(c.type.unit)) if pa.types.is_timestamp(c.type) and c.type.tz else c
               for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def write_members(table, path: str | Path, raw_csv: bool = False) -> int:
    """Write an Ibis table (or a pyarrow Table) to ``path``; return the number of rows written.

    In a CSV file, text cells (and column names) that a spreadsheet would run as formulas
    get a leading single quote (:mod:`segmint.activate.csvcells`); ``raw_csv=True`` writes
    them exactly as stored, for machine consumers.
    """
    path = Path(path)
    fmt = format_of(path)
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; write to a file name that ends with " + ", ".join(FORMATS))
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(table, pa.Table):
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    else:  # an Ibis table: stream batches out of the engine
        reader = table.to_pyarrow_batches()
    first = _naive_utc(pa.RecordBatch.from_pylist([], schema=reader.schema))
    reader = pa.RecordBatchReader.from_batches(first.schema, (_naive_utc(b) for b in reader))
    rows = 0
    if fmt == "parquet":
        with pq.ParquetWriter(path, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "wb") as fh:
        if fmt == "csv":
            safe = (lambda b: b) if raw_csv else neutralise_batch
            # The header's names are neutralised too, and a categorical column is written as text.
            schema = safe(pa.RecordBatch.from_pylist([], schema=reader.schema)).schema
            with pacsv.CSVWriter(fh, schema) as writer:
                for batch in reader:
                    writer.write_batch(safe(batch))
                    rows += batch.num_rows
            return rows
        for batch in reader:
            for record in batch.to_pylist():
                fh.write((json.dumps(record, default=_json_default, ensure_ascii=False) + "\n").encode("utf-8"))
            rows += batch.num_rows
    return rows
