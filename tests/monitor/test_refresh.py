"""`Workspace.refresh` and `Workspace.monitor` on a hand-made shop whose figures are known exactly."""

from __future__ import annotations


import pandas as pd
import pytest

from segmint.errors import ConfigError, DataError
from segmint.monitor.figures import wilson

from .conftest import configure, orders

# Each refresh computes a snapshot, runs the segmentation and reads its figures back: seconds apiece.
pytestmark = pytest.mark.slow


def _second_period(ws):
    # A buys 20 and B 200 between the runs: B becomes big by the second run
    ws.ingest("orders", orders([("3", "A", "2024-03-10", 20.0), ("4", "B", "2024-03-20", 200.0)]))


def test_refresh_keeps_the_model_and_attributes_kpis_to_the_segment_at_the_time(tiny):
    first = tiny.refresh("2024-03-01")
    assert first["as_of"] == "2024-03-01" and first["snapshot"]["customers"] == 2
    (seg,) = first["segmentations"]
    assert seg["fitted"] and seg["refit_reasons"] == ["first fit of this definition"]
    _second_period(tiny)
    second = tiny.refresh("2024-04-01")
    (seg,) = second["segmentations"]
    assert not seg["fitted"] and seg["refit_reasons"] == [] and seg["version"] == 1
    assert seg["sizes"] == {"big": 2, "small": 0} and seg["moved_share"] == 0.5
    m = tiny.monitor("spend")
    assert [r["as_of"] for r in m["runs"]] == ["2024-03-01", "2024-04-01"]
    shares = {(s["as_of"], s["segment"]): s["share"] for s in m["sizes"]}
    assert shares == {("2024-03-01", "big"): 0.5, ("2024-03-01", "small"): 0.5, ("2024-04-01", "big"): 1.0}
    (t,) = m["transitions"]
    assert t["matrix"] == {"big": {"big": 1}, "small": {"big": 1}}
    small = next(s for s in t["segments"] if s["segment"] == "small")
    assert (small["before"], small["exited"], small["stayed"], small["churn"]) == (1, 1, 0, 1.0)
    assert (small["churn_low"], small["churn_high"]) == pytest.approx(wilson(1, 1))
    k = {(r["as_of"], r["segment"]): r for r in m["kpis"]}
    # the first run counts the 90 days before it, by the segment at that run
    assert k[("2024-03-01", "big")]["revenue"] == 150.0 and k[("2024-03-01", "small")]["revenue"] == 10.0
    # B's 200 happened while B was small: attributed to small, although B is big now
    assert k[("2024-04-01", "big")]["revenue"] == 20.0 and k[("2024-04-01", "big")]["customers"] == 2
    assert k[("2024-04-01", "big")]["aov"] == 20.0 and k[("2024-04-01", "big")]["period_start"] == "2024-03-01"
    small_kpi = [r for r in m["kpis"] if r["segment"] == "small" and r["as_of"] == "2024-04-01"]
    assert small_kpi == []  # no member of small at the second run: no row (its activity is in the period before)


def test_a_refresh_reads_each_period_since_the_run_before_it(tiny):
    """A refresh shows its last two runs: the older one's KPIs cover the period since the run before it, as the
    whole history shows them (not the first run's 90-day window), so a KPI alert compares like with like."""
    from segmint.monitor.monitor import monitor

    tiny = configure(tiny, monitoring={"alerts": [{"kind": "kpi_drop", "kpi": "revenue", "percent": 50,
                                                   "segment": "big"}]})
    tiny.refresh("2024-03-01")
    _second_period(tiny)
    tiny.refresh("2024-04-01")
    tiny.ingest("orders", orders([("7", "A", "2024-04-10", 15.0), ("8", "B", "2024-04-20", 12.0)]))
    third = tiny.refresh("2024-05-01")
    full = {(r["as_of"], r["segment"]): r["revenue"] for r in tiny.monitor("spend")["kpis"]}
    # big: 20 between the first two runs (B's 200 counts for small, B's segment then), 27 since: no drop
    assert (full[("2024-04-01", "big")], full[("2024-05-01", "big")]) == (20.0, 27.0)
    assert [a for a in third["alerts"] if a["kind"] == "kpi_drop"] == []
    two = monitor(tiny.segment_context(), tiny.config.monitoring, "spend", last=2, series=False)
    assert {(r["as_of"], r["segment"]): r["revenue"] for r in two["kpis"]} == {
        k: v for k, v in full.items() if k[0] != "2024-03-01"}


def test_refresh_records_why_it_refits(tiny):
    tiny.refresh("2024-03-01")
    again = tiny.refresh("2024-03-01", refit=True)
    assert again["segmentations"][0]["refit_reasons"] == ["asked (--refit)"]
    assert again["snapshot"]["mode"] == "incremental (replaced)"  # from the running state the first one made
    rows = tiny.refreshes()
    assert [r["as_of"] for r in rows] == ["2024-03-01", "2024-03-01"]
    assert rows[0]["segmentations"][0]["refit_reasons"] == ["asked (--refit)"]


