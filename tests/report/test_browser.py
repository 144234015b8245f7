"""The report as a reader meets it: opened offline in headless chromium, every chart drawn, no script error.

Needs Debian's chromium; the test installs it with scripts/install-chromium.sh when missing.
The screenshot and the report are left in the test-artifacts folder for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from .report_fixtures import get_report_inputs, render_planted

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000"]
# Chromium logs every console message of the page as ...:CONSOLE...; a clean report logs none.
CONSOLE_ERRORS = re.compile(r"Uncaught|:CONSOLE")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    subprocess.run(["bash", str(REPO / "scripts" / "install-chromium.sh")], check=True, timeout=900)
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "scripts/install-chromium.sh ran but no chromium is on PATH"
    return path


def run_chromium(binary: str, url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *extra, url], check=False,
                          capture_output=True,
                          text=True, timeout=180)


@pytest.mark.browser
def test_report_renders_in_chromium(artifacts, tmp_path):
    report_inputs = get_report_inputs()
    binary = chromium()
    path = render_planted(report_inputs, artifacts / "report-planted.html")
    url = path.resolve().as_uri()
    page = path.read_text(encoding="utf-8")
    figures = sorted(set(re.findall(r'<div id="(fig-[\w-]+)" class="plot">', page)))
    assert len(figures) >= 7

    dom = run_chromium(binary, url, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    errors = [line for line in dom.stderr.splitlines() if CONSOLE_ERRORS.search(line)]
    assert not errors, "console errors:\n" + "\n".join(errors[:10])
    for fid in figures:  # Plotly.newPlot fills each div with a plot-container holding the SVG
        m = re.search(rf'<div id="{fid}" class="plot[^"]*"[^>]*>(.{{0,400}})', dom.stdout, re.DOTALL)
        assert m and "plot-container" in m.group(1), f"{fid} was not drawn"
    assert dom.stdout.count("main-svg") >= len(figures)

    shot = artifacts / "report-planted.png"
    shot.unlink(missing_ok=True)
    snap = run_chromium(binary, url, tmp_path, f"--screenshot={shot}", "--window-size=1280,8200")
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 100_000
