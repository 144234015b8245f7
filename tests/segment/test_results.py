"""Typed results: their JSON, and the console's view of a k-selection with a k that failed the gate."""

from __future__ import annotations

import json

import ibis
import pandas as pd
import pyarrow as pa

from segmint.segment.results import History, Migration, RulePreview, SegmentationResult, Why


def _result(table: pd.DataFrame) -> SegmentationResult:
    return SegmentationResult(name="behaviour", kind="cluster", version=1, as_of="2025-01-01",
                              labels=pd.Series(["cluster_1", "cluster_2"], index=["a", "b"]),
                              sizes={"cluster_1": 1, "cluster_2": 1}, model={},
                              selection={"all": {"k": 2, "reason": "k=2 has the best silhouette", "table": table}})


SELECTION = pd.DataFrame({"k": [2, 3], "silhouette": [0.4, 0.3], "stability": [0.95, 0.6],
                          "passes_gate": [True, False], "silhouette_gap": [0.0, float("nan")]})


def test_a_k_that_failed_the_gate_has_a_null_gap_in_json():
    text = json.dumps(_result(SELECTION).to_dict(), allow_nan=False)  # strict JSON: no bare NaN
    rows = json.loads(text)["selection"]["all"]["table"]
    assert [r["silhouette_gap"] for r in rows] == [0.0, None] and rows[1]["passes_gate"] is False


def test_the_console_shows_a_dash_for_a_k_without_gap_not_the_models_encoding(capsys):
    from segmint.cli_segments import _print_result

    _print_result(_result(SELECTION))
    out = capsys.readouterr().out
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in out.splitlines() if line.startswith("│")]
    by_k = {r[0]: r for r in rows}
    assert by_k["3"][-1] == "-" and by_k["2"][-1] == "0.000"  # silhouette_gap, the last column
    assert "$float" not in out and "nan" not in out


def test_migration_json_and_links():
    matrix = pd.DataFrame({"A": [3, 1], "B": [0, 2]}, index=pd.Index(["A", "B"], name="from"))
    matrix.columns.name = "to"
    changes = pd.DataFrame({"segment": ["A", "B"], "before": [3, 3], "after": [4, 2], "stayed": [3, 2],
                            "entered": [1, 0], "left": [0, 1]})
    moved = ibis.memtable(pa.table({"customer_id": ["c4"], "from_segment": ["B"], "to_segment": ["A"]}))
    mig = Migration(matrix, changes, moved, customers=6, moved_count=1, moved_share=1 / 6, from_version=1,
                    to_version=1, summary="1 of 6 customers (16.7%) change segment", from_as_of="2025-01-01",
                    to_as_of="2025-02-01")
    assert mig.links() == [{"from": "A", "to": "A", "customers": 3}, {"from": "B", "to": "A", "customers": 1},
                           {"from": "B", "to": "B", "customers": 2}]
    out = mig.to_dict()
    assert list(out) == ["customers", "moved_count", "moved_share", "from", "to", "from_version", "to_version",
                         "summary", "matrix", "changes", "moved_sample"]
    assert out["matrix"] == {"A": {"A": 3, "B": 0}, "B": {"A": 1, "B": 2}}
    assert out["moved_sample"] == [{"customer_id": "c4", "from_segment": "B", "to_segment": "A"}]
    versions = Migration(None, changes, moved, 6, 1, 1 / 6, 1, 2, "version 1 -> 2", as_of="2025-01-01")
    assert versions.links() == [] and "as_of" in versions.stats() and "from" not in versions.stats()


def test_history_records_and_api_body():
    frame = pd.DataFrame({"as_of": pd.to_datetime(["2025-01-01", "2025-02-01"]), "segment": ["A", "A"],
                          "size": pd.array([3, 4], dtype="Int64"), "entered": pd.array([None, 1], dtype="Int64"),
                          "left": pd.array([None, 0], dtype="Int64")})
    h = History("x", 1, frame)
    assert h.to_records()[0] == {"as_of": "2025-01-01", "segment": "A", "size": 3, "entered": None, "left": None}
    body = h.to_dict()
    assert body["series"][1] == {"as_of": "2025-02-01T00:00:00", "segment": "A", "customers": 4}
    assert body["history"][1] == {"as_of": "2025-02-01T00:00:00", "segment": "A", "size": 4, "entered": 1, "left": 0}


def test_why_and_preview_json_keep_their_key_order():
    why = Why.from_parts({"segmentation": "v", "kind": "tiers", "version": 1, "as_of": "2025-01-01",
                          "customer_id": "c1"}, ["High"], {"tier": {"band": "x"}})
    assert list(why.to_dict()) == ["segmentation", "kind", "version", "as_of", "customer_id", "segments", "tier"]
    preview = RulePreview("a > 1", "2025-01-01", 10, 4, 0.4, [])
    assert list(preview.to_dict()) == ["where", "as_of", "base", "size", "share", "conditions"]


def test_snapshot_missing_is_a_data_error_of_the_errors_module():
    from segmint.errors import DataError, SnapshotMissing
    from segmint.segment import service

    assert issubclass(SnapshotMissing, DataError) and service.SnapshotMissing is SnapshotMissing
    exc = SnapshotMissing("no snapshot", "2025-01-01", ["2025-02-01"])
    assert (exc.as_of, exc.available) == ("2025-01-01", ["2025-02-01"])
