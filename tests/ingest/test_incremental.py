"""Incremental loads (issue 16): --mode upsert|append|replace, new/updated/unchanged counts, folders and globs,
one writer at a time, gzip bombs and overlong lines refused naming the bound, nothing half-written on kill -9."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from segmint.cli import app
from segmint.errors import DataError, WorkspaceError
from segmint.ingest import compressed

HEADER = "order_id,customer_id,ordered_at,amount\n"
DAY1 = HEADER + "A1,C1,2024-01-05,10\nA2,C2,2024-01-06,20\nA3,C1,2024-01-07,30\n"
# one corrected order (A2), one unchanged (A1), one new (A4), one bad row
DAY2 = HEADER + "A1,C1,2024-01-05,10\nA2,C2,2024-01-06,25\nA4,C3,2024-01-08,40\nA5,C3,not a date,1\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def amounts(ws) -> dict[str, float]:
    t = ws.store.table("orders").execute()
    return {o: float(a) for o, a in zip(t.order_id, t.amount)}


def test_reingesting_the_same_file_adds_nothing(ws, tmp_path):
    path = write(tmp_path / "day1.csv", DAY1)
    first = ws.ingest("orders", path)
    again = ws.ingest("orders", path)
    assert (first.rows_new, first.rows_unchanged) == (3, 0)
    assert (again.rows_read, again.rows_new, again.rows_updated, again.rows_unchanged) == (3, 0, 0, 3)
    assert ws.store.count("orders") == 3


def test_upsert_counts_new_updated_unchanged_and_quarantined(ws, tmp_path):
    ws.ingest("orders", write(tmp_path / "day1.csv", DAY1))
    r = ws.ingest("orders", write(tmp_path / "day2.csv", DAY2))
    assert r.mode == "upsert"
    assert (r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_quarantined) == (1, 1, 1, 1)
    assert r.rows_read == r.rows_accepted + r.rows_quarantined == 4
    assert amounts(ws) == {"A1": 10.0, "A2": 25.0, "A3": 30.0, "A4": 40.0}


def test_append_never_changes_a_stored_row(ws, tmp_path):
    ws.ingest("orders", write(tmp_path / "day1.csv", DAY1))
    r = ws.ingest("orders", write(tmp_path / "day2.csv", DAY2), mode="append")
    assert (r.rows_new, r.rows_updated, r.rows_unchanged) == (1, 0, 1)
    assert r.quarantine_reasons == {"key_already_stored": 1, "unparseable_ordered_at": 1}
    assert r.rows_read == r.rows_accepted + r.rows_quarantined == 4
    assert amounts(ws) == {"A1": 10.0, "A2": 20.0, "A3": 30.0, "A4": 40.0}
    q = ws.store.table("quarantine").execute()
    assert list(q[q.reasons == "key_already_stored"].line) == [3]  # A2's line in day2.csv


def test_replace_leaves_exactly_the_source(ws, tmp_path):
    ws.ingest("orders", write(tmp_path / "day1.csv", DAY1))
    r = ws.ingest("orders", write(tmp_path / "day2.csv", DAY2), mode="replace")
    assert (r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_removed) == (1, 1, 1, 1)
    assert amounts(ws) == {"A1": 10.0, "A2": 25.0, "A4": 40.0}


def test_unknown_mode_is_refused(ws, tmp_path):
    with pytest.raises(DataError, match="--mode 'merge': use one of upsert, append, replace"):
        ws.ingest("orders", write(tmp_path / "day1.csv", DAY1), mode="merge")


def test_cli_reports_the_counts_and_the_mode(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-0123456789")
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(tmp_path / "w")]).exit_code == 0
    write(tmp_path / "day1.csv", DAY1)
    write(tmp_path / "day2.csv", DAY2)
    base = ["-w", str(tmp_path / "w")]
    assert runner.invoke(app, ["ingest", "orders", str(tmp_path / "day1.csv"), *base]).exit_code == 0
    res = runner.invoke(app, ["ingest", "orders", str(tmp_path / "day2.csv"), "--mode", "append", "--json", *base])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["mode"] == "append"
    assert (report["rows_new"], report["rows_updated"], report["rows_unchanged"], report["rows_quarantined"]) \
        == (1, 0, 1, 2)
    assert "\r" not in res.stdout and "rows/s" not in res.stdout  # no progress bar in --json or when piped
    res = runner.invoke(app, ["ingest", "orders", str(tmp_path / "day2.csv"), *base])
    assert res.exit_code == 0 and "unchanged" in res.stdout and "updated" in res.stdout


def test_a_glob_of_files_is_one_load(ws, tmp_path):
    write(tmp_path / "orders" / "2025-01.csv", HEADER + "A1,C1,2025-01-05,10\nA2,C2,2025-01-06,20\n")
    write(tmp_path / "orders" / "2025-02.csv", HEADER + "A3,C1,2025-02-07,30\nA1,C1,2025-01-05,10\n")
    write(tmp_path / "orders" / "2024-12.csv", HEADER + "A0,C1,2024-12-07,5\n")
    r = ws.ingest("orders", str(tmp_path / "orders" / "2025-*.csv"))
    assert (r.rows_read, r.rows_new, r.quarantine_reasons) == (4, 3, {"duplicate_row": 1})
    assert sorted(amounts(ws)) == ["A1", "A2", "A3"]
    with pytest.raises(DataError, match="no file matches"):
        ws.ingest("orders", str(tmp_path / "orders" / "2026-*.csv"))


def test_a_hive_partitioned_folder_of_parquet_is_one_load(ws, tmp_path):
    for month, rows in (("01", [("A1", "C1", "2025-01-05", "10")]),
                        ("02", [("A2", "C2", "2025-02-06", "20"), ("A3", "C2", "2025-02-07", "x")])):
        folder = tmp_path / "orders" / "year=2025" / f"month={month}"
        folder.mkdir(parents=True)
        pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "amount"]).to_parquet(
            folder / "part-0.parquet")
    (tmp_path / "orders" / "_SUCCESS").write_text("")
    r = ws.ingest("orders", tmp_path / "orders")
    assert (r.rows_read, r.rows_new, r.rows_quarantined) == (3, 2, 1)
    assert set(r.ignored_columns) == {"year", "month"}  # the partition columns are read, not orders' columns


def test_a_second_ingest_into_the_same_store_is_refused_while_one_writes(ws, tmp_path):
    path = write(tmp_path / "day1.csv", DAY1)
    with ws.store.writer("ingest into orders"):
        with pytest.raises(WorkspaceError, match="another ingest into orders is writing"):
            ws.ingest("orders", path)
    assert ws.ingest("orders", path).rows_new == 3  # the lock is released


def test_two_threads_one_refused_the_other_whole(ws, tmp_path):
    path = write(tmp_path / "day1.csv", DAY1 + "".join(f"B{i},C1,2024-01-05,1\n" for i in range(20_000)))
    results: list = []
    started = threading.Event()

    def first() -> None:
        started.set()
        results.append(ws.ingest("orders", path))

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    deadline = time.monotonic() + 30
    refused = None
    while time.monotonic() < deadline and t.is_alive():
        try:
            with ws.store.writer("ingest into orders"):
                pass
        except WorkspaceError as exc:
            refused = exc
            break
    t.join()
    assert results and results[0].rows_new == 20_003
    assert refused is None or "nothing was written" in str(refused)


def test_an_overlong_line_names_its_line_and_the_bound(ws, tmp_path, monkeypatch):
    from segmint.ingest import stage

    monkeypatch.setattr(stage, "MAX_LINE_BYTES", 1 << 16)
    path = write(tmp_path / "long.csv", HEADER + "A1,C1,2024-01-05,1\nA2,C2,2024-01-05," + "9" * 100_000 + "\n")
    with pytest.raises(DataError) as err:
        ws.ingest("orders", path)
    msg = str(err.value)
    assert "line 3 is longer than 65,536 bytes" in msg and "nothing was written" in msg
    assert "999999" not in msg  # the line itself is not echoed
    assert ws.store.count("orders") == 0


def test_a_gzip_bomb_is_refused_early_naming_the_bound(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(compressed, "MIN_EXPANSION_BOUND", 8 << 20)
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(HEADER.encode())
        line = b"A1,C1,2024-01-05,1\n" * 50_000
        for _ in range(100):  # ~95 MB of text in ~100 KB
            fh.write(line)
    assert path.stat().st_size < 1 << 20
    bound = compressed.expansion_bound(path)
    assert bound == max(8 << 20, compressed.MAX_EXPANSION_RATIO * path.stat().st_size) < 90 << 20
    with pytest.raises(DataError) as err:
        ws.ingest("orders", path)
    assert f"expands to more than {bound:,} bytes" in str(err.value) and "Nothing was written" in str(err.value)
    assert ws.store.count("orders") == 0 and ws.store.count("quarantine") == 0


KILLER = """
import os, sys
os.environ["SEGMINT_SECRET"] = "test-secret-key-0123456789"
from segmint.workspace import Workspace
ws = Workspace.open(sys.argv[1])
print("start", flush=True)
ws.ingest("orders", sys.argv[2])
print("done", flush=True)
"""


def _state(path: Path) -> tuple:
    from segmint.workspace import Workspace

    with Workspace.open(path) as ws:
        o = ws.store.table("orders")
        orders = o.aggregate(n=o.count(), total=o.amount.sum(), ids=o.order_id.nunique()).execute().iloc[0]
        return (int(orders.n), float(orders.total), int(orders.ids), ws.store.count("quarantine"),
                ws.store.count("ingest_runs"))


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_the_store_as_before(tmp_path, monkeypatch):
    """Ten ingests killed at random moments: each leaves the store exactly as before it, or (killed after the
    commit) exactly as a clean run leaves it; never anything in between."""
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-0123456789")
    rng = random.Random(16)
    day1 = write(tmp_path / "day1.csv", HEADER + "".join(f"A{i},C{i % 97},2024-01-05,{i % 50}\n"
                                                           for i in range(60_000)))
    # corrections, new orders and bad rows
    day2 = write(tmp_path / "day2.csv", HEADER + "".join(f"A{i},C{i % 97},2024-01-05,{i % 50 + 1}\n"
                                                           for i in range(0, 120_000, 2)) + "Z1,C1,bad,1\n")
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest("orders", day1)
    before = _state(tmp_path / "ws")
    clean = tmp_path / "clean"
    with Workspace.init(clean) as ws:
        ws.ingest("orders", day1)
        ws.ingest("orders", day2)
    after = _state(clean)
    assert before != after
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    # how long a whole run takes here (the kill moments are drawn within it)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", KILLER, str(clean), str(day2)], env=env, check=True,
                   capture_output=True)
    whole = time.monotonic() - t0
    outcomes = []
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(tmp_path / "ws"), str(day2)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, whole))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        state = _state(tmp_path / "ws")
        if b"done" in out:  # the kill came after the run: a whole second ingest of day2 changes nothing more
            assert state == (after[0], after[1], after[2], after[3], state[4])
            before = state
        else:
            assert state == before, f"killed mid-ingest, the store changed: {before} -> {state}"
        outcomes.append(b"done" in out)
    assert not all(outcomes), "no kill landed during an ingest"
