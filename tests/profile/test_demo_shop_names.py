"""The demo shop's segments get names a marketer would recognise.

The generated shop plants seven personas (segmint.datasets.personas). Profiled by their
planted labels, and then by the demo's own k:auto clustering, each persona must come out
with a name that says what it is: the loyal high spenders are "High-value regulars", the
lapsed are lapsed or lapsing, the newcomers are new, and so on. Labels are passed as bare
numbers so every name is made by the word rules, never copied from the persona.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from segmint.profile import name_segments, profile

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

#: For each planted persona, words of which its name must hold at least one (case-insensitive),
#: and words its name must not hold.
EXPECTED = {
    "loyal_high_spender": (("high-value",), ("low-value", "lapsed", "new")),
    "bargain_hunter": (("bargain hunters",), ("high-value",)),
    "new_customer": (("new",), ("high-value", "lapsed")),
    "lapsed": (("lapsed", "lapsing"), ("high-value", "new")),
    "churned": (("lapsed", "lapsing"), ("high-value", "new")),
    "occasional_gift_buyer": (("toys", "gift", "occasional", "store", "beauty"), ("high-value", "new")),
    "small_business": (("office", "high-value"), ("low-value", "lapsed", "new")),
}


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory):
    """A 3,000-customer generated shop, ingested and featured like `make demo` does."""
    import os

    from segmint.datasets import write_shop
    from segmint.workspace import Workspace

    root = tmp_path_factory.mktemp("demo-names")
    old = os.environ.get("SEGMINT_SECRET")
    os.environ["SEGMINT_SECRET"] = "test-secret-key-for-pseudonyms"
    try:
        write_shop(root / "data", n_customers=3000, seed=7)
        ws = Workspace.init(root / "ws")
        for table in ("customers", "orders", "events", "responses"):
            ws.ingest(table, root / "data" / f"{table}.csv")
        (ws.path / "segments").mkdir(exist_ok=True)
        (ws.path / "segments" / "demo.yaml").write_text((REPO / "examples" / "demo-segments.yaml").read_text())
        ws.snapshot_features()
        features = ws.store.table("features").drop("as_of").to_pyarrow().to_pandas().set_index("customer_id")
        truth = pd.read_csv(root / "data" / "ground_truth.csv").set_index("customer_id")["persona"]
        yield ws, features, truth.reindex(features.index)
        ws.close()
    finally:
        if old is None:
            os.environ.pop("SEGMINT_SECRET", None)
        else:
            os.environ["SEGMINT_SECRET"] = old


def check_name(persona: str, name: str) -> None:
    wanted, unwanted = EXPECTED[persona]
    low = name.lower()
    assert any(w in low for w in wanted), f"{persona} was named {name!r}; expected one of {wanted}"
    assert not any(w in low for w in unwanted), f"{persona} was named {name!r}; it must not say {unwanted}"


def test_planted_personas_get_telling_names(demo_shop):
    _, features, truth = demo_shop
    assert truth.notna().all()
    codes = {p: str(i) for i, p in enumerate(sorted(EXPECTED))}
    names = name_segments(profile(features, truth.map(codes)))
    assert (names.source == "rules").all() and names.name.is_unique
    persona_of = {c: p for p, c in codes.items()}
    for row in names.itertuples():
        check_name(persona_of[row.segment], row.name)
        assert row.reasons, f"no reasons recorded for {row.name!r}"


def test_demo_clusters_are_named_after_their_persona(demo_shop):
    """Each clean cluster of the demo's behaviour segmentation is named after its persona."""
    ws, features, truth = demo_shop
    spec = yaml.safe_load((REPO / "examples" / "demo-segments.yaml").read_text())["segmentations"]["behaviour"]
    assert spec["kind"] == "cluster"
    labels = ws.segment("behaviour").labels.reindex(features.index).astype(str)
    names = name_segments(profile(features, labels)).set_index("segment")
    assert names.name.is_unique
    mix = pd.crosstab(labels, truth, normalize="index")
    clean = mix[mix.max(axis=1) >= 0.8]
    # most clusters should be clean (one persona dominates); those carry the persona's name
    assert len(clean) >= 5, f"only {len(clean)} clusters are at least 80% one persona:\n{mix.round(2)}"
    for segment, row in clean.iterrows():
        check_name(row.idxmax(), names.loc[segment, "name"])
