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

import glob
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

from segmint.errors import DataError
from segmint.ingest.compressed import is_gzip, read_checked, read_checked_all

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
    #: tables and views to drop with the staged source (``name`` is one of them)
    temporaries: list[str] = field(default_factory=list)

    def table(self, con) -> ibis.Table:
        return con.table(self.name)

    def rows(self, con) -> int:
        """Records staged (the reader's rejects not counted)."""
        return int(self.table(con).count().to_pyarrow().as_py())


#: ``derive(src, columns, source)``: ``src`` with the columns to compute while staging (from its source columns
#: ``columns``) added
Derive = Callable[[ibis.Table, list, str], ibis.Table]


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


def source_files(source: str | Path) -> list[Path]:
    """The files one load reads: a file, every data file under a folder (Hive-partitioned folders
    such as ``orders/year=2025/month=01/part-0.parquet`` included), or the files a glob matches.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("2025-01.csv", "2025-02.csv", "README.txt", "_SUCCESS"):
    ...     _ = (d / name).write_text("order_id,customer_id")
    >>> [p.name for p in source_files(d / "2025-*.csv")]
    ['2025-01.csv', '2025-02.csv']
    >>> [p.name for p in source_files(d)]  # a folder: its data files (names starting with _ or . are not data)
    ['2025-01.csv', '2025-02.csv', 'README.txt']
    """
    text = str(source)
    if any(ch in text for ch in "*?[") and not Path(text).exists():
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"{text}: no file matches this pattern. Check the path (relative paths start at "
                            f"{Path.cwd()}).")
        return files
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: no such file. Check the path (relative paths start at {Path.cwd()}).")
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file()
                   and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise DataError(f"{path} is a folder without data files; give a file, a folder of files or a glob "
                        "such as 'orders/2025-*.parquet'")
    return files


def stage_file(store, path: Path | str, fmt: str | None = None, delimiter: str | None = None,
               encoding: str = "utf-8", derive: Derive | None = None) -> Staged:
    """Stage a file, a folder of files or a glob (read as one load) in the store's engine, as temporary tables."""
    con = store.con
    files = source_files(path)
    if len(files) > 1 or Path(str(path)).is_dir():
        return _stage_many(store, str(path), files, fmt, delimiter, encoding, derive)
    path = files[0]
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); export the data again, with a header line")
    fmt = fmt or detect_format(path)
    # A truncated or damaged gzip file is an error, checked whole while it is staged (issue 15).
    return read_checked(path, lambda: _stage_as(store, path, fmt, delimiter, encoding, derive),
                        lambda staged: drop_staged(con, staged), interrupt=store.interrupt)


def _stage_many(store, source: str, files: list[Path], fmt: str | None, delimiter: str | None, encoding: str,
                derive: Derive | None) -> Staged:
    """Several files as one load: one format, columns matched by name, Hive partition columns added.

    A quarantined row's line is then its position in the whole load (the files in name order),
    not a line of one file.
    """
    data = [f for f in files if f.stat().st_size > 0 and (fmt or _known(f))]
    formats = {fmt or detect_format(f): f for f in data}
    if not data:
        raise DataError(f"{source}: no data file (.csv, .csv.gz, .tsv, .parquet) in it")
    if len(formats) > 1:
        kinds = ", ".join(f"{k} ({v.name})" for k, v in sorted(formats.items()))
        raise DataError(f"{source}: the files are of several formats ({kinds}); one load reads one format. "
                        "Narrow the glob, e.g. 'orders/*.parquet'.")
    kind = next(iter(formats))
    if not store.native_sql:
        return _stage_other(store, source, data, kind, delimiter, encoding, derive)
    con = store.con
    name = _temp_name("many")
    paths = [str(f) for f in data]
    hive = any("=" in part for f in data for part in f.parts)
    try:
        if kind == "csv":
            _check_width(data[0], delimiter, encoding)
            kwargs = dict(all_varchar=True, header=True, union_by_name=True, max_line_size=MAX_LINE_BYTES,
                          hive_partitioning=hive)
            if delimiter:
                kwargs["delim"] = delimiter
            if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
                kwargs["encoding"] = encoding
            src = con.read_csv(paths, table_name=name + "_view", **kwargs)
        elif kind == "parquet":
            src = con.read_parquet(paths, table_name=name + "_view", union_by_name=True, hive_partitioning=hive)
        else:
            raise DataError(f"{source}: several {kind} files cannot be read as one load yet; ingest them one by one")
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{source}: cannot read its {len(data)} {kind} files as one load: "
                        f"{str(exc).strip().splitlines()[0]}") from None
    try:
        text = src.select(**{c: src[c].cast("string") for c in src.columns})
        checks = [f for f in data if is_gzip(f)]
        return read_checked_all(checks, lambda: _positioned(store, text, name, source, None, derive),
                                lambda staged: drop_staged(con, staged), interrupt=store.interrupt)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{source}: cannot read its {len(data)} {kind} files as one load: "
                        f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        con.drop_view(name + "_view", force=True)