def test_alert_rules_raise_and_store_evidence(tiny):
    tiny = configure(tiny, monitoring={"alerts": [
        {"kind": "share_move", "points": 10}, {"kind": "churn", "threshold": 0.5, "severity": "error"},
        {"kind": "kpi_drop", "kpi": "revenue", "percent": 50, "segment": "big"}]})
    assert tiny.refresh("2024-03-01")["alerts"] == []
    _second_period(tiny)
    raised = tiny.refresh("2024-04-01")["alerts"]
    kinds = sorted((a["kind"], a["segment"]) for a in raised)
    # big's revenue: 150 in the 90 days before the first run, 20 since: -86.7%
    assert kinds == [("churn", "small"), ("kpi_drop", "big"), ("share_move", "big"), ("share_move", "small")]
    move = next(a for a in raised if a["kind"] == "share_move" and a["segment"] == "big")
    assert move["evidence"]["points"] == pytest.approx(50.0) and move["severity"] == "warning"
    drop = next(a for a in raised if a["kind"] == "kpi_drop")
    assert drop["evidence"]["before"] == 150.0 and drop["evidence"]["after"] == 20.0
    stored = tiny.alerts()
    assert sorted(a["alert_id"] for a in stored) == sorted(a["alert_id"] for a in raised)
    assert tiny.alerts(segmentation="other") == []


def test_freshness_warns_and_errors_by_age(tiny):
    tiny = configure(tiny, monitoring={"freshness": {"orders": {"warn_after": "1d", "error_after": "100000d"},
                                                     "events": {"warn_after": "1d"}}})
    fresh = {t["table"]: t for t in tiny.status()["freshness"]}
    assert fresh["orders"]["status"] == "warn" and fresh["orders"]["newest_row"].startswith("2024-02-01")
    assert fresh["orders"]["last_load"] is not None
    assert fresh["events"]["status"] == "error"  # a rule on an empty table
    assert fresh["customers"]["status"] == "empty"
    later = configure(tiny, monitoring={"freshness": {"orders": {"error_after": "1d"}}})
    raised = later.refresh("2024-03-01")["alerts"]
    assert [(a["kind"], a["severity"]) for a in raised] == [("stale", "error")]
    assert raised[0]["evidence"]["table"] == "orders"


def test_monitor_drift_against_first_previous_or_a_date(tiny):
    tiny = configure(tiny, monitoring={"drift": {"features": ["monetary_total", "frequency"]}})
    tiny.refresh("2024-03-01")
    _second_period(tiny)
    tiny.refresh("2024-04-01")
    tiny.ingest("orders", orders([("5", "A", "2024-04-10", 5.0)]))
    tiny.refresh("2024-05-01")
    m = tiny.monitor("spend")
    assert m["drift"]["reference_as_of"] == "2024-04-01" and m["drift"]["features"] == ["monetary_total", "frequency"]
    assert [d["reference_as_of"] for d in m["drift_series"]] == ["2024-03-01", "2024-04-01"]
    assert tiny.monitor("spend", reference="first")["drift"]["reference_as_of"] == "2024-03-01"
    assert tiny.monitor("spend", reference="2024-04-01")["drift"]["reference_as_of"] == "2024-04-01"
    # two customers are under min_segment_size: segment figures are suppressed, overall ones are not
    assert m["drift"]["segments"]["big"]["suppressed"] and m["drift"]["overall"]["features"]
    with pytest.raises(DataError, match="no run at that date"):
        tiny.monitor("spend", reference="2024-01-01")
    t = tiny.transitions("spend", "2024-03-01", "2024-05-01")
    assert t["from_as_of"] == "2024-03-01" and t["to_as_of"] == "2024-05-01" and t["moved"] == 1


def test_monitor_of_a_segmentation_never_run(tiny):
    with pytest.raises(DataError, match="has not been run yet"):
        tiny.monitor("spend")


def test_export_features_csv_and_parquet(tiny, tmp_path):
    csv = tiny.export_features(tmp_path / "f.csv", "2024-03-01")
    assert csv["computed"] and csv["customers"] == 2
    frame = pd.read_csv(tmp_path / "f.csv")
    assert list(frame.customer_id) == ["A", "B"] and "as_of" not in frame and "monetary_total" in frame
    pq = tiny.export_features(tmp_path / "f.parquet", "2024-03-01")
    assert not pq["computed"] and pd.read_parquet(tmp_path / "f.parquet").shape == frame.shape
    assert tiny.export_features(tmp_path / "g.parquet", "2024-03-01", full=True)["computed"]
    with pytest.raises(ConfigError, match="csv or .parquet"):
        tiny.export_features(tmp_path / "f.xlsx")


def test_monitoring_settings_are_checked(tiny):
    with pytest.raises(ConfigError, match="needs points"):
        configure(tiny, monitoring={"alerts": [{"kind": "share_move"}]})


def test_wilson_interval_contains_the_proportion():
    for k, n in [(0, 5), (3, 7), (50, 50), (123, 1000)]:
        lo, hi = wilson(k, n)
        assert 0 <= lo <= k / n <= hi <= 1
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == pytest.approx(1.0)


def test_refresh_with_no_orders_says_so(ws):
    with pytest.raises(DataError, match="orders table is empty"):
        ws.refresh()


