"""The whole loop through the Workspace façade, as `segmint run` and `make demo` use it."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

SEGMENTS = """
segmentations:
  rfm:
    kind: rfm
  lifecycle:
    kind: rules
    segments:
      - name: Active
        where: recency_days <= 90
      - name: Lapsing
        where: recency_days between 91 and 365
    else: Lost
"""


@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory):
    import os

    from segmint.datasets import write_shop
    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    root = tmp_path_factory.mktemp("pipeline")
    write_shop(root / "data", n_customers=600, seed=11)
    ws = Workspace.init(root / "ws")
    for table in ("customers", "orders", "events", "responses"):
        ws.ingest(table, root / "data" / f"{table}.csv")
    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "demo.yaml").write_text(SEGMENTS)
    ws.close()
    ws = Workspace.open(root / "ws")
    yield ws
    ws.close()


def test_segment_validate_profile_report(shop_ws):
    ws = shop_ws
    result = ws.segment("lifecycle")
    assert set(result.labels.unique()) <= {"Active", "Lapsing", "Lost"}
    assert result.labels.size == ws.store.count("customers")
    card = ws.validate("lifecycle")
    assert {"distinct", "stable", "substantial"} <= set(card.segmentation["criterion"])
    json.dumps(card.to_dict())
    prof = ws.profile("lifecycle")
    assert set(prof.sizes["segment"].astype(str)) >= {"Active", "Lost"}
    path = ws.report("lifecycle")
    html = path.read_text(encoding="utf-8")
    assert path.exists() and "<html" in html.lower() and "cdn" not in html.lower().split("plotly")[0]


def test_run_command_json(shop_ws, capsys):
    from segmint.cli import main

    ws_path = str(shop_ws.path)
    shop_ws.close()
    with pytest.raises(SystemExit) as ex:
        main(["run", "-w", ws_path, "--no-reports", "--json"])
    assert ex.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    stages = [s["stage"] for s in out["stages"]]
    assert stages[0] == "features" and "segment rfm" in stages and "segment lifecycle" in stages
