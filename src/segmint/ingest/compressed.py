"""Check a compressed source file whole before anything is read from it.

DuckDB reads a gzip file as far as it can: a file cut short, or missing only its CRC and
length trailer, is read as a success with the rows it held (a cut through a line even
changes what the CSV sniffer detects). So before a gzip file is staged, its whole stream
is decompressed here, nothing kept, and the CRC-32 and length of every member are
checked (:mod:`zlib` checks them when the trailer is there); a file that ends before a
member's trailer, or whose data or trailer do not match, is a
:class:`~segmint.errors.DataError` naming the file and the problem, raised before anything
is written to the store (what was staged is dropped).

The check reads the file once more, on a thread of its own while the reader stages it
(:func:`read_checked`: zlib releases the GIL); docs/security.md has the measurement on the
Online Retail file.

Examples
--------
>>> import gzip, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "orders.csv.gz"
>>> _ = path.write_bytes(gzip.compress(b"order_id,amount\\nO1,3\\n" * 1000))
>>> check_compressed(path)
>>> _ = path.write_bytes(path.read_bytes()[:-4])  # the length trailer cut off
>>> check_compressed(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
segmint.errors.DataError: ...orders.csv.gz: the gzip file is truncated: it ends before the end of its compressed data (the CRC-32 and length trailer are missing...
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from segmint.errors import DataError

__all__ = ["GZIP_MAGIC", "check_compressed", "expansion_bound", "is_gzip", "read_checked", "read_checked_all"]

T = TypeVar("T")

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes read from the file at a time
_OUT = 8 << 20  # most bytes decompressed (and dropped) per call: a bomb never sits in memory
#: A gzip file may expand to at most this many times its size (or :data:`MIN_EXPANSION_BOUND`, if more). CSV
#: exports compress 4-15x (the generated shop's orders 5x, Online Retail 8x); a file of one repeated line
#: reaches ~1,000x, and a "gzip bomb" (a few MB that expand to many GB) more. Beyond the bound the read stops
#: with an error naming it, before the expansion fills memory or disk (issue 15: refused after 96-108 s).
MAX_EXPANSION_RATIO = 200
#: Small files may always expand this far (1 GiB), whatever their ratio.
MIN_EXPANSION_BOUND = 1 << 30


def is_gzip(path: str | Path) -> bool:
    """Whether ``path`` is gzip (by its first bytes); a ``.gz`` name on anything else is an error."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(2)
    if head == GZIP_MAGIC:
        return True
    if path.name.lower().endswith(".gz"):
        raise DataError(f"{path}: the name ends in .gz but the file is not gzip (it does not start with "
                        "the gzip signature); rename it or compress it again")
    return False


def expansion_bound(path: str | Path) -> int:
    """Most bytes the gzip file ``path`` may expand to (:data:`MAX_EXPANSION_RATIO` times its size, at least 1 GiB)."""
    return max(MIN_EXPANSION_BOUND, MAX_EXPANSION_RATIO * Path(path).stat().st_size)


def check_compressed(path: str | Path, bound: int | None = None) -> None:
    """Raise a :class:`DataError` when ``path`` is a damaged or truncated gzip file; else return None.

    A file is checked when it starts with the gzip magic bytes or its name ends in ``.gz``
    (then it must be gzip). Other files are left to their reader. A file that expands beyond
    ``bound`` bytes (default :func:`expansion_bound`) is refused as soon as it passes it.
    """
    path = Path(path)
    if is_gzip(path):
        with path.open("rb") as fh:
            _check_gzip(path, fh, expansion_bound(path) if bound is None else bound)


def read_checked(path: str | Path, read: Callable[[], T], discard: Callable[[T], None],
                 interrupt: Callable[[], None] | None = None) -> T:
    """``read()``, while :func:`check_compressed` checks ``path`` on another thread.

    The two run at once (zlib and DuckDB both release the GIL), so the check adds next to
    nothing to the time of a read. When the check fails, what ``read`` returned is given to
    ``discard`` and the check's :class:`DataError` is raised; when ``read`` fails on a damaged
    file, the check's error (which says what is wrong with the file) is raised instead of the
    reader's. ``interrupt`` (the store's) stops the read as soon as the check fails, so a file
    that expands beyond its bound is refused within seconds, not after the reader has expanded it.
    """
    path = Path(path)
    return read_checked_all([path] if is_gzip(path) else [], read, discard, interrupt)


def read_checked_all(paths: list[Path], read: Callable[[], T], discard: Callable[[T], None],
                     interrupt: Callable[[], None] | None = None) -> T:
    """:func:`read_checked` for several gzip files read as one load (each checked in turn, on one thread)."""
    if not paths:
        return read()
    failed: list[BaseException] = []

    def check() -> None:
        try:
            for path in paths:
                check_compressed(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread below
            failed.append(exc)
            if interrupt is not None:
                interrupt()

    worker = threading.Thread(target=check, name="segmint-gzip-check", daemon=True)
    worker.start()
    try:
        value = read()
    except BaseException:
        worker.join()
        if failed:
            raise failed[0] from None
        raise
    worker.join()
    if failed:
        discard(value)
        raise failed[0]
    return value


def _check_gzip(path: Path, fh, bound: int) -> None:
    members = 0  # members whose CRC-32 and length were checked
    expanded = 0
    d = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer, checked by zlib
    started = False  # bytes of the current member were given to d
    buf = b""
    while True:
        if not buf:
            buf = fh.read(_CHUNK)
            if not buf:
                break
        if not started and members and buf[:1] != GZIP_MAGIC[:1]:
            # After a member only another member may follow (DuckDB refuses even zero padding).
            raise DataError(f"{path}: unexpected data after the end of the gzip stream (after member {members}); "
                            "the file is damaged or two files were joined. Copy or export it again.")
        started = True
        try:
            data = buf
            while True:  # decompressed output is dropped, _OUT at a time (zlib may hold more back)
                out = d.decompress(data, _OUT)
                expanded += len(out)
                if expanded > bound:
                    raise DataError(
                        f"{path}: the gzip file expands to more than {bound:,} bytes ({bound // (1 << 20):,} MiB, "
                        f"{MAX_EXPANSION_RATIO} times its size of {path.stat().st_size:,} bytes, at least "
                        f"{MIN_EXPANSION_BOUND // (1 << 30)} GiB), segmint's bound on the expansion of a compressed "
                        "file; it looks like a decompression bomb. Nothing was written. If the file is genuine, "
                        "decompress it yourself and ingest the plain file.")
                data = d.unconsumed_tail
                if d.eof or (not out and not data):
                    break
        except zlib.error as exc:
            raise DataError(f"{path}: the gzip file is damaged ({_why(exc)}, in member {members + 1}); "
                            "nothing was read from it. Copy or export the file again.") from None
        buf = b""
        if d.eof:  # zlib checked this member's CRC-32 and length; another member may follow
            members += 1
            buf = d.unused_data
            d = zlib.decompressobj(wbits=31)
            started = False
    if started or not members:
        raise DataError(f"{path}: the gzip file is truncated: it ends before the end of its compressed data (the "
                        "CRC-32 and length trailer are missing, so the rows cannot be trusted); nothing was read "
                        "from it. Copy or export the file again.")


def _why(exc: zlib.error) -> str:
    text = str(exc)
    if "incorrect data check" in text:
        return "its CRC-32 does not match the data"
    if "incorrect length check" in text:
        return "its length trailer does not match the data"
    if "incorrect header check" in text or "unknown compression method" in text:
        return "its gzip header is invalid"
    return "its compressed data is invalid: " + text.split(":", 1)[-1].strip()
