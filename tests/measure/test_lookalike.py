"""Lookalikes on the generated shop: half of a planted persona hidden from the seed is found again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.errors import DataError
from segmint.measure import lookalike as la

from .conftest import AS_OF


def test_refuses_a_seed_below_the_minimum():
    X = np.random.default_rng(0).normal(size=(500, 3))
    labelled = np.zeros(500, bool)
    labelled[:99] = True
    with pytest.raises(DataError, match="seed has 99 members; a lookalike needs at least 100"):
        la.fit_score(X, labelled)


def test_bands_hold_one_percent_each_with_their_expected_precision():
    score = np.linspace(1, 0, 1000)
    b = la.bands(score)
    assert [x["band"] for x in b][:2] == ["0-1%", "1-2%"] and all(x["people"] == 10 for x in b)
    assert b[0]["expected_precision"] == pytest.approx(score[:10].mean())
    assert b[-1]["cumulative_people"] == 100


def _planted(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    positive = X[:, 0] > 1.0
    return X, positive, positive & (rng.random(n) < 0.5)


def _top_precision(proba, positive, labelled):
    top = np.argsort(-proba[~labelled])[: int(0.1 * (~labelled).sum())]
    return positive[~labelled][top].mean()


def test_a_feature_with_no_value_is_left_out_rather_than_crashing():
    """A column missing for everyone (a business field in a shop of consumers) broke scikit-learn's binning."""
    X, positive, labelled = _planted()
    X[:, 1] = np.nan
    fit = la.fit_score(X, labelled, random_state=0)
    assert np.isfinite(fit.proba).all() and _top_precision(fit.proba, positive, labelled) > 0.6
    people = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(X))], "a": X[:, 0], "empty": np.nan,
                           "b": X[:, 2]})
    out = la.lookalike(people, set(people["customer_id"][labelled]), top=0.1)
    assert out["features"] == 3 and out["drivers"][0]["feature"] == "a"
    assert "empty" not in {d["feature"] for d in out["drivers"]}


def test_training_samples_are_bounded_and_everyone_is_scored(monkeypatch):
    monkeypatch.setattr(la, "MAX_TRAIN_UNLABELLED", 600)
    monkeypatch.setattr(la, "MAX_TRAIN_SEED", 100)
    X, positive, labelled = _planted()
    fit = la.fit_score(X, labelled, random_state=0)
    assert fit.trained_on["unlabelled"] == 600 and fit.trained_on["seed"] == 100
    assert (fit.g > 0).all() and 0 < fit.c <= 1
    assert _top_precision(fit.proba, positive, labelled) > 0.6  # random: about 0.09


@pytest.mark.slow
def test_hidden_half_of_a_planted_persona_is_recovered(persona_shop):
    ws, shop = persona_shop
    from segmint.features.snapshot import load_features

    people = load_features(ws.store, AS_OF).drop("as_of").to_pyarrow().to_pandas()
    truth = shop.ground_truth.set_index("customer_id")["persona"].reindex(people["customer_id"]).to_numpy()
    members = people["customer_id"][truth == "loyal_high_spender"].to_numpy()
    rng = np.random.default_rng(0)
    rng.shuffle(members)
    seed, hidden = set(members[: len(members) // 2]), set(members[len(members) // 2:])
    out = la.lookalike(people, seed, top=0.10, random_state=0)
    top = set(out["table"]["customer_id"])
    recall = len(top & hidden) / len(hidden)
    precision = len(top & hidden) / len(top)
    random_precision = len(hidden) / out["candidates"]
    print(f"hidden {len(hidden)}, top 10% {len(top)}: recall {recall:.2f}, precision {precision:.2f}, "
          f"random precision {random_precision:.3f}")
    assert recall > 0.8  # most of the hidden half (the top 10% holds 210 people; the hidden half 140)
    assert precision > 5 * random_precision
    assert out["drivers"] and out["bands"][0]["expected_precision"] > out["bands"][-1]["expected_precision"]
    # the calibrated score of the top band estimates its precision: the hidden share there
    first = out["table"].head(out["bands"][0]["people"])
    assert abs(first["customer_id"].isin(hidden).mean() - out["bands"][0]["expected_precision"]) < 0.35


@pytest.mark.slow
def test_prospects_are_scored_on_the_customer_attributes(persona_shop):
    ws, shop = persona_shop
    customers = shop.customers.merge(shop.ground_truth, on="customer_id")
    # prospects: look like customers (new ids), half of them small businesses
    prospects = customers.sample(400, random_state=1).assign(
        customer_id=lambda d: "P" + d["customer_id"].str[1:]).drop(columns=["persona"])
    ws.ingest("prospects", prospects)
    out = ws.lookalike("personas:small_business", "prospects", 0.2)
    table = out.pop("table")
    assert out["from"] == "prospects" and out["candidates"] == 400
    flagged = prospects.set_index("customer_id").loc[table["customer_id"], "is_business"]
    base = prospects["is_business"].mean()
    assert flagged.mean() > 2 * base  # the top 20% are mostly businesses, as the seed is
    assert any(d["feature"].startswith("is_business") or d["feature"].startswith("industry")
               or d["feature"].startswith("company_size") for d in out["drivers"][:3])
    with pytest.raises(DataError, match="at least 100"):
        ws.lookalike("personas:new_customer")  # nobody (or a handful) at AS_OF


@pytest.mark.slow
def test_cli_writes_the_top_share_and_prints_the_bands(persona_shop, tmp_path):
    """``segmint lookalike S:SEGMENT --top 5% -o FILE --json`` as a user runs it."""
    import json

    from typer.testing import CliRunner

    from segmint.cli import app

    ws, _ = persona_shop
    path = str(ws.path)
    ws.close()  # the CLI opens the store itself
    out = tmp_path / "look.csv"
    r = CliRunner().invoke(app, ["lookalike", "personas:loyal_high_spender", "--from", "customers", "--top", "5%",
                                 "-o", str(out), "-w", path, "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["customer_id", "score", "percentile"]
    assert len(frame) == body["rows"] == int(np.ceil(0.05 * body["candidates"]))
    assert frame["score"].is_monotonic_decreasing and set(frame["percentile"]) <= set(range(1, 6))
    assert [b["band"] for b in body["bands"]] == [f"{b}-{b + 1}%" for b in range(10)]
    assert all(0 <= b["expected_precision"] <= 1 for b in body["bands"]) and body["drivers"]
    r = CliRunner().invoke(app, ["lookalike", "personas:new_customer", "-w", path])  # a seed under 100
    assert isinstance(r.exception, DataError) and "at least 100" in str(r.exception)  # (main() prints it)