def _stage_other(store, source: str, files: list[Path], kind: str, delimiter: str | None, encoding: str,
                 derive: Derive | None) -> Staged:
    """Stage files on an engine without DuckDB's reader: every column as text, positioned in file order."""
    if kind == "csv":
        _check_width(files[0], delimiter, encoding)
    name = _temp_name(kind)
    src = store.read_files([str(f) for f in files], kind, delimiter, encoding)
    first_line = 2 if kind == "csv" and len(files) == 1 else (1 if kind == "jsonl" and len(files) == 1 else None)
    return _positioned(store, src, name, source, first_line, derive)


def _known(path: Path) -> bool:
    try:
        detect_format(path)
    except DataError:
        return False
    return True


def _stage_as(store, path: Path, fmt: str, delimiter: str | None, encoding: str, derive: Derive | None) -> Staged:
    if not store.native_sql:  # another engine (Spark) reads files with its own reader: segmint.store.spark
        return _stage_other(store, str(path), [path], fmt, delimiter, encoding, derive)
    if fmt == "csv":
        return _stage_csv(store, path, delimiter, encoding, derive)
    if fmt == "parquet":
        return _stage_parquet(store, path, derive)
    if fmt == "jsonl":
        return _stage_jsonl(store, path, derive)
    raise DataError(f"unknown format {fmt!r}; use csv, parquet or jsonl")


#: Longest line (record) the CSV reader takes, in bytes; a longer one is an error naming its line and this bound.
MAX_LINE_BYTES = 16 * 1024 * 1024

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


#: The CSV reader's own bound on a line (DuckDB's default max_line_size).
_READER_LINE_BYTES = 2 << 20


class _LineTooLong(Exception):
    """A line is longer than the bound the CSV was read with: read it again with :data:`MAX_LINE_BYTES`."""


def _stage_csv(store, path: Path, delimiter: str | None, encoding: str, derive: Derive | None) -> Staged:
    """Stage a CSV file as text: with the reader's own line bound first, with :data:`MAX_LINE_BYTES` only
    when a line is longer than that.

    The reader reads in buffers sized by its line bound: with 16 MiB it decompressed a gzip file tens of MB
    deep to detect its dialect, 0.9 s of a 1-million-row gzip load (issue 16). A file with a line over the
    reader's bound (rare: 2 MiB) is read a second time.
    """
    _check_width(path, delimiter, encoding)
    if MAX_LINE_BYTES > _READER_LINE_BYTES:
        try:
            return _stage_csv_with(store, path, delimiter, encoding, derive, None)
        except _LineTooLong:
            pass
    return _stage_csv_with(store, path, delimiter, encoding, derive, MAX_LINE_BYTES)


