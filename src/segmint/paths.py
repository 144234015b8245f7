"""Names that become file names, and paths built from user text that must stay in their folder.

A segmentation's name becomes ``reports/NAME.html``; a name such as ``../../x`` or ``/tmp/x``
would write outside the workspace. So names are checked where they are defined
(:func:`check_name`, against :data:`NAME_RULE`), and every path built from user text is
resolved and checked against its folder (:func:`inside`), which also stops a symlink inside
the folder from pointing out of it.

Examples
--------
>>> check_name("lifecycle_v2", "segmentation")
'lifecycle_v2'
>>> check_name("../../x", "segmentation", "segments/evil.yaml")
Traceback (most recent call last):
...
segmint.errors.ConfigError: the segmentation name '../../x' in segments/evil.yaml is not allowed: rename it, using 1 to 64 characters: letters, digits, '_', '-' and '.', not starting with '.' or '-'
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> inside(folder, "value.html") == folder.resolve() / "value.html"
True
>>> inside(folder, "../value.html")
Traceback (most recent call last):
...
segmint.errors.WorkspaceError: the path '../value.html' leaves its folder ...; refusing to write there
"""

from __future__ import annotations

import re
from pathlib import Path

from segmint.errors import ConfigError, WorkspaceError

__all__ = ["NAME_PATTERN", "NAME_RULE", "check_name", "inside"]

#: The names that may become file names (segmentation names): what docs/segments.md documents.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
NAME_RULE = "1 to 64 characters: letters, digits, '_', '-' and '.', not starting with '.' or '-'"


def check_name(name: object, what: str, source: str | None = None) -> str:
    """``name`` when it follows :data:`NAME_RULE`, else a :class:`ConfigError` naming it, the file and the rule."""
    text = str(name)
    if isinstance(name, str) and NAME_PATTERN.fullmatch(text):
        return text
    where = f" in {source}" if source else ""
    raise ConfigError(f"the {what} name {text!r}{where} is not allowed: rename it, using {NAME_RULE}")


def inside(folder: str | Path, relative: str | Path) -> Path:
    """``folder / relative`` resolved, or a :class:`WorkspaceError` when it is not inside ``folder``."""
    base = Path(folder).resolve()
    path = (base / relative).resolve()
    if path != base and base not in path.parents:
        raise WorkspaceError(f"the path {str(relative)!r} leaves its folder {base}; refusing to write there")
    return path
