"""End to end in Debian's chromium (Playwright): log in, open a segment, write a rule, see its size, export.

Screenshots go to the artifacts folder for a person to look at.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        subprocess.run(["bash", str(REPO / "scripts" / "install-chromium.sh")], check=True, timeout=900)
        path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "no chromium after scripts/install-chromium.sh"
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(shop, tokens):
    """uvicorn serving the shop on 127.0.0.1 at a free port, in a thread."""
    import uvicorn

    from segmint.server import Settings, create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(shop, Settings(port=port)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_login_segment_rule_export(live_server, tokens, artifacts, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            page.goto(live_server + "/segmentations/value")
            assert "/login" in page.url  # not logged in: sent to the login form
            page.fill("#token", tokens["analyst"])
            page.screenshot(path=str(artifacts / "server-login.png"))
            page.click("button[type=submit]")
            page.wait_for_url("**/segmentations/value")
            page.wait_for_selector(".plot .main-svg")
            page.screenshot(path=str(artifacts / "server-segmentation.png"), full_page=True)

            page.goto(live_server + "/")
            page.wait_for_selector(".plot .main-svg")
            page.screenshot(path=str(artifacts / "server-overview.png"), full_page=True)

            page.goto(live_server + "/segmentations/value/segments/VIP")
            page.wait_for_selector(".plot .main-svg")
            assert page.locator("text=Persona").count() and page.locator("text=KPIs").count()
            page.screenshot(path=str(artifacts / "server-segment.png"), full_page=True)

            with page.expect_download() as info:
                page.click("#export")
            download = info.value
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            lines = saved.read_text().splitlines()
            assert lines[0].replace('"', "").startswith("customer_id,segment") and len(lines) > 5

            page.goto(live_server + "/rules")
            page.fill("#rule", "recency_days <= 30 and monetary_total > 200")
            page.wait_for_selector("#attrition tbody tr")  # (wait_for_function would need eval, which the CSP forbids)
            size = int(page.text_content("#size").replace(",", ""))
            assert size > 0
            assert page.locator("#attrition tbody tr").count() == 2
            page.screenshot(path=str(artifacts / "server-rules.png"), full_page=True)
            page.fill("#rule", "recency_dayz <= 30")
            page.wait_for_selector("#rule-error:not([hidden])")
            assert "recency_days" in page.text_content("#rule-error")

            page.goto(live_server + "/segmentations/value/migration")
            page.wait_for_selector(".sankey-link")
            page.wait_for_timeout(1200)  # plotly fades the links in
            page.screenshot(path=str(artifacts / "server-migration.png"), full_page=True)

            # issue 23: each segment's session paths as a Sankey (nodes "1. web_visit", "2. order"...)
            page.goto(live_server + "/segmentations/value/journeys?length=3")
            page.wait_for_selector(".journey .sankey-link")
            assert page.locator(".journey .sankey-node").count() >= 2
            page.wait_for_timeout(1200)
            page.screenshot(path=str(artifacts / "server-journeys.png"), full_page=True)
        finally:
            browser.close()
    # The misspelt rule's 422 is expected (chromium logs every failed fetch); nothing else may fail.
    assert not [m for m in problems if "status of 422" not in m], problems
