"""`segmint run` (the whole pipeline, staged and timed) and validate/profile/report reading the stored run."""

from __future__ import annotations

import json

import pytest

SEGMENTS = """
segmentations:
  rfm:
    kind: rfm
  lifecycle:
    kind: rules
    segments:
      - name: Active
        where: recency_days <= 90
    else: Lapsed
  behaviour:
    kind: cluster
    features: [recency_days, frequency, monetary_total]
    k: 3
    random_state: 0
"""
AS_OF = "2025-07-01"


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory):
    """A small generated shop's customers and orders, written once for the module."""
    from segmint.datasets import write_shop

    root = tmp_path_factory.mktemp("run-shop")
    write_shop(root, n_customers=300, seed=3)
    return root


@pytest.fixture
def shop_ws(ws, shop_dir):
    """The conftest workspace with the small shop ingested and three segmentations defined."""
    for table in ("customers", "orders"):
        ws.ingest(table, shop_dir / f"{table}.csv")
    (ws.path / "segments").mkdir(exist_ok=True)
    (ws.path / "segments" / "run.yaml").write_text(SEGMENTS)
    return ws


def _main(args, capsys):
    from segmint.cli import _state, main

    _state["debug"] = False
    capsys.readouterr()
    with pytest.raises(SystemExit) as ex:
        main(args)
    out, err = capsys.readouterr()
    return ex.value.code, out, err


def test_run_stages_every_segmentation_in_order(shop_ws, capsys):
    path = str(shop_ws.path)
    shop_ws.close()
    code, out, err = _main(["run", "-w", path, "--as-of", AS_OF, "--json"], capsys)
    assert code in (0, None), err
    doc = json.loads(out)
    names = ["rfm", "lifecycle", "behaviour"]
    expected = ["features"] + [f"{step} {n}" for n in names for step in ("segment", "validate", "profile", "report")]
    assert [s["stage"] for s in doc["stages"]] == expected
    assert doc["as_of"] == AS_OF
    assert all(s["seconds"] >= 0 for s in doc["stages"])
    assert doc["total_seconds"] == pytest.approx(sum(s["seconds"] for s in doc["stages"]), abs=0.05)
    assert doc["segmentations"]["behaviour"]["k"] == 3
    assert set(doc["segmentations"]["lifecycle"]["sizes"]) == {"Active", "Lapsed"}
    for n in names:
        assert (shop_ws.path / "reports" / f"{n}.html").exists()
    # without a terminal the progress is one line per finished stage on stderr, never on stdout
    assert "validate behaviour:" in err


def test_run_without_reports_and_as_a_table(shop_ws, capsys):
    path = str(shop_ws.path)
    shop_ws.close()
    code, out, err = _main(["run", "-w", path, "--as-of", AS_OF, "--no-reports"], capsys)
    assert code in (0, None), err
    assert "segmint run (as of 2025-07-01)" in out and "profile lifecycle" in out and "total" in out
    assert "report " not in out
    assert not list((shop_ws.path / "reports").glob("*.html"))


def test_run_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "segmint run" in text and "--no-reports" in text


def _count_calls(monkeypatch, function: str) -> list[str]:
    """The segmentation names ``segment.runs.<function>`` is called with, from now on."""
    from segmint.segment import runs

    calls: list[str] = []
    real = getattr(runs, function)

    def counting(ctx, name, *args, **kwargs):
        calls.append(name)
        return real(ctx, name, *args, **kwargs)

    monkeypatch.setattr(runs, function, counting)
    return calls


def _count_segmentations(monkeypatch) -> list[str]:
    return _count_calls(monkeypatch, "run_segmentation")


