"""Personal data at rest: .segmint stays out of git, `segmint status` warns about a world-readable folder."""

from __future__ import annotations

import json
import os

import pytest


def test_init_keeps_the_state_folder_out_of_git(ws):
    ignore = ws.path / ".segmint" / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_status_warns_when_the_workspace_is_world_readable(ws, capsys):
    from segmint.cli import main

    os.chmod(ws.path, 0o700)
    assert ws.status()["warnings"] == []
    os.chmod(ws.path, 0o755)
    assert "readable by every user" in ws.status()["warnings"][0]
    ws.close()
    with pytest.raises(SystemExit):
        main(["status", "-w", str(ws.path), "--json"])
    assert "readable by every user" in json.loads(capsys.readouterr().out)["warnings"][0]
    with pytest.raises(SystemExit):
        main(["status", "-w", str(ws.path)])
    assert "warning: the workspace folder is readable by every user" in capsys.readouterr().err


def test_a_state_folder_in_a_repository_without_gitignore_is_reported(tmp_path):
    from segmint.privacy.keys import folder_warnings

    (tmp_path / ".git").mkdir()
    (tmp_path / "shop" / ".segmint").mkdir(parents=True, mode=0o700)
    os.chmod(tmp_path / "shop", 0o700)
    assert "inside a git repository" in folder_warnings(tmp_path / "shop")[0]
