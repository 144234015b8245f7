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


def test_print_scorecard_says_when_it_was_computed_on_a_sample():
    from segmint.evaluate import planted_features, scorecard

    f, labels = planted_features(3000, seed=2)
    c = _console()
    print_scorecard(scorecard(f, labels, n_bootstrap=3, sample_size=800, max_rows=1000), console=c)
    text = " ".join(c.export_text().split())
    assert "computed on a stratified sample of" in text and "of 3,000 customers" in text
    c = _console()
    print_scorecard(scorecard(f, labels, n_bootstrap=3, sample_size=800), console=c)
    assert "stratified sample" not in c.export_text()
