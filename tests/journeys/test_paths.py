"""Sessions, path cleaning, paths from a start / to an end, the Sankey links, journeys between segments."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from segmint.config import Config
from segmint.errors import ConfigError
from segmint.journeys.paths import mark_sessions, sessionise, top_paths
from segmint.journeys.segment_paths import segment_journeys
from segmint.journeys.steps import step_stream

T0 = pd.Timestamp("2024-01-01 10:00")


def stream(rows, groups=None, orders=()):
    ev = pd.DataFrame([(c, T0 + pd.Timedelta(minutes=m), e) for c, m, e in rows],
                      columns=["customer_id", "occurred_at", "event"])
    od = None
    if orders:
        od = ibis.memtable(pd.DataFrame([(c, T0 + pd.Timedelta(minutes=m), False) for c, m in orders],
                                        columns=["customer_id", "ordered_at", "returned"]))
    return step_stream(ibis.memtable(ev), od, groups)


def sessions_of(rows, gap=30 * 60, **kw):
    s = sessionise(stream(rows, **kw), gap).to_pyarrow().to_pandas()
    return s.sort_values(["customer_id", "session", "pos"])


def test_thirty_minute_gap_splits_sessions_and_repeats_collapse():
    rows = [("a", 0, "web_visit"), ("a", 10, "web_visit"), ("a", 39, "email_open"),  # 29 min after: same session
            ("a", 70, "web_visit"),  # 31 min after: a new session
            ("b", 0, "app_open")]
    s = sessions_of(rows)
    a = s[s.customer_id == "a"]
    assert list(a.session) == [1, 1, 2] and list(a.step) == ["web_visit", "email_open", "web_visit"]
    assert list(a.pos) == [0, 1, 0]
    assert len(sessions_of(rows, gap=20 * 60)[lambda d: d.customer_id == "a"].session.unique()) == 3
    kept = sessionise(stream(rows), 30 * 60, collapse_repeats=False).to_pyarrow().num_rows
    assert kept == 5


def test_cleaning_groups_event_names_by_regex():
    rows = [("a", 0, "email_open"), ("a", 1, "email_click"), ("a", 2, "web_visit")]
    s = sessions_of(rows, groups={"email": "^email_"})
    assert list(s.step) == ["email", "web_visit"]  # open and click are one step, collapsed


def test_paths_from_start_to_end_and_both():
    rows = [("a", 0, "app_open"), ("a", 1, "web_visit"), ("a", 2, "email_click"), ("a", 3, "support_contact"),
            ("b", 0, "web_visit"), ("b", 1, "support_contact"),
            ("c", 0, "app_open"), ("c", 1, "email_click")]
    s = sessionise(stream(rows, orders=[("b", 2)]), 1800)
    got = top_paths(s, start="web_visit", length=3)
    assert {tuple(p["steps"]) for p in got["paths"]} == {("web_visit", "email_click", "support_contact"),
                                                        ("web_visit", "support_contact", "order")}
    assert got["sessions"] == 2 and got["customers"] == 2  # c never visited
    to = top_paths(s, end="email_click", length=2)
    assert sorted(tuple(p["steps"]) for p in to["paths"]) == [("app_open", "email_click"),
                                                              ("web_visit", "email_click")]
    both = top_paths(s, start="app_open", end="support_contact", length=5)
    assert [p["steps"] for p in both["paths"]] == [["app_open", "web_visit", "email_click", "support_contact"]]
    assert top_paths(s, start="app_open", end="support_contact", length=3)["paths"] == []  # 4 steps apart
    first = top_paths(s, length=2)
    assert sorted(tuple(p["steps"]) for p in first["paths"]) == [("app_open", "email_click"),
                                                                 ("app_open", "web_visit"),
                                                                 ("web_visit", "support_contact")]


def test_paths_per_segment_counts_and_sankey():
    rows = [(c, 0, "web_visit") for c in "abcd"] + [(c, 1, "email_click") for c in "abc"]
    members = ibis.memtable(pd.DataFrame({"customer_id": list("abcd"), "segment": ["x", "x", "y", "y"]}))
    s = sessionise(stream(rows, orders=[("a", 2)]), 1800)
    x = top_paths(s, start="web_visit", members=members, segment="x")
    assert [(p["steps"], p["sessions"]) for p in x["paths"]] == [
        (["web_visit", "email_click", "order"], 1), (["web_visit", "email_click"], 1)]
    y = top_paths(s, start="web_visit", members=members, segment="y")
    assert [(p["steps"], p["share"]) for p in y["paths"]] == [(["web_visit", "email_click"], 0.5),
                                                             (["web_visit"], 0.5)]
    everyone = top_paths(s, start="web_visit")
    sk = everyone["sankey"]
    links = {(sk["nodes"][k["source"]], sk["nodes"][k["target"]]): k["value"] for k in sk["links"]}
    assert links == {("1. web_visit", "2. email_click"): 3, ("2. email_click", "3. order"): 1}


def test_path_length_is_bounded():
    s = sessionise(stream([("a", 0, "x")]), 1800)
    with pytest.raises(ConfigError, match="2 to 5 steps"):
        top_paths(s, length=6)


def test_journeys_between_segments():
    runs = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"])
    seq = {"a": "AABC", "b": "AABC", "c": "AAAA", "d": "BBAA"}
    rows = [("v", 1, runs[i], cid, seg) for cid, path in seq.items() for i, seg in enumerate(path)]
    rows += [("v", 2, runs[3], "a", "Z"), ("other", 1, runs[0], "a", "Q")]  # v2 re-ran at the last date only
    m = ibis.memtable(pd.DataFrame(rows, columns=["segmentation", "version", "as_of", "customer_id", "segment"]))
    j = segment_journeys(m, "v")
    assert j["runs"] == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    # at 2024-04-01 only version 2 counts: a is in Z there, and b, c, d have no membership
    paths = {tuple(p["segments"]): p["customers"] for p in j["paths"]}
    assert paths == {("A", "B", "Z"): 1, ("A", "B"): 1, ("A",): 1, ("B", "A"): 1}
    times = {t["segment"]: t for t in j["time_in_segment"]}
    # A: a and b left it after 60 days (c and d are still in it); B: a after 31 days, d after 60
    assert (times["A"]["ended"], times["A"]["median_days"], times["A"]["stints"]) == (2, 60.0, 4)
    assert (times["B"]["ended"], times["B"]["median_days"]) == (2, 45.5)
    assert times["Z"]["median_days_ongoing"] == 0.0


def test_journeys_config_in_yaml():
    cfg = Config.parse({"journeys": {"session_gap_minutes": 45, "groups": {"email": "^email_"}}})
    assert cfg.journeys.session_gap_minutes == 45
    with pytest.raises(ConfigError, match="session_gap_minutes"):
        Config.parse({"journeys": {"session_gap_minutes": 0}})


def test_path_sankey_for_the_report_hides_small_links():
    from segmint.report.plots import path_sankey

    sankey = {"nodes": ["1. web_visit", "2. order", "2. email_open", "3. order"],
              "links": [{"source": 0, "target": 1, "value": 40}, {"source": 0, "target": 2, "value": 3},
                        {"source": 2, "target": 3, "value": 2}]}
    spec = path_sankey(sankey, "Session paths: x", min_count=10)
    trace = spec["data"][0]
    assert trace["node"]["label"] == ["1. web_visit", "2. order"]
    assert trace["link"]["value"] == [40] and (trace["link"]["source"], trace["link"]["target"]) == ([0], [1])
    assert path_sankey(sankey, "t", min_count=100) is None


def test_paths_by_segment_equal_one_segment_at_a_time():
    from segmint.journeys.paths import paths_by_segment

    rows = [(c, m, e) for c in "abcdef" for m, e in ((0, "web_visit"), (1, "email_click"), (2, "app_open"))]
    rows += [("a", 3, "support_contact"), ("c", 100, "web_visit"), ("e", 1, "web_visit")]
    members = ibis.memtable(pd.DataFrame({"customer_id": list("abcdef"), "segment": list("xxyyzz")}))
    s = sessionise(stream(rows, orders=[("b", 4), ("d", 2)]), 1800)
    together = paths_by_segment(s, members, start="web_visit", length=3, top=2)
    for seg in "xyz":
        assert together[seg] == top_paths(s, start="web_visit", length=3, top=2, members=members, segment=seg), seg


def _reference_paths(frame, gap, start, end, length):
    """The paths by their definition, customer by customer in Python: (path -> (sessions, customers)), customers."""
    counts: dict[tuple, list] = {}
    people = set()
    for cid, g in frame.sort_values(["customer_id", "m", "event"]).groupby("customer_id"):
        sessions, prev_m, prev_step = [], None, None
        for m, step in zip(g.m, g.event):
            if prev_m is None or (m - prev_m) * 60 > gap:
                sessions.append([step])
            elif step != prev_step:
                sessions[-1].append(step)
            prev_m, prev_step = m, step
        for steps in sessions:
            path = None
            if start is not None and start in steps:
                i = steps.index(start)
                if end is None:
                    path = steps[i:i + length]
                else:
                    after = [j for j in range(i + 1, len(steps)) if steps[j] == end]
                    if after and after[0] - i < length:
                        path = steps[i:after[0] + 1]
            elif start is None and end is not None and end in steps:
                j = steps.index(end)
                path = steps[max(0, j - length + 1):j + 1]
            elif start is None and end is None:
                path = steps[:length]
            if path:
                entry = counts.setdefault(tuple(path), [0, set()])
                entry[0] += 1
                entry[1].add(cid)
                people.add(cid)
    return {p: (n, len(c)) for p, (n, c) in counts.items()}, len(people)


@pytest.mark.parametrize("start,end,length", [("a", None, 5), (None, "b", 3), ("a", "c", 4), (None, None, 2),
                                              ("b", "a", 5)])
@pytest.mark.parametrize("seed", [0, 1])
def test_paths_equal_their_definition_on_random_streams(start, end, length, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(70):
        minute = 0
        for _ in range(int(rng.integers(1, 25))):
            minute += int(rng.choice([0, 1, 5, 20, 29, 31, 90]))  # ties, repeats and gaps around 30 minutes
            rows.append((f"k{c}", minute, "abcd"[rng.integers(0, 4)]))
    frame = pd.DataFrame(rows, columns=["customer_id", "m", "event"]).drop_duplicates()
    expected, people = _reference_paths(frame, 1800, start, end, length)
    steps = stream(list(frame.itertuples(index=False, name=None)))
    window_functions = top_paths(mark_sessions(steps, 1800), start=start, end=end, length=length, top=10_000)
    sorted_scan = top_paths(steps, start=start, end=end, length=length, top=10_000, gap_seconds=1800)
    for got in (window_functions, sorted_scan):
        assert {tuple(p["steps"]): (p["sessions"], p["customers"]) for p in got["paths"]} == expected
        assert got["customers"] == people and got["sessions"] == sum(n for n, _ in expected.values())
    assert len(expected) > 3  # several distinct paths: the comparison has teeth