def _stage_csv_with(store, path: Path, delimiter: str | None, encoding: str, derive: Derive | None,
                    max_line: int | None) -> Staged:
    con = store.con
    name = _temp_name("csv")
    rej, scan = name + "_rejects", name + "_scan"
    kwargs = dict(all_varchar=True, header=True, store_rejects=True, rejects_table=rej, rejects_scan=scan)
    if max_line is not None:
        kwargs["max_line_size"] = max_line
    if delimiter:
        kwargs["delim"] = delimiter
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        kwargs["encoding"] = encoding
    view = name + "_view"
    try:
        try:
            src = con.read_csv(str(path), table_name=view, **kwargs)
        except Exception as exc:  # DuckDB's InvalidInputException and friends
            if max_line is None and "maximum line size" in str(exc).lower():
                raise _LineTooLong() from None
            raise DataError(_explain_csv_error(path, exc)) from None
        if not src.columns or list(src.columns) == ["column0"]:
            raise DataError(f"{path}: no header line found; the first line must name the columns")
        try:
            # Materialise once: the view would re-read the file (and refill the rejects) on every use.
            staged = _positioned(store, src, name, str(path), 2, derive)
        except DataError:
            raise
        except Exception as exc:
            if max_line is None and "maximum line size" in str(exc).lower():
                raise _LineTooLong() from None
            raise DataError(_explain_csv_error(path, exc)) from None
    finally:
        con.drop_view(view, force=True)
    if max_line is None and _rejected_long_lines(con, rej):
        drop_staged(con, staged)
        for table in (rej, scan):
            con.drop_table(table, force=True)
        raise _LineTooLong()
    staged.rejects = _collect_rejects(con, rej)
    return staged


def _rejected_long_lines(con, rej: str) -> bool:
    """Whether the reader set aside a line as longer than its bound (it does so rather than fail)."""
    if rej not in con.list_tables():
        return False
    t = con.table(rej)
    return bool(t.filter(t.error_type.cast("string").contains("LINE SIZE")).count().to_pyarrow().as_py())


def _positioned(store, src: ibis.Table, name: str, source: str, first_line: int | None,
                derive: Derive | None = None) -> Staged:
    """Materialise ``src`` as a temp table in one parallel pass; ``_rec`` is each row's position.

    The position is the row's place in insertion order (the engine keeps a file's order), not a
    window function: ``row_number()`` over millions of rows is a second, single-threaded pass
    that doubled the time of staging (issue 16). A gzip file is converted in the pass that reads
    it too: its text was once staged alone first, to convert it in parallel, but with the lighter
    conversions that second copy of the text cost more than it saved (4.1 s against 4.7 s for
    1.07 million orders, 7.3 s against 11.9 s for 4.25 million, where the copy spilled to disk).
    """
    columns = list(src.columns)
    rows = derive(src, columns, source) if derive is not None else src
    view = store.create_positioned(name, rows)
    return Staged(name=view, source=source, columns=columns, first_line=first_line, temporaries=[view, name])


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


def _long_line(path: Path, bound: int) -> int | None:
    """The number of the first physical line of ``path`` longer than ``bound`` bytes (None: no such line).

    Read in chunks (the decompressed text for gzip), never more than a chunk in memory. The
    reader's own error names line 1 whatever the line (issue 15), so this finds the real one.
    """
    import gzip

    opener = gzip.open if is_gzip(path) else open
    line, length = 1, 0
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            start = 0
            while (nl := chunk.find(b"\n", start)) >= 0:
                if length + nl - start > bound:
                    return line
                line, length, start = line + 1, 0, nl + 1
            length += len(chunk) - start
            if length > bound:
                return line
    return None


def _explain_csv_error(path: Path, exc: Exception) -> str:
    if "maximum line size" in str(exc).lower():
        line = _long_line(path, MAX_LINE_BYTES)
        where = f"line {line:,}" if line else "a line"
        return (f"{path}: {where} is longer than {MAX_LINE_BYTES:,} bytes ({MAX_LINE_BYTES >> 20} MiB), the longest "
                "line segmint reads (a record that long is almost always a missing closing quote or a file that is "
                "not CSV); nothing was written. Fix that line, or split the value over a file of its own.")
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


def _stage_parquet(store, path: Path, derive: Derive | None = None) -> Staged:
    try:
        src = store.con.read_parquet(str(path))
    except Exception as exc:
        raise DataError(f"{path}: cannot read it as Parquet: {str(exc).splitlines()[0]}") from None
    return _stage_expr(store, src, str(path), derive, keep_typed=True)


def kept_typed(dtype) -> bool:
    """Whether a typed source column (Parquet) is staged with its own type rather than as text.

    Booleans, integers, floating-point numbers, decimals and timestamps without a zone in
    microseconds: the types whose values the ingest reads directly (``pipeline._conversions``),
    with the text route for the values it does not. Other types (dates, zoned or nanosecond
    timestamps, lists, structs...) are staged as their text, as every column once was.
    """
    if dtype.is_boolean() or dtype.is_integer() or dtype.is_floating() or dtype.is_decimal():
        return True
    return dtype.is_timestamp() and dtype.timezone is None and dtype.scale in (None, 6)


