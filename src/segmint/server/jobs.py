"""Background jobs: segmentation runs, one at a time, on a thread of their own.

One worker thread serialises every write the server makes to the store (DuckDB allows
one writer's transaction to conflict with another's), while request threads keep
reading through their own cursors. A job's record lives in memory: id, status
(queued, running, succeeded, failed), times, the result as JSON, or the error message.

Examples
--------
>>> jobs = JobManager(lambda: None, history=10)
>>> job = jobs.submit("demo", "someone", lambda ws: {"answer": 42})
>>> jobs.wait(job.job_id, timeout=5).to_dict()["result"]
{'answer': 42}
>>> jobs.close()
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from segmint.errors import SegmintError
from segmint.server.data import jsonable

log = logging.getLogger("segmint.server")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    job_id: str
    kind: str
    who: str
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    result: Any = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "who": self.who, "params": self.params,
                "status": self.status, "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, "result": self.result, "error": self.error}


class JobManager:
    """Run jobs on one worker thread, each with a workspace view of its own.

    Parameters
    ----------
    view_factory : callable
        Returns a workspace view for the job (its own DuckDB cursor); called on the worker.
    release : callable, optional
        Closes a view when the job ends.
    history : int
        Finished jobs kept for look-up.
    on_done : callable, optional
        Called with no argument after each job (the server refreshes its serving index).
    """

    def __init__(self, view_factory: Callable[[], Any], release: Callable[[Any], None] | None = None,
                 history: int = 200, on_done: Callable[[], None] | None = None) -> None:
        self._factory = view_factory
        self._release = release
        self._on_done = on_done
        self._history = history
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segmint-job")

    def submit(self, kind: str, who: str, fn: Callable[[Any], Any], **params: Any) -> Job:
        """Queue ``fn(workspace_view)``; return its job at once."""
        job = Job(job_id=secrets.token_hex(8), kind=kind, who=who, params=jsonable(params))
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > self._history:
                oldest = next(iter(self._jobs))
                if not self._jobs[oldest].done.is_set():
                    break
                del self._jobs[oldest]
        self._pool.submit(self._run, job, fn)
        return job

    def _run(self, job: Job, fn: Callable[[Any], Any]) -> None:
        job.status, job.started_at = "running", _now()
        view = None
        try:
            view = self._factory()
            job.result = jsonable(fn(view))
            job.status = "succeeded"
        except SegmintError as exc:  # a user error: its message is meant for people
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a job must always end with a status
            log.error("job %s (%s) failed with %s", job.job_id, job.kind, type(exc).__name__, exc_info=exc)
            job.status, job.error = "failed", f"unexpected {type(exc).__name__}; the server log has the details"
        finally:
            if view is not None and self._release is not None:
                self._release(view)
            if self._on_done is not None:
                try:
                    self._on_done()
                except Exception as exc:  # noqa: BLE001 - a hook must not change the job's outcome
                    log.error("after job %s: %s", job.job_id, type(exc).__name__, exc_info=exc)
            job.finished_at = _now()
            job.done.set()

    def exclusive(self, fn: Callable[[], Any]) -> Future:
        """Run ``fn()`` on the worker thread, after the jobs queued before it (not recorded as a job).

        The server's control route runs CLI commands forwarded to it so (server/routes_cli.py): they
        write the store too, so they take their turn with the jobs; ``on_done`` runs after each.
        """
        def task() -> Any:
            try:
                return fn()
            finally:
                if self._on_done is not None:
                    try:
                        self._on_done()
                    except Exception as exc:  # noqa: BLE001 - a hook must not change the outcome
                        log.error("after a forwarded command: %s", type(exc).__name__, exc_info=exc)

        return self._pool.submit(task)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job ends (for tests and the CLI)."""
        job = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        job.done.wait(timeout)
        return job

    def close(self) -> None:
        """Let a running job finish; drop queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["Job", "JobManager"]
