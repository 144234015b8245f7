"""Segmentation definitions: every kind, unknown keys and kinds, files merged, versions' fingerprints."""

from __future__ import annotations

import pytest
import yaml

from segmint.errors import ConfigError
from segmint.segment.definitions import (
    ClusterDef,
    RuleDef,
    TierDef,
    definition_from_json,
    fingerprint,
    load_definitions,
    parse_definition,
    to_json,
)
from segmint.segment.rfm_template import RFM_ELSE, RFM_SEGMENTS, template, template_yaml

RULES = {"kind": "rules", "segments": [{"name": "VIP", "where": "monetary_total >= 1000"},
                                       {"name": "Active", "where": "recency_days <= 90"}], "else": "Other"}


def test_rules_definition_is_parsed_and_rules_canonicalised():
    d = parse_definition("life", {**RULES, "segments": [{"name": "VIP", "where": "monetary_total>=1000"}]})
    assert isinstance(d, RuleDef) and d.exclusive
    assert d.rule_pairs() == [("VIP", "monetary_total >= 1000")]
    assert d.segment_names() == ["VIP", "Other"]


def test_segments_may_be_written_as_a_mapping():
    d = parse_definition("a", {"kind": "audiences", "segments": {"promo": "promo_share > 0.5", "big": "frequency > 9"}})
    assert not d.exclusive
    assert d.rule_pairs() == [("promo", "promo_share > 0.5"), ("big", "frequency > 9")]


def test_unknown_kind_suggests_the_closest():
    with pytest.raises(ConfigError, match="unknown kind 'audience'; did you mean 'audiences'"):
        parse_definition("x", {"kind": "audience", "segments": {"a": "x > 1"}})
    with pytest.raises(ConfigError, match="missing 'kind'"):
        parse_definition("x", {"segments": {"a": "x > 1"}})


@pytest.mark.parametrize("kind", [["rules"], {"rules": 1}, 3, True])
def test_a_kind_that_is_not_a_word_is_a_config_error(kind):
    # a YAML `kind: [rules]` crashed with "TypeError: unhashable type" (issue 15, Low)
    with pytest.raises(ConfigError, match="'kind' must be one word, one of rules"):
        parse_definition("x", {"kind": kind, "segments": {"a": "x > 1"}})