def test_report_has_an_over_time_section_after_two_refreshes(tiny):
    tiny.refresh("2024-03-01")
    _second_period(tiny)
    tiny.refresh("2024-04-01")
    text = tiny.report("spend", as_of="2024-04-01").read_text()
    assert 'id="monitoring"' in text and "From 2024-03-01 to 2024-04-01" in text and "fig-shares" in text


def test_past_figures_are_computed_once_and_again_when_their_runs_or_orders_change(tiny, monkeypatch):
    """Transitions and KPIs of past runs are kept in monitor_figures: a second `monitor` reads them back
    (the same figures), a late order or a re-run computes the affected ones again."""
    from segmint.monitor import figures

    tiny.refresh("2024-03-01")
    _second_period(tiny)
    tiny.refresh("2024-04-01")
    first = tiny.monitor("spend")
    calls = {"transitions": 0, "kpis": 0, "drift": 0}
    real_t, real_k, real_d = figures.transitions, figures._run_kpis, figures.drift

    def count_t(*a, **k):
        calls["transitions"] += 1
        return real_t(*a, **k)

    def count_k(*a, **k):
        calls["kpis"] += 1
        return real_k(*a, **k)

    def count_d(*a, **k):
        calls["drift"] += 1
        return real_d(*a, **k)

    monkeypatch.setattr(figures, "transitions", count_t)
    monkeypatch.setattr(figures, "_run_kpis", count_k)
    monkeypatch.setattr(figures, "drift", count_d)
    again = tiny.monitor("spend")
    assert calls == {"transitions": 0, "kpis": 0, "drift": 0}
    assert again["transitions"] == first["transitions"] and again["kpis"] == first["kpis"]
    assert again["drift"] == first["drift"] and again["drift_series"] == first["drift_series"]
    assert first["drift"]["overall"]["features"]  # the kept drift is the figure itself, read back
    # another reference is another figure
    assert tiny.monitor("spend", reference="first")["drift"]["reference_as_of"] == "2024-03-01"
    assert calls["drift"] == 0  # with two runs, the first run is also the previous one: the same pair
    calls["drift"] = 0
    # orders after the last run (a new day's): no past period's orders changed, nothing is computed again
    tiny.ingest("orders", orders([("6", "A", "2024-04-02", 7.0)]))
    assert tiny.monitor("spend")["kpis"] == first["kpis"]
    assert calls == {"transitions": 0, "kpis": 0, "drift": 0}
    # a late order inside the second period: that period's KPIs are read again from the orders, the first's not
    tiny.ingest("orders", orders([("5", "A", "2024-03-15", 30.0)]))
    late = tiny.monitor("spend")
    assert calls == {"transitions": 0, "kpis": 1, "drift": 0}
    k = {(r["as_of"], r["segment"]): r["revenue"] for r in late["kpis"]}
    assert k[("2024-04-01", "big")] == 50.0
    # a corrected order (same id, another amount) inside the second period: that period again
    tiny.ingest("orders", orders([("5", "A", "2024-03-15", 40.0)]))
    corrected = {(r["as_of"], r["segment"]): r["revenue"] for r in tiny.monitor("spend")["kpis"]}
    assert calls == {"transitions": 0, "kpis": 2, "drift": 0} and corrected[("2024-04-01", "big")] == 60.0
    # the second run stored again: its pair's transitions are computed again, the first run's KPIs are not
    tiny.segment("spend", "2024-04-01")
    tiny.monitor("spend")
    assert calls == {"transitions": 1, "kpis": 3, "drift": 1}
    # a feature snapshot stored again at a run's date: the KPIs and the drift read its values, computed again
    tiny.features("2024-03-01")
    tiny.monitor("spend")
    assert calls == {"transitions": 1, "kpis": 5, "drift": 2}
    kept = tiny.store.table("monitor_figures").to_pyarrow().to_pandas()
    assert set(kept.figure) == {"transitions", "kpis", "drift"} and not kept.value.str.contains('"A"').any()
    # an erasure takes the figures computed with the erased customer's rows away too
    tiny.forget(["B"])
    assert tiny.store.count("monitor_figures") == 0
    after = tiny.monitor("spend")
    assert {r["as_of"]: r["customers"] for r in after["kpis"] if r["segment"] == "big"}["2024-04-01"] == 1


def test_refresh_at_a_date_before_any_customer_says_why_not_that_no_snapshot_is_stored(tiny, tmp_path):
    """A refresh (or `segment`) at a date with nobody in the base used to answer "no feature snapshot is stored
    yet; compute one with `segmint features`", which the user had just done; it says there are no customers."""
    from segmint.workspace import Workspace

    from .conftest import BIG_SMALL

    empty = configure(Workspace.init(tmp_path / "empty"), BIG_SMALL)
    with pytest.raises(DataError, match=r"no customers as of 2024-03-01: .*the orders table is empty"):
        empty.refresh("2024-03-01")
    with pytest.raises(DataError, match=r"no customers as of 2023-01-01: .*the first order is on 2024-01-10"):
        tiny.segment("spend", "2023-01-01")
