"""The sensitive-attribute policy: refused without an allowed purpose, the allowance audited."""

from __future__ import annotations

import pytest

from segmint.config import SensitiveConfig
from segmint.privacy.sensitive import SensitiveAttributeError, check_definition, used_sensitive


def test_rules_cluster_features_and_tiers_are_checked():
    policy = SensitiveConfig(columns=["postcode_area"])
    assert used_sensitive({"kind": "cluster", "features": ["gender", "frequency"]}, policy) == ["gender"]
    assert used_sensitive({"kind": "tiers", "feature": "postcode_area"}, policy) == ["postcode_area"]
    assert used_sensitive({"kind": "cluster", "families": ["demographic"]}, policy)[:2] == ["age", "ethnicity"]
    # prose and segment names are not features
    assert used_sensitive({"kind": "rules", "description": "by age", "segments": [
        {"name": "gender", "where": "frequency > 2"}]}, policy) == []
    with pytest.raises(SensitiveAttributeError, match="'postcode_area'.*privacy.sensitive.columns"):
        check_definition("geo", {"kind": "tiers", "feature": "postcode_area"}, policy)


def test_a_purpose_not_listed_is_refused_and_named():
    policy = SensitiveConfig(purposes=["accessibility"])
    with pytest.raises(SensitiveAttributeError, match="purpose 'marketing' is not one of"):
        check_definition("x", {"kind": "rules", "purpose": "marketing",
                               "segments": [{"name": "Old", "where": "age > 70"}]}, policy)


@pytest.mark.db
def test_a_segmentation_on_gender_is_refused_until_its_purpose_is_allowed(shop):
    rules = {"kind": "rules", "segments": [{"name": "Women", "where": "gender == 'F'"}], "else": "Others"}
    edit(shop, segmentations={"by_gender": rules})
    with pytest.raises(SensitiveAttributeError, match="'gender'.*privacy.sensitive.attributes"):
        shop.segment("by_gender")
    edit(shop, segmentations={"by_gender": {**rules, "purpose": "health-screening"}})
    with pytest.raises(SensitiveAttributeError, match="purpose 'health-screening' is not one of"):
        shop.segment("by_gender")
    assert shop.audit_log.entries(5, "sensitive-allowed") == []
    edit(shop, privacy={"sensitive": {"purposes": ["health-screening"]}})
    result = shop.segment("by_gender")
    assert "Women" in set(result.sizes)
    entry = shop.audit_log.entries(5, "sensitive-allowed")[0]
    assert entry["target"] == "by_gender"
    assert entry["details"] == {"attributes": ["gender"], "purpose": "health-screening"}


def edit(ws, **sections):
    """Merge ``sections`` into the workspace's segmint.yaml and reload it."""
    import yaml

    cfg = ws.path / "segmint.yaml"
    doc = yaml.safe_load(cfg.read_text())
    for key, value in sections.items():
        doc[key] = {**(doc.get(key) or {}), **value}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws.config = type(ws.config).load(cfg)


def test_a_lookalike_leaves_protected_columns_out_and_names_the_setting():
    import pandas as pd

    from segmint.measure.lookalike import _sensitive

    people = pd.DataFrame({"customer_id": ["a"], "age": [30], "age_band": ["25-34"], "frequency": [2]})
    refused, guard = _sensitive(people, "the lookalike of v:A", None, SensitiveConfig())
    assert refused == ["age", "age_band"] and guard["excluded"] == refused and guard["allowed"] == []
    assert "'age'" in guard["note"] and "privacy.sensitive.attributes" in guard["note"]
    refused, guard = _sensitive(people, "x", "kyc", SensitiveConfig(purposes=["kyc"]))
    assert refused == [] and guard["allowed"] == ["age", "age_band"] and guard["note"] is None


@pytest.mark.db
def test_the_workspace_lookalike_refuses_then_allows_and_audits(shop):
    spend = shop.store.table("features").monetary_total.to_pyarrow().to_pandas()
    rules = {"kind": "rules", "segments": [{"name": "Low", "where": f"monetary_total <= {spend.quantile(0.6)}"}],
             "else": "High"}  # a seed of about 120 of 200 (a lookalike needs 100)
    edit(shop, segmentations={"spend": rules})
    shop.segment("spend")
    target = "spend:Low"
    out = shop.lookalike(target)
    assert {"age", "gender"} <= set(out["sensitive"]["excluded"]) and out["sensitive"]["allowed"] == []
    assert not {d["feature"] for d in out["drivers"]} & set(out["sensitive"]["excluded"])
    edit(shop, privacy={"sensitive": {"purposes": ["retention"]}})
    edit(shop, segmentations={"spend": {**rules, "purpose": "retention"}})
    allowed = shop.lookalike(target)
    assert allowed["sensitive"]["excluded"] == [] and {"age", "gender"} <= set(allowed["sensitive"]["allowed"])
    assert allowed["features"] > out["features"]
    entry = shop.audit_log.entries(5, "sensitive-allowed")[0]
    assert entry["target"] == f"lookalike {target}"
