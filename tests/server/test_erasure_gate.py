"""The gate between the store's users and ``segmint forget``'s rewrite of its file (server/context.py).

A request that opened the database while an erasure replaced the file corrupted the store
("computed checksum does not match"), found by the contract run; these tests hold the gate to
what it promises: a rewrite waits for every other user, keeps new ones out until the file is
open again, and answers "busy" rather than rewriting under a reader.
"""

from __future__ import annotations

import threading
import time

import pytest

from segmint.errors import WorkspaceError
from segmint.server import context
from segmint.server.context import WorkspaceHandle
from segmint.workspace import Workspace


@pytest.fixture
def handle(tmp_path):
    ws = Workspace.init(tmp_path / "shop")
    h = WorkspaceHandle(ws)
    yield h
    h.close()
    ws.close()


def test_a_rewrite_waits_for_a_reader_and_answers_busy_when_it_does_not_let_go(handle, monkeypatch):
    monkeypatch.setattr(context, "REWRITE_WAIT_S", 0.3)
    views = []
    t = threading.Thread(target=lambda: views.append(handle.fresh()))  # an export streaming on its own thread
    t.start()
    t.join(10)
    view = views[0]
    ran = []
    with pytest.raises(WorkspaceError, match="busy .*nothing was erased"):
        handle.rewrite(lambda: ran.append(1))
    assert ran == [] and view.store.count("orders") == 0  # nothing closed under the reader
    handle.release(view)
    result, cursor = handle.rewrite(lambda: "rewritten")
    assert result == "rewritten" and cursor.count("orders") == 0


def test_nobody_opens_the_store_while_its_file_is_replaced(handle):
    opened: list[float] = []

    def reader() -> None:
        view = handle.fresh()
        opened.append(time.monotonic())
        assert view.store.count("orders") == 0
        handle.release(view)

    def replace_file() -> str:
        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.3)
        assert opened == []  # the reader waits at the gate while the file is closed
        replace_file.finished = time.monotonic()
        replace_file.thread = t
        return "done"

    assert handle.rewrite(replace_file)[0] == "done"
    replace_file.thread.join(10)
    assert opened and opened[0] >= replace_file.finished


def test_a_job_that_erases_is_not_kept_waiting_by_its_own_view(handle):
    """The erasure runs on the job thread inside a view it holds (routes_admin's borrowed())."""
    with handle.borrowed():
        assert handle.rewrite(lambda: 42)[0] == 42
    view = handle.fresh()  # and the gate is open again
    handle.release(view)


def test_a_request_that_holds_the_gate_gets_its_view_while_a_rewrite_waits_for_it(handle, monkeypatch):
    """A request inside StoreGate asks for its view after a rewrite has begun waiting: no deadlock, no busy."""
    monkeypatch.setattr(context, "REWRITE_WAIT_S", 10.0)
    handle.enter()  # the request, as StoreGate holds it
    rewrite = threading.Thread(target=lambda: done.append(handle.rewrite(lambda: "ok")[0]))
    done: list[str] = []
    rewrite.start()
    time.sleep(0.3)  # the rewrite now owns the gate and waits for this request
    started = time.monotonic()
    assert handle.local().store.count("orders") == 0
    assert time.monotonic() - started < 5 and done == []
    handle.leave()
    rewrite.join(10)
    assert done == ["ok"]
