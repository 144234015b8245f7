"""Campaigns end to end on a generated shop: stable salted-hash holdouts, exclusion from exports, and a
planted campaign whose known lift per persona the read-out recovers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segmint.datasets.campaign import plant_orders
from segmint.errors import ConfigError, UnknownNameError
from segmint.measure import campaigns as cp

from .conftest import AS_OF

pytestmark = pytest.mark.slow  # the module's shop takes ~15 s to build and segment

LIFT = {"loyal_high_spender": 1.5, "occasional_gift_buyer": 0.6, "bargain_hunter": 0.0, "churned": 0.0}
KEYS = {"treatment", "holdout", "lift", "lift_ci", "relative_lift", "relative_lift_ci", "p_value"}


@pytest.fixture(scope="module")
def planted(persona_shop):
    """Campaign ``spring`` on four personas, 30% held out, with LIFT planted (orders outcome)."""
    ws, shop = persona_shop
    ws.create_campaign("spring", "personas", list(LIFT), holdout=0.3, start=AS_OF, end="2025-09-01",
                       outcome="orders")
    members = ws.campaign_members("spring").to_pyarrow().to_pandas()
    members["persona"] = members["segment"]
    extra = plant_orders(members, LIFT, AS_OF, "2025-09-01", seed=3)
    ws.ingest("orders", extra)
    return ws, members


def test_groups_are_the_salted_hash_computed_in_the_engine_and_in_python(planted):
    ws, members = planted
    key = ws._campaign_key()
    assert members["group"].tolist() == cp.group_of(key, "spring", members["customer_id"].tolist(), 0.3)
    share = (members["group"] == "holdout").mean()
    assert 0.25 < share < 0.35
    assert set(members.columns) == {"customer_id", "segment", "group", "assigned_at", "persona"}
    # another campaign on the same people draws other groups (the salt holds the campaign's name)
    other = cp.group_of(key, "autumn", members["customer_id"].tolist(), 0.3)
    assert other != members["group"].tolist()


def test_assignments_are_stable_across_refreshes_and_newcomers_join(planted, persona_shop):
    ws, _ = planted
    ws.create_campaign("everyone", "personas", holdout=0.2, start=AS_OF)  # every segment, new customers too
    before = ws.campaign_members("everyone").to_pyarrow().to_pandas().set_index("customer_id")["group"]
    ws.segment("personas", as_of="2025-12-15")  # a refresh: new customers (from November) have arrived
    after = ws.campaign_members("everyone").to_pyarrow().to_pandas().set_index("customer_id")
    common = before.index.intersection(after.index)
    assert len(common) == len(before)  # nobody assigned is ever dropped or re-drawn
    assert (after.loc[common, "group"] == before.loc[common]).all()
    key = ws._campaign_key()
    new = after.index.difference(before.index)
    assert len(new) > 0
    assert after.loc[new, "group"].tolist() == cp.group_of(key, "everyone", list(new), 0.2)
    assert set(after.loc[new, "segment"]) == {"new_customer"}


def test_holdouts_never_leave_in_an_export(planted):
    ws, members = planted
    held = set(members.loc[members["group"] == "holdout", "customer_id"])
    sent = set(ws.campaign_audience("spring", include_unconsented=True).to_pyarrow()["customer_id"].to_pylist())
    assert sent and not sent & held
    consented = set(ws.campaign_audience("spring").to_pyarrow()["customer_id"].to_pylist())
    assert consented < sent  # consent still applies
    # the function the activation paths call: any audience, minus the holdouts of the named campaign
    everyone = ws.members("personas")
    left = set(ws.exclude_holdouts(everyone, ["spring"]).to_pyarrow()["customer_id"].to_pylist())
    assert not left & held and len(left) == int(everyone.count().execute()) - len(held & set(
        everyone.to_pyarrow()["customer_id"].to_pylist()))
    # its default is every running campaign: spring ended in 2025; "everyone" has no end, it still runs
    ws.create_campaign("open_ended", "personas", ["churned"], holdout=0.5, start=AS_OF)
    ids = lambda t: set(t.to_pyarrow()["customer_id"].to_pylist())  # noqa: E731
    assert ids(ws.exclude_holdouts(everyone)) == ids(ws.exclude_holdouts(everyone, ["everyone", "open_ended"]))
    assert ids(ws.exclude_holdouts(everyone)) < ids(everyone)
    # and every segment export (segmint members, the API's member pages and exports) leaves them out
    running_held = ids(everyone) - ids(ws.exclude_holdouts(everyone))
    assert running_held and not ids(ws.audience("personas", include_unconsented=True)) & running_held


def test_the_read_out_recovers_the_planted_lift_per_persona(planted):
    ws, _ = planted
    r = ws.measure_campaign("spring")
    json.dumps(r)  # plain JSON
    assert KEYS <= set(r["overall"]) and {"customers", "outcome"} <= set(r["overall"]["treatment"])
    by = {s["segment"]: s for s in r["segments"]}
    assert set(by) == set(LIFT)
    for persona, lift in LIFT.items():
        s = by[persona]
        assert KEYS <= set(s)
        assert s["lift_ci"][0] <= lift <= s["lift_ci"][1], (persona, s["lift_ci"])
        assert s["cuped"]["lift_ci"][0] <= lift <= s["cuped"]["lift_ci"][1], (persona, s["cuped"]["lift_ci"])
        assert s["significant"] == (lift > 0), persona  # Holm-adjusted
    assert r["covariate"] == "orders_last_90"
    assert r["overall"]["cuped"]["variance_reduction"] > 0.1
    o = r["overall"]
    assert o["cuped"]["lift_ci"][1] - o["cuped"]["lift_ci"][0] < o["lift_ci"][1] - o["lift_ci"][0]
    assert o["sample_ratio"]["mismatch"] is False
    boot, ci = o["bootstrap_lift_ci"], o["lift_ci"]
    assert abs(boot[0] - ci[0]) < 0.25 * (ci[1] - ci[0]) and abs(boot[1] - ci[1]) < 0.25 * (ci[1] - ci[0])


def test_errors_name_the_fix(persona_shop):
    ws, _ = persona_shop
    with pytest.raises(ConfigError, match="between 0 and 1"):
        ws.create_campaign("bad", "personas", holdout=1.5, start=AS_OF)
    with pytest.raises(UnknownNameError, match="no segment 'loyal'"):
        ws.create_campaign("bad", "personas", ["loyal"], start=AS_OF)
    with pytest.raises(ConfigError, match="not after"):
        ws.create_campaign("bad", "personas", start=AS_OF, end="2025-01-01")
    with pytest.raises(UnknownNameError, match="no campaign 'nope'"):
        ws.measure_campaign("nope")


def test_cli_create_members_measure_plan(persona_shop, tmp_path):
    from typer.testing import CliRunner

    from segmint.cli import app

    ws, _ = persona_shop
    path = str(ws.path)
    ws.close()  # the CLI opens the store itself
    run = CliRunner().invoke
    r = run(app, ["campaign", "create", "cli_test", "-w", path, "--segmentation", "personas", "--segment",
                  "churned", "--holdout", "0.1", "--start", AS_OF, "--end", "2025-08-01", "--outcome", "conversion",
                  "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["members"]["churned"]["holdout"] > 0
    out = tmp_path / "members.csv"
    r = run(app, ["campaign", "members", "cli_test", "-o", str(out), "-w", path])
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["customer_id", "segment", "group", "assigned_at"]
    assert set(frame["group"]) == {"treatment", "holdout"}
    r = run(app, ["campaign", "measure", "cli_test", "-w", path, "--json", "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert KEYS <= set(body["overall"]) and body["outcome"] == "conversion"
    r = run(app, ["campaign", "plan", "-w", path, "--segmentation", "personas", "--outcome", "conversion",
                  "--mde", "0.05", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert 0 < plan["baseline_mean"] < 1 and plan["customers_needed"] > 0
    r = run(app, ["campaign", "list", "-w", path, "--json"])
    assert "cli_test" in {c["name"] for c in json.loads(r.output)["campaigns"]}


def test_uplift_finds_the_personas_that_respond(planted):
    ws, _ = planted
    r = ws.campaign_uplift("spring")
    order = [s["segment"] for s in r["segments"]]
    assert order[0] == "loyal_high_spender" and set(order[-2:]) == {"bargain_hunter", "churned"}
    assert r["qini_coefficient"] > 0  # (on ~800 evaluated customers a random ranking's is noisy too: not compared)
    assert r["uplift_at"]["20%"] > r["overall_lift"]  # targeting by predicted uplift earns more per customer
    assert r["qini"][0] == {"share": 0.0, "qini": 0.0} and len(r["qini"]) == 21


def test_the_report_has_a_section_per_campaign(planted):
    ws, _ = planted
    html = ws.report("personas").read_text(encoding="utf-8")
    assert 'id="campaign-0"' in html and "Campaign spring" in html and "95% interval" in html
    assert '"fig-campaign-0"' in html
    # who responds: the uplift model's Qini curve and the segments where acting pays most, first the one it does
    section = html[html.index('id="campaign-0"'):html.index('id="campaign-1"')]
    assert "Who responds" in section and "Qini coefficient" in section and '"fig-qini-0"' in html
    pays = section[section.index("Where acting pays most"):]
    assert pays.index("loyal_high_spender") < pays.index("bargain_hunter")


# ------------------------------------------------------------------ an event outcome (e-mail clicks)
EVENT_LIFT = {"loyal_high_spender": 2.0, "occasional_gift_buyer": 0.0}


def test_an_event_outcome_measures_the_planted_clicks_from_the_cli(persona_shop, tmp_path):
    """``--outcome event_count:email_click`` and ``event:email_click`` read the events table in the window."""
    from typer.testing import CliRunner

    from segmint.cli import app
    from segmint.datasets.campaign import plant_events
    from segmint.errors import DataError

    ws, shop = persona_shop
    ws.ingest("events", shop.events)
    with pytest.raises(ConfigError, match="write event:email_click"):
        ws.create_campaign("bad", "personas", start=AS_OF, outcome="email_click")
    with pytest.raises(DataError, match="did you mean 'email_click'"):
        ws.create_campaign("bad", "personas", start=AS_OF, outcome="event:email_clik")
    path = str(ws.path)
    ws.close()  # the CLI opens the store itself
    run = CliRunner().invoke
    for name, outcome in (("clicks", "event_count:email_click"), ("clicked", "event:email_click")):
        r = run(app, ["campaign", "create", name, "-w", path, "--segmentation", "personas", "--segment",
                      "loyal_high_spender", "--segment", "occasional_gift_buyer", "--holdout", "0.3", "--start", AS_OF,
                      "--end", "2025-07-01", "--outcome", outcome, "--json"])
        assert r.exit_code == 0, r.output
    for seed, name in enumerate(("clicks", "clicked")):  # each campaign's own treatment group (its own salt)
        members = ws.campaign_members(name).to_pyarrow().to_pandas()
        members["persona"] = members["segment"]
        ws.ingest("events", plant_events(members, EVENT_LIFT, AS_OF, "2025-07-01", seed=4 + seed))
    ws.close()
    r = run(app, ["campaign", "measure", "clicks", "-w", path, "--json", "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["outcome"] == "event_count:email_click" and body["covariate"] == "pre_period"
    assert body["window"]["pre_period_start"] == "2025-05-02"  # as many days before the start as the window has
    by = {s["segment"]: s for s in body["segments"]}
    for persona, lift in EVENT_LIFT.items():
        assert KEYS <= set(by[persona])
        assert by[persona]["lift_ci"][0] <= lift <= by[persona]["lift_ci"][1], (persona, by[persona]["lift_ci"])
        assert by[persona]["significant"] == (lift > 0), persona
    # as a rate: the share who clicked at least once (the other campaign's planted clicks are noise here)
    r = run(app, ["campaign", "measure", "clicked", "-w", path, "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    assert "same outcome from 2025-05-02" in r.output and "%" in r.output  # CUPED on the pre-period, rates
    rate = ws.measure_campaign("clicked", bootstrap=0)
    assert rate["overall"]["method"].startswith("newcombe")
    loyal = {s["segment"]: s for s in rate["segments"]}["loyal_high_spender"]
    assert loyal["lift_ci"][0] > 0 and 0 <= loyal["treatment"]["outcome"] <= 1
    r = run(app, ["campaign", "plan", "-w", path, "--segmentation", "personas", "--outcome", "event:email_click",
                  "--days", "30", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert 0 < plan["baseline_mean"] < 1 and "events table" in plan["baseline_from"]