@pytest.mark.parametrize("raw, message", [
    ({**RULES, "segmens": []}, "unknown key 'segmens' at the top; did you mean 'segments'"),
    ({**RULES, "els": "x"}, "unknown key 'els' at the top; did you mean 'else'"),
    ({"kind": "cluster", "algoritm": "kmeans"}, "did you mean 'algorithm'"),
    ({"kind": "cluster", "preprocessing": {"scalng": "robust"}}, "unknown key 'scalng' at preprocessing; "
                                                                 "did you mean 'scaling'"),
    ({"kind": "hybrid", "segments": [{"name": "A", "where": "x > 1", "cluster": {"kk": 3}}]},
     "unknown key 'kk' at segments.0.cluster"),
    ({"kind": "tiers", "by": "clv", "lables": ["a"]}, "did you mean 'labels'"),
])
def test_unknown_keys_get_did_you_mean(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_definition("x", raw)


@pytest.mark.parametrize("raw, message", [
    ({**RULES, "segments": [{"name": "VIP", "where": "monetary_total >>= 1"}]}, "invalid rule at column"),
    ({**RULES, "segments": [{"name": "A", "where": "x > 1"}, {"name": "A", "where": "x > 2"}]}, "repeated: A"),
    ({"kind": "rules", "segments": []}, "at least one segment"),
    ({"kind": "rfm", "segments": [{"name": "A", "where": "x > 1"}]}, "--template rfm"),
    ({"kind": "hybrid", "segments": [{"name": "A", "where": "x > 1"}]}, "needs a 'cluster:' block"),
    ({**RULES, "segments": [{"name": "A", "where": "x > 1", "cluster": {"k": 2}}]}, "use kind: hybrid"),
    ({"kind": "cluster", "k": 0}, "positive integer"),
    ({"kind": "cluster", "k_range": [5, 3]}, "2 <= low <= high"),
    ({"kind": "cluster", "families": ["monetry"]}, "did you mean 'monetary'"),
    ({"kind": "cluster", "algorithm": "dbscan"}, "algorithm"),
    ({"kind": "tiers", "feature": "x", "thresholds": [1, 2], "labels": ["a", "b"]}, "3 tiers, but 2 labels"),
    ({"kind": "tiers", "feature": "x", "thresholds": [2, 1]}, "strictly increasing"),
    ({"kind": "tiers", "feature": "x", "quantiles": [0.5, 1.0]}, "strictly between 0 and 1"),
    ({"kind": "tiers"}, "by: clv"),
])
def test_invalid_definitions_say_what_is_wrong(raw, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_definition("seg", raw)
    assert "segmentation 'seg'" in str(err.value)


def test_rfm_kind_is_the_template_and_covers_every_score():
    d = parse_definition("rfm", {"kind": "rfm"})
    assert [s.name for s in d.segments] == [n for n, _, _ in RFM_SEGMENTS]
    assert d.else_ == RFM_ELSE
    # The printed template is a valid, equivalent rules definition.
    printed = yaml.safe_load(template_yaml())["rfm"]
    assert parse_definition("rfm", printed).rule_pairs() == d.rule_pairs()
    assert printed == template()


def test_cluster_and_tier_defaults():
    c = parse_definition("c", {"kind": "cluster", "features": ["recency_days"], "k": 4})
    assert isinstance(c, ClusterDef) and c.algorithm == "kmeans" and c.k == 4 and c.random_state == 0
    t = parse_definition("t", {"kind": "tiers", "by": "churn"})
    assert isinstance(t, TierDef) and t.feature == "probability_alive" and t.thresholds == [0.3, 0.7]
    assert t.segment_names() == ["High risk", "Medium risk", "Low risk", "No prediction"]
    clv = parse_definition("v", {"kind": "tiers", "by": "clv", "quantiles": [0.9]})
    assert clv.feature == "predicted_clv_12m" and clv.labels == ["tier_1", "tier_2"]


def test_fingerprint_ignores_descriptions_and_spacing_but_not_rules():
    a = parse_definition("x", RULES)
    b = parse_definition("x", {**RULES, "description": "new words",
                               "segments": [{"name": "VIP", "where": "monetary_total>=1000", "description": "d"},
                                            {"name": "Active", "where": "recency_days<=90"}]})
    c = parse_definition("x", {**RULES, "segments": [{"name": "VIP", "where": "monetary_total >= 1001"}]})
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    for d in (a, parse_definition("r", {"kind": "rfm"}), parse_definition("t", {"kind": "tiers", "by": "clv"})):
        assert fingerprint(definition_from_json(to_json(d))) == fingerprint(d)


def test_definitions_merge_yaml_and_segment_files(ws):
    cfg = yaml.safe_load((ws.path / "segmint.yaml").read_text())
    cfg["segmentations"] = {"life": RULES}
    (ws.path / "segmint.yaml").write_text(yaml.safe_dump(cfg))
    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "a.yaml").write_text(yaml.safe_dump({"segmentations": {"value": {"kind": "tiers",
                                                                                             "by": "clv"}}}))
    (ws.path / "segments" / "b.yaml").write_text(yaml.safe_dump({"rfm": {"kind": "rfm"}}))
    from segmint.workspace import Workspace

    w = Workspace.open(ws.path)
    assert list(load_definitions(w.path, w.config.segmentations)) == ["life", "value", "rfm"]
    (ws.path / "segments" / "c.yaml").write_text(yaml.safe_dump({"life": {"kind": "rfm"}}))
    with pytest.raises(ConfigError, match=r"'life' is defined twice: in segmint.yaml and in segments/c.yaml"):
        load_definitions(w.path, w.config.segmentations)
    (ws.path / "segments" / "c.yaml").write_text(yaml.safe_dump({"other": {"kind": "rulz"}}))
    with pytest.raises(ConfigError, match=r"segmentation 'other' \(segments/c.yaml\): unknown kind"):
        load_definitions(w.path, w.config.segmentations)
