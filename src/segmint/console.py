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

# No emoji codes: user text such as a CSV line "root:x:0:0" must print as written, not with ":x:" as an emoji.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


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
