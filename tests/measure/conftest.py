"""A generated shop with a persona attribute and a rule segmentation on it (one segment per planted persona)."""

from __future__ import annotations

import pytest

AS_OF = "2025-06-01"
PERSONAS = ["bargain_hunter", "churned", "lapsed", "loyal_high_spender", "new_customer", "occasional_gift_buyer",
            "small_business"]


@pytest.fixture(scope="module")
def persona_shop(tmp_path_factory):
    """(workspace, shop): 2,500 customers; segmentation ``personas`` run at AS_OF."""
    import os

    import yaml

    from segmint.datasets import make_shop
    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    shop = make_shop(2500, seed=5)
    path = tmp_path_factory.mktemp("measure") / "shop"
    ws = Workspace.init(path)
    customers = shop.customers.merge(shop.ground_truth[["customer_id", "persona"]], on="customer_id")
    ws.ingest("customers", customers)
    ws.ingest("orders", shop.orders)
    definition = {"personas": {"kind": "rules", "segments": [
        {"name": p, "where": f"persona = '{p}'"} for p in PERSONAS]}}
    (path / "segments" / "personas.yaml").write_text(yaml.safe_dump(definition), encoding="utf-8")
    ws.segment("personas", as_of=AS_OF)
    yield ws, shop
    ws.close()
