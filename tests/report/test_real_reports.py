"""Reports of real workspaces, the demo shop and the Online Retail data, opened in headless chromium."""

from __future__ import annotations

import os
import re

import pytest

from .test_browser import CONSOLE_ERRORS, chromium, run_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO = """
segmentations:
  behaviour:
    kind: cluster
    features: [recency_days, tenure_days, frequency, monetary_mean, promo_share, email_open_rate]
    k: auto
    k_range: [3, 8]
    random_state: 1
"""
RETAIL = """
segmentations:
  rfm:
    kind: rfm
"""


def render_and_check(ws, name, artifacts, tmp_path, stem):
    path = ws.report(name, artifacts / f"{stem}.html")
    binary = chromium()
    url = path.resolve().as_uri()
    dom = run_chromium(binary, url, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    errors = [line for line in dom.stderr.splitlines() if CONSOLE_ERRORS.search(line)]
    assert not errors, "console errors:\n" + "\n".join(errors[:10])
    figures = set(re.findall(r'<div id="(fig-[\w-]+)" class="plot">', path.read_text(encoding="utf-8")))
    assert figures and dom.stdout.count("main-svg") >= len(figures)
    shot = artifacts / f"{stem}.png"
    shot.unlink(missing_ok=True)
    snap = run_chromium(binary, url, tmp_path, f"--screenshot={shot}", "--window-size=1280,6000")
    assert snap.returncode == 0 and shot.exists() and shot.stat().st_size > 50_000


def test_demo_shop_report(tmp_path, artifacts, monkeypatch):
    from segmint.datasets import write_shop
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    write_shop(tmp_path / "data", n_customers=1500, seed=7)
    ws = Workspace.init(tmp_path / "ws")
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, tmp_path / "data" / f"{table}.csv")
    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "demo.yaml").write_text(DEMO)
    ws.close()
    with Workspace.open(tmp_path / "ws") as ws:
        render_and_check(ws, "behaviour", artifacts, tmp_path, "report-demo-shop")


def test_online_retail_report(tmp_path, artifacts, shared_data, monkeypatch):
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", os.environ.get("SEGMINT_SECRET", "test-secret-key-for-pseudonyms"))
    ws = Workspace.init(tmp_path / "retail")
    ws.ingest("orders", shared_data / "online_retail.csv.gz", preset="online-retail")
    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "rfm.yaml").write_text(RETAIL)
    ws.close()
    with Workspace.open(tmp_path / "retail") as ws:
        render_and_check(ws, "rfm", artifacts, tmp_path, "report-online-retail")