def _stage_expr(store, src: ibis.Table, source: str, derive: Derive | None = None,
                keep_typed: bool = False) -> Staged:
    """Stage ``src`` as text; with ``keep_typed``, columns of :func:`kept_typed` types keep their type.

    A Parquet file's numbers and times were cast to text and parsed back, which cost more than
    reading the file (issue 16). Whatever reads a staged column as text casts it (the engine's
    cast, the one that staging applied), so the quarantine's raw record, the personal-data
    scan and the exact-duplicate comparison see the same text either way.
    """
    name = _temp_name("src")
    text = src.select(**{c: src[c] if keep_typed and kept_typed(src[c].type()) else src[c].cast("string")
                         for c in src.columns})
    return _positioned(store, text, name, source, None, derive)


def _stage_jsonl(store, path: Path, derive: Derive | None = None) -> Staged:
    """JSON lines: read each line as text, then parse in the engine so a bad line is quarantined."""
    con = store.con
    name = _temp_name("jsonl")
    lines_view = name + "_lines"
    try:
        lines = con.read_csv(str(path), table_name=lines_view, columns={"_line": "VARCHAR"}, header=False,
                             delim="\x1f", quote="", escape="", auto_detect=False)
        text_view = store.create_positioned(name + "_text", lines)
    except Exception as exc:
        raise DataError(f"{path}: cannot read it as JSON lines: {str(exc).splitlines()[0]}") from None
    finally:
        con.drop_view(lines_view, force=True)
    text = con.table(text_view)
    keys = _jsonl_keys(text)
    parsed = text._line.try_cast("json")
    obj_ok = parsed.notnull() & text._line.strip().startswith("{")
    cols = {k: ibis.ifelse(obj_ok, parsed[k].str, ibis.null("string")) for k in keys}
    staged = text.select(_rec=text._rec, _json_ok=obj_ok, _raw_line=text._line, **cols)
    good = staged.filter(staged._json_ok).drop("_json_ok", "_raw_line")
    if keys and derive is not None:
        good = derive(good, keys, str(path))
    con.create_table(name, good, temp=True)
    bad = staged.filter(~staged._json_ok & (staged._raw_line.strip().length() > 0))
    rejects = [Reject(int(r) + 1, "malformed_json", raw or "") for r, raw in
               bad.select("_rec", "_raw_line").order_by("_rec").execute().itertuples(index=False)]
    # blank lines are not records: keep _rec aligned with line numbers by leaving them out silently
    con.drop_view(text_view, force=True)
    con.drop_table(name + "_text", force=True)
    if not keys:
        con.drop_table(name, force=True)
        raise DataError(f"{path}: no JSON object found in the first lines; each line must be one object")
    return Staged(name=name, source=str(path), columns=keys, first_line=1, rejects=rejects,
                  rejects_numbered=True, temporaries=[name])


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


def stage_frame(store, frame, source: str = "frame", derive: Derive | None = None) -> Staged:
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
    return _stage_expr(store, ibis.memtable(table), source, derive)


def stage_batches(store, batches, source: str, derive: Derive | None = None) -> Staged:
    """Stage Arrow record batches (a SQL source, streamed) one batch at a time: memory holds one batch."""
    con = store.con
    name = _temp_name("batches")
    made = False
    try:
        for batch in batches:
            table = pa.Table.from_batches([batch])
            names = unique_names([str(n) for n in table.column_names])
            text = pa.table({n: _to_text(c) for n, c in zip(names, table.columns)})
            if not made:
                if text.num_columns == 0:
                    raise DataError(f"{source}: the query returns no columns")
                con.create_table(name, text, temp=True)
                made = True
            elif text.num_rows:
                con.insert(name, text)
        if not made:
            raise DataError(f"{source}: the query returned nothing")
        return _positioned(store, con.table(name), name + "_s", source, None, derive)
    finally:
        if made:
            con.drop_table(name, force=True)


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
    """Drop the staged source's temporary tables and views."""
    names = set(con.list_tables())
    for name in [staged.name, *staged.temporaries]:
        if name not in names:
            continue
        try:
            con.drop_view(name, force=True)
        except Exception:  # noqa: BLE001 - a table, not a view
            con.drop_table(name, force=True)