def test_validate_profile_report_read_the_stored_run(shop_ws, monkeypatch):
    stored = shop_ws.segment("behaviour", AS_OF)
    calls = _count_segmentations(monkeypatch)
    card = shop_ws.validate("behaviour", AS_OF)
    prof = shop_ws.profile("behaviour", AS_OF)
    path = shop_ws.report("behaviour", None, AS_OF)
    assert calls == []
    assert card.n_customers == len(stored.labels)
    assert set(prof.sizes["segment"].astype(str)) == set(stored.sizes)
    assert path.exists()
    again = shop_ws.stored_run("behaviour", AS_OF)
    assert not again.fitted and again.version == stored.version
    assert again.labels.sort_index().equals(stored.labels.sort_index())


def test_stored_run_segments_when_nothing_is_stored(shop_ws, monkeypatch):
    calls = _count_segmentations(monkeypatch)
    shop_ws.validate("lifecycle", AS_OF)
    assert calls == ["lifecycle"]  # made and stored once, then read back
    shop_ws.profile("lifecycle", AS_OF)
    assert calls == ["lifecycle"]


def test_stored_run_of_an_edited_definition_is_not_reused(shop_ws, monkeypatch):
    shop_ws.segment("lifecycle", AS_OF)
    text = SEGMENTS.replace("recency_days <= 90", "recency_days <= 30")
    (shop_ws.path / "segments" / "run.yaml").write_text(text)
    calls = _count_segmentations(monkeypatch)
    result = shop_ws.stored_run("lifecycle", AS_OF)
    assert calls == ["lifecycle"] and result.version == 2


def test_keep_features_loads_the_snapshot_once(shop_ws, monkeypatch):
    from segmint.segment import context

    shop_ws.segment("rfm", AS_OF)
    shop_ws.segment("lifecycle", AS_OF)
    loads: list[object] = []
    real = context.features_at

    def counting(ctx, as_of=None):
        loads.append(as_of)
        return real(ctx, as_of)

    monkeypatch.setattr(context, "features_at", counting)
    with shop_ws.keep_features():
        outside = len(loads)
        for name in ("rfm", "lifecycle"):
            shop_ws.validate(name, AS_OF)
            shop_ws.profile(name, AS_OF)
        assert len(loads) - outside == 1
    shop_ws.profile("rfm", AS_OF)  # outside the block nothing is kept
    assert len(loads) - outside == 2


def test_validation_max_rows_samples_the_scorecard_and_says_so(shop_ws, monkeypatch, capsys):
    from segmint.evaluate import sampling

    shop_ws.segment("rfm", AS_OF)
    exact = shop_ws.validate("rfm", AS_OF)
    assert exact.sample is None  # 300 customers are far below the default cap of 100,000
    monkeypatch.setattr(sampling, "MIN_PER_SEGMENT", 10)
    shop_ws.config.validation.max_rows = 150
    with shop_ws.keep_features():
        card = shop_ws.validate("rfm", AS_OF)
        prof = shop_ws.profile("rfm", AS_OF)
        path = shop_ws.report("rfm", None, AS_OF, card=card, prof=prof)
    n = card.n_customers
    assert card.sample["of"] == n and card.sample["customers"] <= 150
    assert card.to_dict()["sample"]["note"] == f"computed on a stratified sample of {card.sample['customers']:,} of {n:,} customers"
    assert prof.sample == card.sample  # the profile's differentiators used the same sample
    pd_sizes = exact.segments[exact.segments.metric == "size"].reset_index(drop=True)
    assert pd_sizes.equals(card.segments[card.segments.metric == "size"].reset_index(drop=True))
    page = path.read_text(encoding="utf-8")
    assert "computed on a stratified sample of" in page and "validation.max_rows = 150" in page


def test_validation_settings_are_checked():
    from segmint.config import Config
    from segmint.errors import ConfigError

    assert Config.parse({}).validation.max_rows == 100_000
    assert Config.parse({"validation": {"max_rows": None}}).validation.max_rows is None
    with pytest.raises(ConfigError, match="validation.max_rows"):
        Config.parse({"validation": {"max_rows": 5}})
    with pytest.raises(ConfigError, match="did you mean 'max_rows'"):
        Config.parse({"validation": {"max_row": 5000}})


