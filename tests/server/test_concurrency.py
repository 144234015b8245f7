"""Reads while a segmentation runs, and a CLI command against a workspace the server holds."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from .conftest import bearer

#: The installed entry point (``python -m segmint.cli`` would load the CLI module twice).
SEGMINT = str(Path(sys.executable).with_name("segmint"))


def test_reads_keep_working_while_a_run_writes(client, tokens):
    h = bearer(tokens["analyst"])
    job = client.post("/api/v1/segmentations/value/runs", json={"as_of": "2025-03-01"}, headers=h).json()
    statuses, reads, errors = set(), 0, []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/jobs/{job['job_id']}", headers=h).json()["status"]
        statuses.add(state)
        if state in ("succeeded", "failed"):
            break
        for url in ("/api/v1/segmentations/value/history", "/api/v1/customers/C0000004?segmentation=value",
                    "/api/v1/segmentations/value/segments/VIP/members?limit=5"):
            r = client.get(url, headers=h)
            reads += 1
            if r.status_code != 200:
                errors.append((url, r.status_code, r.text[:200]))
    assert state == "succeeded"
    assert "running" in statuses and reads > 0, (statuses, reads)
    assert not errors


def test_parallel_requests_from_many_threads(client, tokens):
    h = bearer(tokens["analyst"])
    failures = []

    def hit():
        for _ in range(10):
            r = client.get("/api/v1/customers/C0000004", params={"segmentation": "value"}, headers=h)
            if r.status_code != 200:
                failures.append(r.status_code)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_cli_waits_for_a_process_that_holds_the_store_then_says_so(client, shop_path):
    # The app holds the store open (the file lock) for as long as it serves. It was not started by
    # `segmint serve` (no .segmint/serve.json), so the CLI cannot send its command there: it waits for
    # the store, saying so, and after --wait seconds gives up with a message that names the holder.
    # (With `segmint serve`, commands go through the server: tests/server/test_cli_while_serving.py.)
    import os

    for args in (["status"], ["token", "list"]):
        r = subprocess.run([SEGMINT, "--wait", "1", *args, "-w", str(shop_path)], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "COLUMNS": "500"})
        assert r.returncode == 1, r.stderr
        assert f"waiting for process {os.getpid()} that holds the workspace store" in r.stderr
        assert re.search(rf"still in use by process {os.getpid()} after \d+ s of waiting", r.stderr)
        assert "--wait SECONDS" in r.stderr
        assert "Traceback" not in r.stderr + r.stdout
