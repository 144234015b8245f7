"""Workspaces for the monitoring tests: a tiny hand-made shop and a small generated one in two periods."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from segmint.workspace import Workspace


def configure(ws: Workspace, segmentations: dict | None = None, monitoring: dict | None = None) -> Workspace:
    """Write ``segmentations`` / ``monitoring`` into the workspace's segmint.yaml and reopen it."""
    path = ws.path / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    if segmentations is not None:
        cfg["segmentations"] = segmentations
    if monitoring is not None:
        cfg["monitoring"] = monitoring
    path.write_text(yaml.safe_dump(cfg))
    ws.close()
    return Workspace.open(ws.path)


def orders(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "amount"]).astype({"amount": str})


BIG_SMALL = {"spend": {"kind": "rules", "segments": [{"name": "big", "where": "monetary_total >= 100"}],
                       "else": "small"}}


@pytest.fixture
def tiny(ws):
    """Two customers; A big and B small at 2024-03-01; by 2024-04-01 B has bought big too."""
    ws.ingest("orders", orders([("1", "A", "2024-01-10", 150.0), ("2", "B", "2024-02-01", 10.0)]))
    return configure(ws, BIG_SMALL)
