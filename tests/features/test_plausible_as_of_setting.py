"""The workspace's ingest.plausible_dates applies to every as-of path, not only the API's runs."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from segmint.errors import ConfigError
from segmint.workspace import Workspace


@pytest.fixture
def ws(tmp_path):
    w = Workspace.init(tmp_path / "shop")
    w.ingest("orders", pd.DataFrame({"order_id": ["A1", "A2"], "customer_id": ["C1", "C2"],
                                     "ordered_at": ["2024-01-05", "2024-02-01"], "amount": ["19.99", "5"]}))
    yield w
    w.close()


def _widen(w: Workspace, to: str) -> Workspace:
    cfg = w.path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc.setdefault("ingest", {})["plausible_dates"] = {"from": "1900-01-01", "to": to}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    w.close()
    return Workspace.open(w.path)


def test_an_as_of_beyond_the_default_range_is_refused_then_accepted_once_the_range_is_widened(ws):
    far = (pd.Timestamp.today() + pd.DateOffset(years=3)).date().isoformat()
    with pytest.raises(ConfigError, match="plausible"):
        ws.snapshot_features(far)
    ws = _widen(ws, "+5y")
    try:
        assert ws.segment_context().plausible == ws.config.ingest.plausible_dates
        assert ws.snapshot_features(far)["as_of"] == far
        assert sorted(ws.features(far, store=False)["customer_id"]) == ["C1", "C2"]
    finally:
        ws.close()
