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


def _pattern(needles: Iterable[str]) -> re.Pattern:
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(set(needles), key=len, reverse=True))
    return re.compile(rb"(?<![A-Za-z0-9_])(?:" + alternatives + rb")(?![A-Za-z0-9_])")


def naming(root: Path, needles: Iterable[str], skip: Iterable[str] = SKIP) -> list[Path]:
    """Every file under ``root`` whose bytes contain one of ``needles`` as a whole token."""
    needles = [n for n in needles if n]
    if not needles:
        return []
    pattern = _pattern(needles)
    longest = max(len(n.encode()) for n in needles)
    skipped = {(root / s).resolve() for s in skip}
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in sorted(files):
            path = Path(folder) / name
            if path.resolve() in skipped or path.is_symlink() or not path.is_file():
                continue
            if _contains(path, pattern, longest):
                found.append(path)
    return sorted(found)


def names(path: Path, needles: Iterable[str]) -> bool:
    """Whether one file names one of ``needles``."""
    needles = [n for n in needles if n]
    return bool(needles) and _contains(path, _pattern(needles), max(len(n.encode()) for n in needles))


def _contains(path: Path, pattern: re.Pattern, longest: int) -> bool:
    tail = b""
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    return False
                if pattern.search(tail + chunk):
                    return True
                tail = chunk[-(longest + 1):]
    except OSError:
        return False


def owned(root: Path, path: Path) -> bool:
    """Whether segmint wrote ``path`` (it lies under one of :data:`OWNED`)."""
    rel = path.resolve().relative_to(root.resolve())
    return bool(rel.parts) and rel.parts[0] in OWNED


__all__ = ["OWNED", "names", "naming", "owned"]
