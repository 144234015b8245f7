"""Personal data at rest: the state folder stays out of git, and a folder others can read is reported.

The pseudonymisation key (``.segmint/secret.key``, mode 0600, or ``SEGMINT_SECRET``) is a file of
its own, never a row of the store; ``segmint init`` writes ``.segmint/.gitignore`` (``*``) so
neither the key nor the store is committed with the workspace's ``segmint.yaml``.
:func:`folder_warnings` is what ``segmint status`` reports (docs/privacy.md, "Keys").

Examples
--------
>>> import tempfile, pathlib, os
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / ".segmint").mkdir(mode=0o700)
>>> keep_out_of_git(root / ".segmint")
>>> (root / ".segmint" / ".gitignore").read_text().splitlines()[-1]
'*'
>>> os.chmod(root, 0o755)
>>> [w.split(":")[0] for w in folder_warnings(root)]
['the workspace folder is readable by every user of this machine (mode 0755)']
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GITIGNORE = "# segmint: the store (personal data) and the pseudonymisation key never go into git\n*\n"


def keep_out_of_git(state_dir: Path) -> None:
    """Write ``<state_dir>/.gitignore`` ignoring everything in it (kept when one is there)."""
    ignore = Path(state_dir) / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def folder_warnings(path: str | os.PathLike) -> list[str]:
    """What exposes the workspace's personal data on this machine or to a repository, each with its fix."""
    if os.name == "nt":
        return []
    root = Path(path)
    out = []
    if root.is_dir() and _mode(root) & 0o004:
        out.append(f"the workspace folder is readable by every user of this machine (mode {_mode(root):04o}): "
                   f"its reports and exports name customers; run: chmod o-rwx {root}")
    state = root / ".segmint"
    if state.is_dir() and _mode(state) & 0o077:
        out.append(f"{state} is open to group or others (mode {_mode(state):04o}); run: chmod 700 {state}")
    exports = root / "exports"
    if exports.is_dir():
        loose = [p.name for p in sorted(exports.iterdir()) if p.is_file() and _mode(p) & 0o004]
        if loose:
            out.append(f"{len(loose)} export file(s) readable by every user (e.g. exports/{loose[0]}); "
                       f"run: chmod o-r {exports}/*")
    if state.is_dir() and not (state / ".gitignore").exists() and _in_git(root):
        out.append(f"{root} is inside a git repository and {state} is not ignored: the store and the key could be "
                   f"committed; add `.segmint/` to .gitignore")
    return out


def _in_git(root: Path) -> bool:
    for folder in [root.resolve(), *root.resolve().parents]:
        if (folder / ".git").exists():
            return True
    return False


__all__ = ["GITIGNORE", "folder_warnings", "keep_out_of_git"]
