"""Quality on generated shops: the demo clustering recovers the planted personas, k: auto finds their number.

The behaviour segmentation is taken as shipped in ``examples/demo-segments.yaml`` (its
features, the default k range 2..10, default preprocessing); only ``random_state`` varies
with the shop's seed, so both the data and the clustering's random choices change from
one case to the next. Each case prints and records (``record_property``) the chosen k
and the adjusted Rand index against ``ground_truth``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score

from segmint.datasets import BEHAVIOURAL_PERSONAS, make_shop

from .test_service import set_segmentations

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-segments.yaml"
N_CUSTOMERS = 5_000


def demo_behaviour(random_state: int) -> dict:
    """The demo's behaviour clustering, with its random_state set."""
    spec = yaml.safe_load(DEMO.read_text())["segmentations"]["behaviour"]
    assert spec["kind"] == "cluster" and spec.get("k", "auto") == "auto"
    return {**spec, "random_state": random_state}


def generated_shop(root: Path, seed: int):
    """A workspace holding a generated shop; returns it and the planted persona per customer."""
    import os

    from segmint.workspace import Workspace

    os.environ.setdefault("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    shop = make_shop(N_CUSTOMERS, seed=seed)
    ws = Workspace.init(root / "shop")
    for table in ("customers", "orders", "events"):
        ws.ingest(table, getattr(shop, table))
    return ws, shop.ground_truth.set_index("customer_id")["persona"]


@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory):
    """Shop seed 0 with the demo's behaviour clustering (random_state 0), RFM and two rules."""
    ws, truth = generated_shop(tmp_path_factory.mktemp("recovery"), 0)
    set_segmentations(ws, {
        "behaviour": demo_behaviour(0),
        "rfm": {"kind": "rfm"},
        "life": {"kind": "rules", "else": "Other",
                 "segments": {"VIP": "monetary_total >= 2000 and recency_days <= 90",
                              "Lapsing": "recency_days between 180 and 365"}},
    })
    yield ws, truth
    ws.close()


@pytest.mark.parametrize("seed", [0, *(pytest.param(s, marks=pytest.mark.slow) for s in (1, 2, 3, 4))])
def test_k_auto_recovers_the_planted_personas(seed, request, tmp_path, record_property):
    if seed == 0:  # shared with the tests below
        ws, truth = request.getfixturevalue("shop_ws")
        result = ws.segment("behaviour")
    else:
        ws, truth = generated_shop(tmp_path, seed)
        try:
            set_segmentations(ws, {"behaviour": demo_behaviour(seed)})
            result = ws.segment("behaviour")
        finally:
            ws.close()
    ari = adjusted_rand_score(truth.reindex(result.labels.index), result.labels)
    reason = result.selection["all"]["reason"]
    record_property("k", result.k)
    record_property("ari", round(ari, 4))
    print(f"\nshop seed {seed}: k auto chose k={result.k}, ARI vs ground truth {ari:.3f}; {reason}")
    assert result.k == len(BEHAVIOURAL_PERSONAS) == 7, reason
    assert ari >= 0.8, ari


@pytest.mark.slow
def test_refit_is_reproducible(shop_ws):
    ws, _ = shop_ws
    # Refitting with the same data, definition and seed gives the same model and version. Both
    # sides are fresh fits: a stored model comes back with NaN as a float, a fresh one as {"$float": "nan"}.
    result = ws.segment("behaviour", refit=True)
    again = ws.segment("behaviour", refit=True)
    assert again.fitted and not again.new_version and again.version == result.version
    assert again.labels.equals(result.labels)
    assert again.model == result.model


@pytest.mark.slow
def test_rfm_and_rules_on_the_generated_shop(shop_ws):
    from segmint.features import load_features

    ws, _ = shop_ws
    rfm = ws.segment("rfm")
    f = load_features(ws.store, rfm.as_of).to_pyarrow().to_pandas().set_index("customer_id")
    assert rfm.labels.index.is_unique and set(rfm.labels.index) == set(f.index)
    assert sum(rfm.sizes.values()) == len(f)
    life = ws.segment("life")
    m, r = f["monetary_total"], f["recency_days"]
    expected = pd.Series("Other", index=f.index)
    expected[(r.between(180, 365)).fillna(False).to_numpy(bool)] = "Lapsing"
    expected[((m >= 2000) & (r <= 90)).fillna(False).to_numpy(bool)] = "VIP"
    assert life.labels.sort_index().equals(expected.sort_index().rename("segment"))
