"""The monitoring commands from the command line: JSON shapes and exit codes."""

from __future__ import annotations

import json

import pytest

from segmint.cli import run

from .conftest import configure, orders


def _json(capsys, argv):
    capsys.readouterr()
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow  # two refreshes
def test_refresh_monitor_alerts_status_and_export(tiny, capsys, tmp_path):
    w = ["-w", str(tiny.path)]
    tiny = configure(tiny, monitoring={"alerts": [{"kind": "share_move", "points": 10}, {"kind": "stale"}],
                                       "freshness": {"orders": {"warn_after": "1d"}}})
    tiny.close()
    first = _json(capsys, ["refresh", "--as-of", "2024-03-01", *w, "--json"])
    assert first["segmentations"][0]["refit_reasons"] == ["first fit of this definition"]
    from segmint.workspace import Workspace

    with Workspace.open(tiny.path) as ws:
        ws.ingest("orders", orders([("4", "B", "2024-03-20", 200.0)]))
    second = _json(capsys, ["refresh", "--as-of", "2024-04-01", "--refit", *w, "--json"])
    assert second["segmentations"][0]["refit_reasons"] == ["asked (--refit)"]
    assert {a["kind"] for a in second["alerts"]} == {"share_move", "stale"}
    listed = _json(capsys, ["alerts", *w, "--json"])["alerts"]
    assert [a["kind"] for a in first["alerts"]] == ["stale"]  # orders from 2024 are more than a day old
    assert {a["alert_id"] for a in listed} == {a["alert_id"] for a in first["alerts"] + second["alerts"]}
    assert _json(capsys, ["alerts", "--segmentation", "nope", *w, "--json"]) == {"alerts": []}
    mon = _json(capsys, ["monitor", "spend", "--reference", "first", *w, "--json"])
    assert [r["as_of"] for r in mon["runs"]] == ["2024-03-01", "2024-04-01"]
    status = _json(capsys, ["status", *w, "--json"])
    assert next(t for t in status["freshness"] if t["table"] == "orders")["status"] == "warn"
    # the tables print too
    assert run(["monitor", "spend", *w]) == 0 and "customers (share) per run" in capsys.readouterr().out
    assert run(["status", *w]) == 0 and "Freshness" in capsys.readouterr().out
    out = tmp_path / "snap.csv"
    exported = _json(capsys, ["features", "--as-of", "2024-04-01", "--export", str(out), *w, "--json"])
    assert exported["customers"] == 2 and not exported["computed"] and out.exists()
    assert run(["features", "--export", str(tmp_path / "x.txt"), *w]) == 1
    assert run(["monitor", "nope", *w]) == 1


@pytest.mark.parametrize("every, code", [("1d", 0), ("90m", 0), ("10s", 1), ("daily", 1)])
def test_serve_refresh_every_is_checked(ws, capsys, every, code):
    path = str(ws.path)
    ws.close()
    assert run(["serve", "-w", path, "--no-serve", "--refresh-every", every]) == code
    if code:
        assert "--refresh-every" in capsys.readouterr().err
