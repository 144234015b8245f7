"""The one place segmint writes to the terminal: Rich output, tables, progress and JSON.

Reports go to stdout; progress and messages go to stderr, so ``--json`` output can be
piped into another program untouched.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def make(stderr: bool = False, **terminal: Any) -> Console:
    """A console as segmint's own: ``out`` (stdout, long lines kept whole) or ``err`` (stderr).

    ``terminal`` (file, width, colours...) goes to Rich; the server passes the client's when it
    runs a command forwarded to it (see :func:`use`).
    """
    # No emoji codes: user text such as a CSV line "root:x:0:0" must print as written, not ":x:" as an emoji.
    return Console(stderr=stderr, highlight=False, soft_wrap=not stderr, emoji=False, **terminal)


out = make()
err = make(stderr=True)


@contextmanager
def use(out_console: Console, err_console: Console) -> Iterator[None]:
    """Within the block, :data:`out` and :data:`err` are the consoles given (a forwarded command's output).

    A swap of the module's consoles, not a per-thread one: Rich's spinners and progress bars
    draw from threads of their own. The server runs one forwarded command at a time, and
    nothing else in it writes through this module.
    """
    global out, err
    saved = out, err
    out, err = out_console, err_console
    try:
        yield
    finally:
        out, err = saved


def print_json(obj: Any) -> None:
    """One JSON object on stdout (dates and numpy numbers as text/numbers)."""
    sys.stdout.write(json.dumps(obj, default=_default, indent=2) + "\n")
    sys.stdout.flush()


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def table(title: str, columns: list[str], rows: list[list[Any]], justify: dict[str, str] | None = None) -> Table:
    """A table of plain text: cells and title are never read as Rich markup (they hold user text: ids,
    segment names, paths; ``[/x]`` in a segment name would otherwise fail to print or vanish)."""
    t = Table(title=Text(title), title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(Text(c), justify=(justify or {}).get(c, "left"))
    for r in rows:
        t.add_row(*[Text("" if v is None else str(v)) for v in r])
    return t


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while the engine works (silent when stderr is not a terminal)."""
    if err.is_terminal:
        with err.status(message):
            yield
    else:
        yield


def info(message: str) -> None:
    """A message on stderr, printed as written (no markup: messages carry user text)."""
    err.print(message, markup=False)


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)


def fmt_int(n: int | None) -> str:
    return "" if n is None else f"{n:,}"