def test_kept_and_fresh_results_are_the_same(shop_ws):
    import pandas as pd

    shop_ws.segment("rfm", AS_OF)
    fresh_card, fresh_prof = shop_ws.validate("rfm", AS_OF), shop_ws.profile("rfm", AS_OF)
    with shop_ws.keep_features():
        kept_card, kept_prof = shop_ws.validate("rfm", AS_OF), shop_ws.profile("rfm", AS_OF)
        seg = shop_ws._judged("rfm", AS_OF).prepared
        # the stored labels (by customer id) were brought to the features' order, not the features copied
        assert seg.features is shop_ws._features_frame(seg_as_of := shop_ws.stored_run("rfm", AS_OF).as_of)
        assert seg.labels.index.equals(shop_ws._features_frame(seg_as_of).index)
    stored = shop_ws.stored_run("rfm", AS_OF).labels
    assert (seg.labels == stored.loc[seg.labels.index].astype(str)).all()
    for name in ("segmentation", "segments", "effects", "tests"):
        pd.testing.assert_frame_equal(getattr(kept_card, name), getattr(fresh_card, name))
    for name in ("sizes", "means", "differentiators", "mix", "demographics"):
        pd.testing.assert_frame_equal(getattr(kept_prof, name), getattr(fresh_prof, name))


def test_segmenting_again_inside_keep_features_is_not_hidden_by_the_kept_run(shop_ws):
    with shop_ws.keep_features():
        shop_ws.segment("lifecycle", AS_OF)
        before = shop_ws.validate("lifecycle", AS_OF)
        text = SEGMENTS.replace("recency_days <= 90", "recency_days <= 30")
        (shop_ws.path / "segments" / "run.yaml").write_text(text)
        result = shop_ws.segment("lifecycle", AS_OF)
        after = shop_ws.validate("lifecycle", AS_OF)
    sizes = lambda card: card.segments[card.segments.metric == "size"].set_index("segment")["value"].to_dict()  # noqa: E731
    assert result.version == 2
    assert sizes(after) == {s: float(n) for s, n in result.sizes.items()}
    assert sizes(after) != sizes(before)


def test_segment_inside_keep_features_hands_its_run_to_validate(shop_ws, monkeypatch):
    from segmint.segment import runs

    real = runs.stored_run
    reads = _count_calls(monkeypatch, "stored_run")
    with shop_ws.keep_features():
        result = shop_ws.segment("rfm", AS_OF)
        card = shop_ws.validate("rfm", AS_OF)
        shop_ws.profile("rfm", AS_OF)
        shop_ws.report("rfm", None, AS_OF)
    assert reads == []  # the run just made, not read back
    assert card.n_customers == len(result.labels)
    assert result.labels.equals(real(shop_ws.segment_context(), "rfm", AS_OF).labels)  # what reading it back gives


def _strict(text: str):
    """JSON as a strict parser reads it: a bare NaN or Infinity is an error."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_segment_json_is_strict_json_when_the_model_is_fitted_and_when_it_is_reused(shop_ws, capsys):
    (shop_ws.path / "segments" / "run.yaml").write_text(SEGMENTS.replace("    k: 3\n", "    k: auto\n"
                                                                         "    k_range: [2, 5]\n"
                                                                         "    stability_threshold: 0.99\n"))
    path = str(shop_ws.path)
    shop_ws.close()
    outs = []
    for _ in range(2):
        code, out, err = _main(["segment", "behaviour", "-w", path, "--as-of", AS_OF, "--json"], capsys)
        assert code in (0, None), err
        outs.append(_strict(out))
    assert outs[0]["fitted"] and not outs[1]["fitted"]  # fitted, then the stored model reused
    assert outs[0]["selection"] == outs[1]["selection"]
    assert "$float" not in json.dumps(outs)
    code, out, err = _main(["segment", "behaviour", "-w", path, "--as-of", AS_OF], capsys)
    assert code in (0, None), err
    assert "Choosing k" in out and "$float" not in out and " nan " not in out
