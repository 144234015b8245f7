"""Read a source into a staging table of text columns, with every record accounted for.

A source is a file (CSV, gzip CSV, TSV, Parquet, JSON lines), a pandas or Arrow frame,
or a SQL query. Whatever it is, it is staged in the engine as a temporary table whose
columns are all strings, plus ``_rec``, the record's position in the source (0-based).
Typing happens later, as checks that can quarantine a row with a reason; reading as
text first is what lets a bad value become a quarantined row rather than a failed load.

Records that the CSV reader itself cannot split (ragged rows, invalid UTF-8, an
oversized field) are not lost either: DuckDB's reject store gives their line and raw
text, and they come back as :attr:`Staged.rejects`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

from segmint.errors import DataError
from segmint.ingest.compressed import read_checked

_counter = itertools.count()

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")


@dataclass
class Reject:
    """A record the reader could not split into columns."""

    line: int
    code: str
    raw: str


@dataclass
class Staged:
    """A staged source: the temp table name, its source columns and its rejects."""

    name: str
    source: str
    columns: list[str]
    #: line of the first record (2 for a CSV with a header); None when the source has no lines
    first_line: int | None
    rejects: list[Reject] = field(default_factory=list)
    #: True when ``_rec`` already counts the rejected records (JSON lines); False for CSV,
    #: whose reader numbers only the records it could split
    rejects_numbered: bool = False
    #: the source had personal-data columns (raw text of rejects is then withheld)
    had_pii: bool = False

    def table(self, con) -> ibis.Table:
        return con.table(self.name)


def detect_format(path: Path) -> str:
    """Guess the format from the file name.

    Examples
    --------
    >>> detect_format(Path("orders.csv.gz"))
    'csv'
    >>> detect_format(Path("events.jsonl"))
    'jsonl'
    """
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise DataError(
        f"{path}: cannot tell the format from the file name; use .csv, .csv.gz, .tsv, .parquet or .jsonl, "
        "or pass --format csv|parquet|jsonl"
    )


def _temp_name(prefix: str) -> str:
    return f"_segmint_{prefix}_{next(_counter)}"


def stage_file(con, path: Path, fmt: str | None = None, delimiter: str | None = None,
               encoding: str = "utf-8") -> Staged:
    """Stage a file in ``con`` (an Ibis DuckDB backend)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file. Check the path (relative paths start at {Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of one file")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); export the data again, with a header line")
    fmt = fmt or detect_format(path)
    # A truncated or damaged gzip file is an error, checked whole while it is staged (issue 15).
    return read_checked(path, lambda: _stage_as(con, path, fmt, delimiter, encoding),
                        lambda staged: drop_staged(con, staged))


def _stage_as(con, path: Path, fmt: str, delimiter: str | None, encoding: str) -> Staged:
    if fmt == "csv":
        return _stage_csv(con, path, delimiter, encoding)
    if fmt == "parquet":
        return _stage_parquet(con, path)
    if fmt == "jsonl":
        return _stage_jsonl(con, path)
    raise DataError(f"unknown format {fmt!r}; use csv, parquet or jsonl")


#: Extra (attribute) columns one source may bring. 1,000 load in ~10 s and ~0.9 GB on the project's 2-core machine;
#: 2,000 ran out of the engine's 1 GB memory bound (issue 15: wide files crashed with RecursionError or OOM).
MAX_ATTRIBUTE_COLUMNS = 1_000
#: Columns a CSV header may name before it is read at all (10,000 ran out of memory while staging): the
#: attributes, a contract's columns and room to spare for ignored ones.
MAX_CSV_COLUMNS = MAX_ATTRIBUTE_COLUMNS + 200


def _check_width(path: Path, delimiter: str | None, encoding: str) -> None:
    """Refuse a CSV whose header names more than :data:`MAX_CSV_COLUMNS` columns, before staging it.

    Reads the first line only (of the decompressed text for ``.gz``); the delimiter, when not given, is the one
    of ``, ; tab |`` that splits it most, as the reader would detect. Never echoes the line.
    """
    import codecs
    import csv
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as raw:
            head = raw.readline(16 * 1024 * 1024)
    except (OSError, EOFError):
        return  # unreadable or damaged: the reader (and the gzip check) say what is wrong
    text = codecs.decode(head, encoding if encoding else "utf-8", errors="replace").rstrip("\r\n")
    delimiters = [delimiter] if delimiter else [",", ";", "\t", "|"]
    width = max(len(next(csv.reader([text], delimiter=d), [])) for d in delimiters)
    if width > MAX_CSV_COLUMNS:
        raise DataError(
            f"{path}: its header names {width:,} columns; segmint reads at most {MAX_CSV_COLUMNS:,} from one file "
            f"(of which at most {MAX_ATTRIBUTE_COLUMNS:,} become attributes). Keep the columns you need in a "
            "copy of the file. Nothing was written.")


def _stage_csv(con, path: Path, delimiter: str | None, encoding: str) -> Staged:
    _check_width(path, delimiter, encoding)
    name = _temp_name("csv")
    rej, scan = name + "_rejects", name + "_scan"
    kwargs = dict(all_varchar=True, header=True, store_rejects=True, rejects_table=rej,
                  rejects_scan=scan, max_line_size=16 * 1024 * 1024)
    if delimiter:
        kwargs["delim"] = delimiter
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        kwargs["encoding"] = encoding
    view = name + "_view"
    try:
        src = con.read_csv(str(path), table_name=view, **kwargs)
        # Materialise once: the view would re-read the file (and refill the rejects) on every use.
        con.create_table(name, src.mutate(_rec=ibis.row_number()), temp=True)
    except Exception as exc:  # DuckDB's InvalidInputException and friends
        raise DataError(_explain_csv_error(path, exc)) from None
    finally:
        con.drop_view(view, force=True)
    rejects = _collect_rejects(con, rej)
    columns = [c for c in con.table(name).columns if c != "_rec"]
    if not columns or columns == ["column0"]:
        con.drop_table(name, force=True)
        raise DataError(f"{path}: no header line found; the first line must name the columns")
    return Staged(name=name, source=str(path), columns=columns, first_line=2, rejects=rejects)


def _collect_rejects(con, rej: str) -> list[Reject]:
    if rej not in con.list_tables():
        return []
    rows = [tuple(r.values()) for r in
            con.table(rej).select("line", "error_type", "csv_line").order_by("line").to_pyarrow().to_pylist()]
    con.drop_table(rej, force=True)
    seen: dict[int, Reject] = {}
    for line, error_type, raw in rows:
        code = "invalid_encoding" if "ENCODING" in str(error_type) else "malformed_row"
        seen.setdefault(int(line), Reject(int(line), code, raw or ""))
    return list(seen.values())


def _explain_csv_error(path: Path, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = ""
    low = first.lower()
    if "unicode" in low or "encoding" in low or "utf" in low:
        hint = " The file is not UTF-8: pass --encoding latin-1 (or the encoding it was exported with)."
    elif "gzip" in low or "compression" in low:
        hint = " The file looks damaged or is not really gzip: decompress it by hand to check."
    elif "sniff" in low or "dialect" in low or "columns" in low:
        hint = " Check the delimiter (--delimiter ';') and that the first line is a header."
    return f"{path}: cannot read it as CSV: {first}.{hint}"


def _stage_parquet(con, path: Path) -> Staged:
    try:
        src = con.read_parquet(str(path))
    except Exception as exc:
        raise DataError(f"{path}: cannot read it as Parquet: {str(exc).splitlines()[0]}") from None
    return _stage_expr(con, src, str(path))


def _stage_expr(con, src: ibis.Table, source: str) -> Staged:
    name = _temp_name("src")
    text = src.select(**{c: src[c].cast("string") for c in src.columns})
    con.create_table(name, text.mutate(_rec=ibis.row_number()), temp=True)
    return Staged(name=name, source=source, columns=list(src.columns), first_line=None)


def _stage_jsonl(con, path: Path) -> Staged:
    """JSON lines: read each line as text, then parse in the engine so a bad line is quarantined."""
    name = _temp_name("jsonl")
    lines_view = name + "_lines"
    try:
        lines = con.read_csv(str(path), table_name=lines_view, columns={"_line": "VARCHAR"}, header=False,
                             delim="\x1f", quote="", escape="", auto_detect=False)
        lines = lines.mutate(_rec=ibis.row_number())
        con.create_table(name + "_text", lines, temp=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot read it as JSON lines: {str(exc).splitlines()[0]}") from None
    finally:
        con.drop_view(lines_view, force=True)
    text = con.table(name + "_text")
    keys = _jsonl_keys(text)
    parsed = text._line.try_cast("json")
    obj_ok = parsed.notnull() & text._line.strip().startswith("{")
    cols = {k: ibis.ifelse(obj_ok, parsed[k].str, ibis.null("string")) for k in keys}
    staged = text.select(_rec=text._rec, _json_ok=obj_ok, _raw_line=text._line, **cols)
    con.create_table(name, staged.filter(staged._json_ok).drop("_json_ok", "_raw_line"), temp=True)
    bad = staged.filter(~staged._json_ok & (staged._raw_line.strip().length() > 0))
    rejects = [Reject(int(r) + 1, "malformed_json", raw or "") for r, raw in
               bad.select("_rec", "_raw_line").order_by("_rec").execute().itertuples(index=False)]
    # blank lines are not records: keep _rec aligned with line numbers by leaving them out silently
    con.drop_table(name + "_text", force=True)
    if not keys:
        raise DataError(f"{path}: no JSON object found in the first lines; each line must be one object")
    return Staged(name=name, source=str(path), columns=keys, first_line=1, rejects=rejects,
                  rejects_numbered=True)


def _jsonl_keys(text: ibis.Table, sample: int = 1000) -> list[str]:
    keys: dict[str, None] = {}
    for line in text.limit(sample)._line.execute():
        try:
            obj = json.loads(line)
        except (TypeError, ValueError):
            continue
        if isinstance(obj, dict):
            keys.update(dict.fromkeys(obj))
    return list(keys)


def stage_frame(con, frame, source: str = "frame") -> Staged:
    """Stage a pandas DataFrame or a pyarrow Table."""
    if isinstance(frame, pd.DataFrame):
        frame = frame.reset_index(drop=True)
        frame.columns = unique_names([str(c) for c in frame.columns])
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # mixed-type object columns: fall back to their text form
            table = pa.Table.from_pandas(frame.astype("string"), preserve_index=False)
    elif isinstance(frame, pa.Table):
        table = frame
    else:
        raise DataError(f"cannot ingest a {type(frame).__name__}; pass a pandas DataFrame, a pyarrow Table or a path")
    if table.num_columns == 0:
        raise DataError(f"{source}: the frame has no columns")
    names = unique_names([str(n) for n in table.column_names])
    table = pa.table({n: _to_text(c) for n, c in zip(names, table.columns)})
    return _stage_expr(con, ibis.memtable(table), source)


def unique_names(names: list[str]) -> list[str]:
    """A repeated column name gets ``_1``, ``_2``... as DuckDB's CSV reader names them.

    Without this a frame's second ``email`` column would silently replace the first (or be
    refused by Arrow); with it, both are staged and both are looked at for personal data.

    Examples
    --------
    >>> unique_names(["id", "email", "email", "email_1", "email"])
    ['id', 'email', 'email_1', 'email_1_1', 'email_2']
    """
    seen: set[str] = set()
    out = []
    for name in names:
        new, n = name, 0
        while new in seen:
            n += 1
            new = f"{name}_{n}"
        seen.add(new)
        out.append(new)
    return out


def _to_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        return col.cast(pa.string())
    try:
        return col.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.chunked_array([pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())])


def drop_staged(con, staged: Staged) -> None:
    con.drop_table(staged.name, force=True)
