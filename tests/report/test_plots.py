"""Figure builders: suppression, shapes of inputs, JSON safety."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from .report_fixtures import get_report_inputs

from segmint.report import plots


def test_sankey_accepts_matrix_and_tidy_and_hides_small_flows():
    matrix = pd.DataFrame({"A": [50, 3], "B": [20, 80]}, index=["A", "B"])
    fig = plots.migration_sankey(matrix, {"A": "Alpha"}, min_count=10)
    assert fig["data"][0]["link"]["value"] == [50, 20, 80]
    assert fig["data"][0]["node"]["label"][0] == "Alpha (before)"
    tidy = pd.DataFrame({"from": ["A", "A", "B"], "to": ["A", "B", "B"], "customers": [50, 20, 80]})
    assert plots.migration_sankey(tidy)["data"][0]["link"]["value"] == [50, 20, 80]
    assert plots.migration_sankey(matrix * 0) is None


def test_suppressed_segments_are_not_drawn():
    report_inputs = get_report_inputs()
    prof, f, lab = report_inputs["profile"], report_inputs["features"], report_inputs["labels"]
    names = {p.segment: p.name for p in report_inputs["personas"]}
    heat = plots.profile_heatmap(prof, names)
    assert "tiny" not in " ".join(heat["data"][0]["y"])
    proj = plots.projection_scatter(f, lab, names, prof.suppressed)
    assert all(t["name"] != "tiny" for t in proj["data"])
    for fig in plots.distributions(f, lab, names, prof.suppressed):
        assert all(t["name"] != "tiny" for t in fig["data"])


def test_projection_can_be_given():
    report_inputs = get_report_inputs()
    f, lab = report_inputs["features"], report_inputs["labels"]
    xy = pd.DataFrame({"u": np.arange(len(f), dtype=float), "v": 0.0}, index=f.index)
    fig = plots.projection_scatter(f, lab, {}, [], projection=xy)
    assert fig["layout"]["xaxis"]["title"]["text"] == "u"


def test_json_has_no_nan_and_cannot_close_the_script():
    text = plots.to_json({"data": [{"y": [1.0, float("nan")], "name": "</script>"}]})
    assert "NaN" not in text and "</script>" not in text
    assert json.loads(text)["data"][0]["y"] == [1.0, None]


def test_kselection_marks_the_best_mean_rank():
    report_inputs = get_report_inputs()
    fig = plots.kselection_lines(report_inputs["selection"])
    assert "chosen k = 5" in fig["layout"]["title"]["text"]
    assert plots.kselection_lines(pd.DataFrame()) is None
