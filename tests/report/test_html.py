"""The report is one self-contained, deterministic HTML file with every section."""

from __future__ import annotations

import re

from .report_fixtures import get_report_inputs, render_planted

SECTIONS = ("overview", "scorecard", "profile", "personas", "projection", "distributions", "kselection",
            "migrations", "notes")


def test_report_is_self_contained(tmp_path):
    report_inputs = get_report_inputs()
    path = render_planted(report_inputs, tmp_path / "sub" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?:", page), "nothing may load from the web"
    assert "cdn.plot.ly" not in page.split("</script>", 1)[1]  # plotly.js is inline (its own source may name it)
    assert "Plotly.newPlot" in page
    # the inlined partial Plotly.js bundle (1.4 MB; the whole library made a 7-segment report weigh 4.9 MB)
    assert "partial bundle for segmint" in page
    assert 1_300_000 < len(page) < 2_000_000
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section


def test_report_shows_the_results(tmp_path):
    report_inputs = get_report_inputs()
    page = render_planted(report_inputs, tmp_path / "r.html").read_text(encoding="utf-8")
    names = {p.name for p in report_inputs["personas"] if not p.suppressed}
    assert "High-value regulars" in names
    for name in names:
        assert name in page
    for fig in ("fig-sizes", "fig-heatmap", "fig-projection", "fig-dist-0", "fig-k", "fig-sankey"):
        assert f'id="{fig}"' in page and f'"{fig}":' in page
    assert "Small-cell protection" in page and "fewer than 10 customers" in page
    assert "Synthetic planted shop." in page
    assert "badge pass" in page and "badge fail" in page  # the tiny segment fails "substantial"


def test_report_is_deterministic(tmp_path):
    report_inputs = get_report_inputs()
    a = render_planted(report_inputs, tmp_path / "a.html").read_bytes()
    b = render_planted(report_inputs, tmp_path / "b.html").read_bytes()
    assert a == b


def test_optional_sections_are_left_out(tmp_path):
    report_inputs = get_report_inputs()
    page = render_planted(report_inputs, tmp_path / "r.html", selection=None, migrations=None).read_text(encoding="utf-8")
    assert '<section id="kselection">' not in page and '<section id="migrations">' not in page


def test_text_is_escaped(tmp_path):
    report_inputs = get_report_inputs()
    page = render_planted(report_inputs, tmp_path / "r.html", notes="<script>alert(1)</script>").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_overlapping_audiences_get_an_overlap_table(tmp_path):
    import pandas as pd

    from segmint.evaluate import planted_features, scorecard
    from segmint.profile import personas, profile
    from segmint.report import render_report

    get_report_inputs()  # skips without plotly
    f, _ = planted_features(800, seed=4)
    aud = pd.DataFrame({"vip": f.monetary_total > 800, "deal_seekers": f.promo_share > 0.5,
                        "few": f.index.isin(f.index[:3])}, index=f.index)
    card, prof = scorecard(f, aud, n_bootstrap=2), profile(f, aud)
    page = render_report(tmp_path / "a.html", "Audiences", f, aud, card, prof, personas(prof)).read_text()
    assert '<section id="overlap">' in page and "&lt;10" in page
    assert '<section id="projection">' not in page  # a map needs one segment per customer


def test_partial_plotly_bundle_covers_every_trace_the_report_draws(tmp_path):
    from segmint.report import html

    report_inputs = get_report_inputs()
    page = render_planted(report_inputs, tmp_path / "r.html").read_text(encoding="utf-8")
    drawn = set(re.findall(r'"type":"(\w+)"', page.split("var figures = ", 1)[1]))
    assert {"bar", "heatmap", "scatter", "box", "sankey"} <= drawn
    assert drawn - {"line", "linear", "category", "log", "date"} <= html.BUNDLE_TRACES
    header = html.plotly_js().split("*/", 1)[0]
    for trace in html.BUNDLE_TRACES:  # the bundle's header (scripts/build-report-plotly.sh) names its traces
        assert f" {trace}" in header


def test_a_figure_of_another_type_gets_the_whole_plotly_library():
    from segmint.report import html

    assert html.trace_types({"a": {"data": [{"type": "bar"}, {"x": [1]}]}}) == {"bar", "scatter"}
    assert html.trace_types({"a": {"data": [{"type": "pie"}]}}) - html.BUNDLE_TRACES == {"pie"}
    full = html.plotly_js(full=True)
    assert len(full) > 3_000_000 and "partial bundle for segmint" not in full[:400]
