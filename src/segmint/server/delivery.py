"""The delivery worker of ``segmint serve``: a sync every ``activation.worker_every_s`` seconds.

Each sync runs on the server's job thread (:meth:`segmint.server.jobs.JobManager.exclusive`),
after the jobs queued before it, with a workspace view of its own: it never writes the
store at the same time as a segmentation run. It stops with the server.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("segmint.server")


class DeliveryWorker:
    """Sync every ``every_s`` seconds until :meth:`close`."""

    def __init__(self, handle, jobs, every_s: float) -> None:
        self.handle = handle
        self.jobs = jobs
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="segmint-delivery", daemon=True)
        self.last: dict | None = None

    def start(self) -> "DeliveryWorker":
        self._thread.start()
        return self

    def _sync(self) -> dict:
        view = self.handle.fresh()
        try:
            return view.sync(who="delivery worker")
        finally:
            self.handle.release(view)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.last = self.jobs.exclusive(self._sync).result()
            except RuntimeError:  # the job pool shut down: the server is stopping
                return
            except Exception as exc:  # noqa: BLE001 - one failed sync must not stop the worker
                log.error("delivery worker: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:200])

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
