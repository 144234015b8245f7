"""``segmint forget ID [ID ...] [--from-file F] [--dry-run] [--readmit] [--json]``."""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke_cli
from tests.privacy.conftest import ERASED, KEPT

pytestmark = pytest.mark.db


@pytest.fixture
def run(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SEGMINT_WORKSPACE", raising=False)
    return lambda *args: invoke_cli(capsys, args)


def test_forget_from_a_file_as_json_then_readmit(run, shop_path, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# erasure requests of the week\n{ERASED}\n\n{KEPT}\n")
    code, out, err = run("forget", "--from-file", str(ids), "--dry-run", "--json", "-w", str(shop_path))
    assert code == 0, err
    dry = json.loads(out)
    assert dry["dry_run"] and dry["requested"] == 2 and dry["found"] == 2
    code, out, err = run("forget", "--from-file", str(ids), "--json", "-w", str(shop_path))
    receipt = json.loads(out)
    assert code == 0 and receipt["found"] == 2 and receipt["tables"] == dry["tables"]
    assert receipt["suppressed"] == 2 and receipt["destinations"] == []
    code, out, err = run("forget", "--readmit", KEPT, "-w", str(shop_path))
    assert code == 0 and "Re-admitted 1 of 1" in out


def test_forget_prints_a_receipt(run, shop_path):
    code, out, err = run("forget", ERASED, "-w", str(shop_path))
    assert code == 0, err
    assert "Erased 1 of 1 customer(s)" in out and "Store file rewritten" in out and "exports/value.csv: deleted" in out


def test_forget_without_ids_is_a_user_error(run, shop_path):
    code, out, err = run("forget", "-w", str(shop_path))
    assert code == 1 and "no customer id" in err and "Traceback" not in err


def test_the_scorecard_carries_the_fairness_table(run, shop_path):
    code, out, err = run("validate", "value", "--workspace", str(shop_path), "--json")
    assert code == 0, err
    card = json.loads(out)
    fair = card["fairness"]
    assert [a["attribute"] for a in fair["attributes"]] == ["gender", "age_band", "gender x age_band"]
    assert fair["threshold"] == 0.8 and fair["min_cell"] == 10
    segments = {s["segment"] for a in fair["attributes"] for s in a["segments"]}
    assert segments == set(card["details"]["segments"])
    assert sum(s["customers"] for s in fair["attributes"][0]["segments"]) == card["n_customers"]
    code, out, _ = run("validate", "value", "--workspace", str(shop_path))
    assert code == 0 and "Fairness" in out and "gender:" in out and "lowest disparity ratio" in out
