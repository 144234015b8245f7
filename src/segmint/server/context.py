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

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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

    def local(self):
        """This thread's view of the workspace (created on first use)."""
        view = getattr(self._local, "view", None)
        if view is None:
            view = self.fresh()
            self._local.view = view
        return view

    def fresh(self):
        """A new view with a cursor of its own (for a stream or a job that outlives a call)."""
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

    def store(self):
        """This thread's store (a cursor of its own), for the server's own small tables."""
        return self.local().store

    def rewrite(self, fn, after=None):
        """Close the database (every cursor, then the workspace's store), run ``fn()``, and reopen it.

        ``segmint forget`` rewrites the store's file (:func:`segmint.store.erase.rewrite_database`), which
        needs it closed. Returns ``(fn(), a fresh cursor store for the caller)``; every thread gets a new
        view on its next call. ``after()`` runs once the store is open again (the serving index resets).
        """
        with self._rewriting:
            self.close()
            self.workspace.close()
            try:
                result = fn()
            finally:
                self.workspace.store  # reopen (and take the file lock) again
            if after is not None:
                after()
            return result, self.workspace.store.cursor()

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
