"""One store cursor per thread: how the server reads while a segmentation writes.

A DuckDB connection must not be used by two threads at once, but its cursors (each a
connection to the same open database) may: each has its own transactions, and DuckDB's
MVCC lets a reader see the last committed state while a writer works. So every
request thread and the job thread get a shallow copy of the workspace whose store
talks through a cursor of their own (:meth:`segmint.store.Store.cursor`); the
workspace's logic is untouched.

Examples
--------
>>> import tempfile
>>> from segmint.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> handle = WorkspaceHandle(ws)
>>> view = handle.local()
>>> view is handle.local(), view.store.con is ws.store.con
(True, False)
>>> view.store.count("orders")
0
>>> handle.close(); ws.close()
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from segmint.errors import WorkspaceError

#: How long an erasure waits for the requests and exports in flight before it answers "busy".
REWRITE_WAIT_S = 60.0


class WorkspaceHandle:
    """The server's hold on a workspace: one open database, a cursor per thread.

    Parameters
    ----------
    workspace : segmint.workspace.Workspace
        The open workspace; the handle never closes it (its owner does).
    """

    def __init__(self, workspace) -> None:
        self.workspace = workspace
        workspace.store  # open the database (and take the file lock) now, in this thread
        self._local = threading.local()
        self._lock = threading.Lock()
        self._rewriting = threading.Lock()
        self._views: list = []
        # The gate between the store's users and a rewrite of its file (segmint forget): every request
        # (server/app.py's StoreGate) and every view made by fresh() holds it; a rewrite waits until
        # nobody else does and keeps new users out until the file is open again. Without it a request
        # that opened the database while the file was being replaced corrupted the store.
        self._gate = threading.Condition()
        self._active = 0
        self._owner: int | None = None  # the thread rewriting, which may go on using the store
        self._held_by: dict[int, int] = {}  # holds of fresh() views per thread that made them

    # -- the gate ----------------------------------------------------------------------------------
    def _closed_to_me(self) -> bool:
        return self._owner is not None and self._owner != threading.get_ident()

    def enter(self) -> None:
        """Hold the gate (wait while another thread rewrites the file)."""
        with self._gate:
            while self._closed_to_me():
                self._gate.wait()
            self._active += 1

    async def enter_async(self) -> None:
        """:meth:`enter` for the event loop, which must not block: poll while a rewrite runs."""
        while True:
            with self._gate:
                if not self._closed_to_me():
                    self._active += 1
                    return
            await asyncio.sleep(0.05)

    def leave(self) -> None:
        """Let go of one hold."""
        with self._gate:
            self._active -= 1
            self._gate.notify_all()

    @contextmanager
    def unheld(self) -> Iterator[None]:
        """Let go of the caller's request hold while it waits for a job (which may rewrite the file)."""
        self.leave()
        try:
            yield
        finally:
            self.enter()

    def local(self):
        """This thread's view of the workspace (created on first use)."""
        view = getattr(self._local, "view", None)
        if view is None:  # a request's view: the request holds the gate (StoreGate), so a rewrite waits for it
            view = self._make_view()  # (waiting at the gate here too would deadlock with that rewrite)
            self._local.view = view
        return view

    def fresh(self):
        """A new view with a cursor of its own (for a stream or a job that outlives a call).

        It holds the gate until :meth:`release`: a rewrite of the file waits for it.
        """
        self.enter()
        try:
            view = self._make_view()  # the hold keeps any rewrite waiting: no second wait at the gate
        except BaseException:
            self.leave()
            raise
        me = threading.get_ident()
        view._segmint_holder = me
        with self._gate:
            self._held_by[me] = self._held_by.get(me, 0) + 1
        return view

    def _make_view(self):
        view = copy.copy(self.workspace)
        view._store = self.workspace.store.cursor()
        with self._lock:
            self._views.append(view)
        return view

    @contextmanager
    def borrowed(self) -> Iterator[object]:
        """A fresh view, closed when the block ends."""
        view = self.fresh()
        try:
            yield view
        finally:
            self.release(view)

    def release(self, view) -> None:
        """Close a view made by :meth:`fresh`."""
        with self._lock:
            if view in self._views:
                self._views.remove(view)
        _close_view(view)
        holder = view.__dict__.pop("_segmint_holder", None)
        if holder is not None:  # released where it was made or not (a stream ends on another thread)
            with self._gate:
                left = self._held_by.get(holder, 0) - 1
                if left > 0:
                    self._held_by[holder] = left
                else:
                    self._held_by.pop(holder, None)
            self.leave()

    def store(self):
        """This thread's store (a cursor of its own), for the server's own small tables."""
        return self.local().store

    def rewrite(self, fn, after=None):
        """Close the database (every cursor, then the workspace's store), run ``fn()``, and reopen it.

        ``segmint forget`` rewrites the store's file (:func:`segmint.store.erase.rewrite_database`), which
        needs it closed. First every other user of the store lets go (at most :data:`REWRITE_WAIT_S`;
        then a :class:`~segmint.errors.WorkspaceError`, a 503, and nothing is changed), and nobody new
        comes in until the file is open again. Returns ``(fn(), a fresh cursor store for the caller)``;
        every thread gets a new view on its next call. ``after()`` runs once the store is open again
        (the serving index resets).
        """
        with self._rewriting:
            self._close_gate()
            try:
                self.close()
                self.workspace.close()
                try:
                    result = fn()
                finally:
                    self.workspace.store  # reopen (and take the file lock) again
                cursor = self.workspace.store.cursor()
            finally:
                with self._gate:
                    self._owner = None
                    self._gate.notify_all()
            if after is not None:
                after()
            return result, cursor

    def _close_gate(self) -> None:
        """Take the gate for this thread and wait until no other request or view holds it."""
        me = threading.get_ident()
        deadline = time.monotonic() + REWRITE_WAIT_S
        with self._gate:
            while self._owner is not None:
                self._gate.wait()
            self._owner = me
            mine = self._held_by.get(me, 0)
            while self._active > mine:
                left = deadline - time.monotonic()
                if left <= 0:
                    busy = self._active - mine
                    self._owner = None
                    self._gate.notify_all()
                    raise WorkspaceError(f"the store is busy ({busy} request(s), export(s) or job(s) still reading "
                                         f"it after {REWRITE_WAIT_S:.0f} s); nothing was erased: try again")
                self._gate.wait(left)

    def close(self) -> None:
        """Close every cursor this handle opened (not the workspace itself)."""
        with self._lock:
            views, self._views = self._views, []
        for view in views:
            _close_view(view)
        self._local = threading.local()


def _close_view(view) -> None:
    try:
        view.store.close()
    except Exception:  # noqa: BLE001 - closing twice or after the database is fine
        pass


__all__ = ["WorkspaceHandle"]
