"""``segmint serve --refresh-every 1d``: a refresh queued as a background job at a fixed interval.

The timer thread only queues: the refresh runs on the job worker (:mod:`segmint.server.jobs`), in turn
with the other writes, and shows in ``GET /api/v1/jobs`` like any job (kind ``refresh``, by
``scheduler``). The first refresh is queued one interval after the server starts; a refresh still
queued or running when the next is due is not queued twice.

Examples
--------
>>> from segmint.server.jobs import JobManager
>>> jobs = JobManager(lambda: None)
>>> done = []
>>> s = RefreshScheduler(jobs, 0.05, task=lambda ws: done.append(1))
>>> s.start(); import time; time.sleep(0.3); s.close(); jobs.close()
>>> len(done) >= 2
True
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("segmint.server")

__all__ = ["RefreshScheduler"]


class RefreshScheduler:
    """Queue ``task`` (default: ``ws.refresh()``) on ``jobs`` every ``interval_s`` seconds until closed."""

    def __init__(self, jobs, interval_s: float, task: Callable[[Any], Any] | None = None) -> None:
        self.jobs = jobs
        self.interval_s = float(interval_s)
        self.task = task or (lambda ws: ws.refresh())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="segmint-refresh", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._last is not None and not self._last.done.is_set():
                log.info("refresh %s still running: the next one waits for its turn", self._last.job_id)
                continue
            self._last = self.jobs.submit("refresh", "scheduler", self.task, every_s=self.interval_s)
            log.info("refresh queued as job %s", self._last.job_id)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
