"""The segment service on a small hand-made shop: runs, versions, storage, models, explanations."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from segmint.errors import ConfigError, DataError, ModelVersionError, UnknownNameError
from segmint.segment import runs

AS_OF = dt.date(2024, 7, 1)
LIFECYCLE = {"kind": "rules", "segments": [
    {"name": "VIP", "where": "monetary_total >= 900 and recency_days <= 60"},
    {"name": "Mid", "where": "recency_days between 30 and 80"},
    {"name": "Quiet", "where": "not recency_days < 100"},
    {"name": "Never", "where": "recency_days is null"},
], "else": "Other"}


def small_shop(ws, segmentations: dict) -> None:
    """Customer Ci (i = 1..12) has i orders of 25*i, the last 10*i days before AS_OF; C13 never ordered."""
    rows = []
    for i in range(1, 13):
        last = pd.Timestamp(AS_OF) - pd.Timedelta(days=10 * i)
        rows += [{"order_id": f"O{i:02d}{k:02d}", "customer_id": f"C{i:02d}",
                  "ordered_at": str(last - pd.Timedelta(days=7 * k)), "amount": str(25 * i)} for k in range(i)]
    ws.ingest("customers", pd.DataFrame({"customer_id": [f"C{i:02d}" for i in range(1, 14)],
                                         "signup_at": ["2023-01-01"] * 13}))
    ws.ingest("orders", pd.DataFrame(rows))
    set_segmentations(ws, segmentations)


def set_segmentations(ws, segmentations: dict) -> None:
    from segmint.config import Config

    path = ws.path / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["segmentations"] = segmentations
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    ws.config = Config.load(path)


def features(ws) -> pd.DataFrame:
    from segmint.features import load_features

    return load_features(ws.store, AS_OF).to_pyarrow().to_pandas().set_index("customer_id").sort_index()


@pytest.fixture
def shop(ws):
    small_shop(ws, {"life": LIFECYCLE,
                    "aud": {"kind": "audiences", "segments": {"big": "monetary_total >= 900",
                                                              "recent": "recency_days < 35",
                                                              "vip_too": "in_segment('life', 'VIP')"}},
                    "rfm": {"kind": "rfm"}})
    return ws


def test_rules_agree_with_a_pandas_reference_on_nulls_and_boundaries(shop):
    result = shop.segment("life", as_of=AS_OF)
    f = features(shop)
    r, m = f["recency_days"], f["monetary_total"]
    # SQL logic: a comparison with a null is unknown and never selects, even under `not`.
    rules = [("VIP", (m >= 900) & (r <= 60)), ("Mid", r.between(30, 80)), ("Quiet", r.notna() & ~(r < 100)),
             ("Never", r.isna())]
    expected = pd.Series("Other", index=f.index)
    for name, cond in reversed(rules):
        expected[cond.fillna(False).to_numpy(bool)] = name
    assert result.labels.sort_index().to_dict() == expected.to_dict()
    # Boundaries: C06 has exactly 900 and 60 days; C03 exactly 30 days; C10 exactly 100 days.
    assert result.labels[["C06", "C03", "C10", "C13", "C09"]].tolist() == ["VIP", "Mid", "Quiet", "Never", "Other"]
    assert result.sizes == {"VIP": 1, "Mid": 5, "Quiet": 3, "Never": 1, "Other": 3}
    assert (result.version, result.as_of, result.kind) == (1, "2024-07-01", "rules")


def test_versions_follow_the_definition(shop):
    first = shop.segment("life", as_of=AS_OF)
    again = shop.segment("life", as_of=AS_OF)
    assert (first.new_version, again.new_version, again.version) == (True, False, 1)
    # Re-running at the same as_of and version replaces the run: no duplicate rows.
    assert len(shop.members("life").to_pyarrow()) == 13
    changed = {**LIFECYCLE, "segments": [{"name": "VIP", "where": "monetary_total >= 1000"}, *LIFECYCLE["segments"][1:]]}
    set_segmentations(shop, {"life": changed})
    second = shop.segment("life", as_of=AS_OF)
    assert second.version == 2 and second.labels["C06"] == "Mid"
    set_segmentations(shop, {"life": {**changed, "description": "only words changed"}})
    assert shop.segment("life", as_of=AS_OF).version == 2
    set_segmentations(shop, {"life": LIFECYCLE})
    assert shop.segment("life", as_of=AS_OF).version == 1
    stored = shop.store.table("segmentations").order_by("version").to_pyarrow().to_pylist()
    assert [(r["name"], r["version"], r["kind"]) for r in stored] == [("life", 1, "rules"), ("life", 2, "rules")]
    assert json.loads(stored[1]["definition"])["segments"][0]["where"] == "monetary_total >= 1000"


def test_a_failed_run_leaves_the_previous_state(shop, monkeypatch):
    shop.segment("life", as_of=AS_OF)
    set_segmentations(shop, {"life": {**LIFECYCLE, "else": "Rest"}})

    def broken(doc, table, resolver=None):  # fails in the engine, after the old rows were deleted
        return table.select("customer_id", segment=table.customer_id.cast("int64").cast("string"))

    monkeypatch.setattr(runs, "label_table", broken)
    with pytest.raises(Exception):  # noqa: B017 - the engine's own conversion error, whatever its class
        shop.segment("life", as_of=AS_OF)
    assert shop.store.count("segmentations") == 1
    assert shop.store.count("memberships") == 13


def test_unknown_names_get_suggestions(shop):
    with pytest.raises(UnknownNameError, match=r"no segmentation 'lfe'; did you mean 'life'\? defined: life, aud, rfm"):
        shop.segment("lfe")
    set_segmentations(shop, {"bad": {"kind": "rules", "segments": {"A": "monetary_totl > 1"}}})
    with pytest.raises(UnknownNameError, match="did you mean 'monetary_total'"):
        shop.segment("bad", as_of=AS_OF)
    with pytest.raises(DataError, match="has not been run yet"):
        shop.members("bad")


def test_audiences_overlap_one_row_per_membership(shop):
    result = shop.segment("aud", as_of=AS_OF)
    assert list(result.labels.columns) == ["big", "recent", "vip_too"]
    assert result.labels.loc["C06"].tolist() == [True, False, True]
    assert result.sizes == {"big": 7, "recent": 3, "vip_too": 1}
    rows = shop.members("aud").to_pyarrow().to_pylist()
    assert len(rows) == 11 and {"customer_id": "C06", "segment": "vip_too"} in rows


def test_rfm_template_labels_everyone_exactly_once(shop):
    result = shop.segment("rfm", as_of=AS_OF)
    f = features(shop)
    assert sorted(result.labels.index) == sorted(f.index)  # one row per customer, none missing
    buyers = f["r_score"].notna()
    assert (result.labels[f.index[~buyers]] == "No purchases").all()
    assert not (result.labels[f.index[buyers]] == "No purchases").any()


def test_rfm_grid_is_complete_and_exclusive():
    """Every one of the 125 score combinations matches a named segment (pandas reference)."""
    import ibis
    import pyarrow as pa

    from segmint.segment.rfm_template import rfm_segments
    from segmint.segment.rules import RuleSegmentation

    grid = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    t = ibis.memtable(pa.table({"customer_id": [str(i) for i in range(len(grid))],
                                "r_score": [g[0] for g in grid], "f_score": [g[1] for g in grid],
                                "m_score": [g[2] for g in grid]}))
    seg = RuleSegmentation(rfm_segments(), else_="none")
    labels = seg.assign(t, "customer_id").order_by("customer_id").to_pyarrow().to_pandas()
    assert (labels["segment"] != "none").all()
    by = dict(zip(labels["customer_id"].astype(int), labels["segment"]))
    assert by[grid.index((5, 5, 5))] == "Champions" and by[grid.index((1, 1, 1))] == "Lost"
    assert by[grid.index((1, 5, 5))] == "Can't lose them" and by[grid.index((5, 1, 1))] == "New"


def test_models_round_trip_and_apply_without_refitting(shop):
    result = shop.segment("life", as_of=AS_OF)
    text = json.dumps(result.model)
    from segmint.features import load_features

    applied = runs.apply_model(text, load_features(shop.store, AS_OF)).to_pyarrow().to_pandas()
    assert applied.set_index("customer_id")["segment"].to_dict() == result.labels.to_dict()
    new = pd.DataFrame({"customer_id": ["N1", "N2"], "monetary_total": [5000.0, None],
                        "recency_days": [5.0, None]})
    assert runs.apply_model(result.model, new).to_pyarrow()["segment"].to_pylist() == ["VIP", "Never"]
    future = {**result.model, "format_version": 99}
    with pytest.raises(ModelVersionError, match="format version 99"):
        runs.apply_model(future, new)
    with pytest.raises(ModelVersionError, match="newer major version"):
        runs.apply_model({**result.model, "segmint_version": "99.0.0"}, new)
    with pytest.raises(ConfigError, match="not a segmint model"):
        runs.apply_model({"kind": "rules"}, new)


def test_why_attrition_and_preview(shop):
    shop.segment("life", as_of=AS_OF)
    info = shop.why("life", "C07").to_dict()
    assert info["segments"] == ["Mid"]
    vip = info["rules"][0]
    assert vip["held"] is False
    assert [(c["condition"], c["held"]) for c in vip["conditions"][1:]] == [
        ("monetary_total >= 900", True), ("recency_days <= 60", False)]
    assert vip["conditions"][1]["values"] == {"monetary_total": 1225.0}
    never = shop.why("life", "C13").to_dict()["rules"]
    assert never[0]["conditions"][0]["held"] is False and never[2]["conditions"][0]["held"] is None
    with pytest.raises(UnknownNameError, match="'C99' is not in the feature snapshot"):
        shop.why("life", "C99").to_dict()
    steps = shop.attrition("life", as_of=AS_OF)["VIP"]
    assert steps[["kept_alone", "kept_cumulative"]].values.tolist() == [[7, 7], [6, 1]]
    preview = shop.preview_rule("monetary_total >= 900 and recency_days <= 60", as_of=AS_OF).to_dict()
    assert (preview["size"], preview["base"]) == (1, 13)
    assert shop.store.count("memberships") == 13  # the preview stored nothing


def test_members_and_export(shop, tmp_path):
    from segmint.segment.export import write_members

    shop.segment("life", as_of=AS_OF)
    mid = shop.members("life", "Mid")
    assert mid.to_pyarrow()["customer_id"].to_pylist() == ["C03", "C04", "C05", "C07", "C08"]
    with pytest.raises(UnknownNameError, match="did you mean 'Mid'"):
        shop.members("life", "mid")
    for ext in ("csv", "parquet", "jsonl"):
        assert write_members(mid, tmp_path / f"mid.{ext}") == 5
    assert pd.read_csv(tmp_path / "mid.csv")["segment"].eq("Mid").all()
    assert pd.read_parquet(tmp_path / "mid.parquet")["customer_id"].tolist()[0] == "C03"
    assert json.loads((tmp_path / "mid.jsonl").read_text().splitlines()[-1]) == {"customer_id": "C08",
                                                                                  "segment": "Mid"}
    with pytest.raises(ConfigError, match="cannot tell the export format"):
        write_members(mid, tmp_path / "mid.xlsx")


def test_list_segmentations(shop):
    shop.segment("life", as_of=AS_OF)
    items = {i["name"]: i for i in [i.to_dict() for i in shop.segmentations()]}
    assert items["life"]["versions"] == [1] and items["life"]["last_as_of"] == "2024-07-01"
    assert items["rfm"]["runs"] == 0 and items["rfm"]["kind"] == "rfm"
    assert np.isin(["VIP", "Other"], items["life"]["segments"]).all()


def test_cli_segment_why_members_diff(shop, tmp_path, capsys, monkeypatch):
    from segmint.cli import main

    monkeypatch.setenv("COLUMNS", "200")

    def cli(*args):
        capsys.readouterr()
        try:
            main([*args, "-w", str(shop.path)] if args[0] != "segment" or "--template" not in args else list(args))
        except SystemExit as exc:
            assert exc.code in (0, None), capsys.readouterr().err
        return capsys.readouterr().out

    shop.close()
    out = json.loads(cli("segment", "life", "--as-of", "2024-07-01", "--json"))
    assert out["sizes"]["Mid"] == 5 and out["version"] == 1
    assert "Champions" in cli("segment", "--template", "rfm")
    assert "life" in cli("segment", "--list")
    assert "recency_days <= 60: no" in cli("why", "life", "C07")
    # No customer of this shop gave marketing consent: an export leaves them all out unless asked (issue 15).
    cli("members", "life", "Mid", "-o", str(tmp_path / "m.csv"))
    assert len(pd.read_csv(tmp_path / "m.csv")) == 0
    cli("members", "life", "Mid", "-o", str(tmp_path / "m.csv"), "--include-unconsented")
    assert len(pd.read_csv(tmp_path / "m.csv")) == 5
    diff = json.loads(cli("diff", "life", "--from", "2024-07-01", "--to", "2024-07-01", "--json"))
    assert diff["moved_count"] == 0
    with pytest.raises(SystemExit):
        main(["segment", "lfe", "-w", str(shop.path)])
    assert "did you mean 'life'" in capsys.readouterr().err
