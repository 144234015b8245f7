"""Terminal printing helpers used by the CLI."""

from __future__ import annotations

import io

from .report_fixtures import get_report_inputs
from rich.console import Console

from segmint.report import print_personas, print_profile, print_scorecard


def _console():
    return Console(width=120, record=True, file=io.StringIO(), color_system=None)


def test_print_scorecard():
    report_inputs = get_report_inputs()
    c = _console()
    print_scorecard(report_inputs["scorecard"], console=c)
    text = c.export_text()
    for word in ("distinct", "stable", "substantial", "reachable", "explainable", "profitable", "By segment",
                 "suppressed", "->"):
        assert word in text, word


def test_print_profile_and_personas():
    report_inputs = get_report_inputs()
    c = _console()
    names = {p.segment: p.name for p in report_inputs["personas"]}
    print_profile(report_inputs["profile"], console=c, names=names)
    print_personas(report_inputs["personas"], console=c)
    text = c.export_text()
    assert "High-value regulars (0)" in text and "<10" in text and "Small-cell protection" in text
    assert "Suggested actions" in text
