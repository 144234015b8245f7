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
