"""The workspace's files that name an erased person: found byte for byte, regenerated or deleted.

A report (``reports/<segmentation>.html``) is written again from the store, which no longer
holds the person; any other file under ``reports/``, ``exports/`` or ``.segmint/`` that names
them is deleted; a file elsewhere in the folder (a source file the user keeps there) is
listed in the receipt's ``still_named_in``, never touched: it is the user's.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "reports").mkdir()
>>> _ = (root / "reports" / "value.html").write_text("<td>C0001</td>")
>>> _ = (root / "notes.txt").write_text("C00010 is someone else")
>>> [p.relative_to(root).as_posix() for p in naming(root, ["C0001"])]
['reports/value.html']
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

#: Folders whose files segmint wrote: a file there that names an erased person is regenerated or deleted.
OWNED = ("reports", "exports", ".segmint")
#: Files never scanned: the store and its WAL (rewritten, the WAL removed) and the key (holds no person).
SKIP = (".segmint/store.duckdb", ".segmint/store.duckdb.wal", ".segmint/secret.key")
_CHUNK = 8 << 20


_TOKEN = re.compile(rb"[A-Za-z0-9_]+")


class _Matcher:
    """Finds whole-token needles in bytes in one pass: a set look-up per token of the text.

    A regex alternation of thousands of ids tries each at every position (minutes on a report); here
    needles made of letters, digits and ``_`` (ids, pseudonyms) are looked up per token, and the rare
    needle with other characters is searched for with ``bytes.find`` and checked for token edges.
    """

    def __init__(self, needles: Iterable[str]) -> None:
        encoded = {n.encode() for n in needles if n}
        self.tokens = {n for n in encoded if _TOKEN.fullmatch(n)}
        self.others = sorted(encoded - self.tokens)
        self.longest = max((len(n) for n in encoded), default=0)

    def __bool__(self) -> bool:
        return bool(self.tokens or self.others)

    def search(self, data: bytes) -> bool:
        if self.tokens and not self.tokens.isdisjoint(_TOKEN.findall(data)):
            return True
        for n in self.others:
            at = data.find(n)
            while at >= 0:
                before = data[at - 1:at]
                after = data[at + len(n):at + len(n) + 1]
                if not _TOKEN.fullmatch(before or b"-") and not _TOKEN.fullmatch(after or b"-"):
                    return True
                at = data.find(n, at + 1)
        return False


def naming(root: Path, needles: Iterable[str], skip: Iterable[str] = SKIP) -> list[Path]:
    """Every file under ``root`` whose bytes contain one of ``needles`` as a whole token."""
    matcher = _Matcher(needles)
    if not matcher:
        return []
    skipped = {(root / s).resolve() for s in skip}
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in sorted(files):
            path = Path(folder) / name
            if path.resolve() in skipped or path.is_symlink() or not path.is_file():
                continue
            if _contains(path, matcher):
                found.append(path)
    return sorted(found)


def names(path: Path, needles: Iterable[str]) -> bool:
    """Whether one file names one of ``needles``."""
    matcher = _Matcher(needles)
    return bool(matcher) and _contains(path, matcher)


def _contains(path: Path, matcher: _Matcher) -> bool:
    tail = b""
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    return False
                if matcher.search(tail + chunk):
                    return True
                tail = chunk[-(matcher.longest + 1):]
    except OSError:
        return False


def owned(root: Path, path: Path) -> bool:
    """Whether segmint wrote ``path`` (it lies under one of :data:`OWNED`)."""
    rel = path.resolve().relative_to(root.resolve())
    return bool(rel.parts) and rel.parts[0] in OWNED


__all__ = ["OWNED", "names", "naming", "owned"]
