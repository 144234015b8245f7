"""The progress bar of ``segmint ingest``: the current step, rows read and rows per second, on stderr.

Drawn only on a terminal and never with ``--json`` (the report on stdout stays the only output);
piped or redirected, nothing is drawn. The ingest calls ``progress(step, rows)`` as each step
starts (:class:`segmint.ingest.pipeline.IngestOptions`); rows are known once the source is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from segmint import console

#: The steps of an ingest, in order (the bar advances one per step).
STEPS = ("reading", "personal data", "checking", "writing")


def rate(rows: int | None, seconds: float) -> str:
    """Rows and rows per second as the bar shows them.

    Examples
    --------
    >>> rate(4_251_028, 10.0)
    '4,251,028 rows, 425,103 rows/s'
    >>> rate(None, 3.0)
    ''
    """
    if rows is None:
        return ""
    return f"{rows:,} rows, {rows / max(seconds, 1e-9):,.0f} rows/s"


@contextmanager
def progress_bar(title: str, quiet: bool = False) -> Iterator[Callable[[str, int | None], None] | None]:
    """A Rich progress bar on stderr for one ingest; yields the ``progress`` callback (None: no bar)."""
    err = console.err
    if quiet or not err.is_terminal:
        yield None
        return
    started = time.perf_counter()
    seen: dict[str, int | None] = {"rows": None}
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                   TextColumn("{task.fields[step]}", markup=False), TextColumn("{task.fields[rate]}", markup=False),
                   TimeElapsedColumn(), console=err, transient=True)
    with bar:
        task = bar.add_task(title, total=len(STEPS), step="starting", rate="")

        def progress(step: str, rows: int | None = None) -> None:
            if rows is not None:
                seen["rows"] = rows
            done = STEPS.index(step) if step in STEPS else 0
            bar.update(task, completed=done, step=step,
                       rate=rate(seen["rows"], time.perf_counter() - started))

        yield progress
        bar.update(task, completed=len(STEPS), step="done")
