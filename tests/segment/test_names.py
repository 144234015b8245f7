"""Segmentation names become file names: checked where defined, paths checked against their folder (issue 15)."""

from __future__ import annotations

import os

import pytest
import yaml

from segmint.errors import ConfigError, WorkspaceError
from segmint.paths import NAME_RULE, inside
from segmint.segment.definitions import load_definitions, parse_definition

RULES = {"kind": "rules", "segments": [{"name": "All", "where": "frequency >= 0"}]}
BAD = ["../../x", "/tmp/x", "a/b", "a\\b", ".hidden", "..", "-flag", "", "x" * 65, "semi;colon", "sp ace",
       "nul\x00", "ümlaut"]
GOOD = ["value", "Value_2", "rfm-2024", "v1.2", "_private", "x" * 64, "9lives"]


@pytest.mark.parametrize("name", BAD)
def test_bad_names_are_refused_with_the_rule(name):
    with pytest.raises(ConfigError) as err:
        parse_definition(name, RULES, "segments/evil.yaml")
    assert repr(name) in str(err.value) and "segments/evil.yaml" in str(err.value) and NAME_RULE in str(err.value)


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass(name):
    assert parse_definition(name, RULES).kind == "rules"


def test_names_from_files_are_checked(ws):
    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "evil.yaml").write_text(yaml.safe_dump({"../../x": RULES}))
    with pytest.raises(ConfigError, match=r"'\.\./\.\./x' in segments/evil\.yaml is not allowed"):
        load_definitions(ws.path, ws.config.segmentations)


def test_names_in_segmint_yaml_are_checked(ws):
    from segmint.config import Config

    path = ws.path / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["segmentations"] = {"/tmp/evil": RULES}
    path.write_text(yaml.safe_dump(cfg))
    ws.config = Config.load(path)
    with pytest.raises(ConfigError, match=r"'/tmp/evil' in segmint\.yaml is not allowed"):
        load_definitions(ws.path, ws.config.segmentations)


def test_inside_refuses_paths_that_leave_the_folder(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    assert inside(folder, "v.html") == folder.resolve() / "v.html"
    for rel in ("../v.html", "/etc/passwd", "a/../../v.html"):
        with pytest.raises(WorkspaceError, match="leaves its folder"):
            inside(folder, rel)
    os.symlink(tmp_path, folder / "out")  # a link inside the folder that points out of it
    with pytest.raises(WorkspaceError, match="leaves its folder"):
        inside(folder, "out/v.html")


def test_report_and_run_write_nothing_outside_reports(ws, tmp_path, capsys):
    """The red-team case: `segmint run` and `segmint report` with a segmentation named ../../x."""
    from segmint.cli import main

    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "evil.yaml").write_text(yaml.safe_dump({"../../x": RULES}))
    ws.close()
    before = set(tmp_path.rglob("*"))
    for args in (["report", "../../x"], ["run"]):
        with pytest.raises(SystemExit) as exc:
            main([*args, "-w", str(ws.path)])
        assert exc.value.code not in (0, None)
        assert "is not allowed" in capsys.readouterr().err
    created = {p for p in set(tmp_path.rglob("*")) - before if ".segmint" not in p.parts}
    assert not any(p.suffix == ".html" for p in created), created
