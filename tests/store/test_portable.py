"""The store's DuckDB statements and their portable Ibis branches give the same answers.

Every statement listed in ``segmint.store.sql.ENGINE_SPECIFIC`` that the Spark backend will
need has an Ibis branch (``Store.native_sql = False``). Each test runs one scenario twice on
DuckDB, once per branch, and compares everything the scenario reads back.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from segmint.segment import membership as ms
from segmint.store import Store, sql

T1, T2 = dt.datetime(2024, 1, 31), dt.datetime(2024, 2, 29, 12, 30)


def _store(tmp_path, native: bool) -> Store:
    store = Store(tmp_path / f"{'native' if native else 'portable'}.duckdb")
    store.native_sql = native
    return store


def _rows(store: Store, table: str) -> list[tuple]:
    return sorted(tuple(r.values()) for r in store.table(table).to_pyarrow().to_pylist())


def _both(tmp_path, scenario) -> tuple:
    """The scenario's result on the DuckDB statements and on the Ibis branches."""
    out = []
    for native in (True, False):
        store = _store(tmp_path, native)
        try:
            out.append(scenario(store))
        finally:
            store.close()
    return tuple(out)


def _quarantine(store: Store, rows: list[dict]) -> None:
    schema = ibis.schema(dict(**{k: v for k, v in store.table("quarantine").schema().items()}))
    store.con.insert("quarantine", ibis.memtable(pa.Table.from_pylist(rows, schema=schema.to_pyarrow())))


ROWS = [
    {"ingest_id": "a", "table_name": "orders", "source": "x", "line": 1, "raw": "r", "reasons": "bad",
     "ingested_at": T1},
    {"ingest_id": "b", "table_name": "orders", "source": "x", "line": None, "raw": "r", "reasons": "bad",
     "ingested_at": T2},
    {"ingest_id": "c", "table_name": None, "source": "y", "line": 2, "raw": None, "reasons": "bad",
     "ingested_at": T1},
    {"ingest_id": "d", "table_name": "events", "source": "y", "line": 3, "raw": "r", "reasons": "bad",
     "ingested_at": T2},
]


def test_delete_rows_agrees(tmp_path):
    def scenario(store):
        _quarantine(store, ROWS)
        store.delete_rows("quarantine", table_name="orders", ingested_at=T1)  # a timestamp bound, not pasted
        after_one = _rows(store, "quarantine")
        store.delete_rows("quarantine", source="y")
        return after_one, _rows(store, "quarantine")

    native, portable = _both(tmp_path, scenario)
    assert native == portable
    assert [r[0] for r in native[0]] == ["b", "c", "d"]  # a null never equals: row c stays
    assert [r[0] for r in native[1]] == ["b"]


def test_delete_keys_agrees(tmp_path):
    def scenario(store):
        _quarantine(store, ROWS)
        keys = ibis.memtable(pa.table({"source": ["x", "y", None], "line": pa.array([None, 3, 2], pa.int64())}))
        store.delete_keys("quarantine", ["source", "line"], keys)
        return _rows(store, "quarantine")

    native, portable = _both(tmp_path, scenario)
    assert native == portable
    assert [r[0] for r in native] == ["a", "b", "c"]  # null key parts match nothing, as in SQL


def test_update_rows_agrees(tmp_path):
    def scenario(store):
        _quarantine(store, ROWS)
        store.update_rows("quarantine", {"reasons": "fixed", "ingested_at": T2}, table_name="orders", source="x")
        return _rows(store, "quarantine")

    native, portable = _both(tmp_path, scenario)
    assert native == portable
    assert [r[0] for r in native if r[5] == "fixed"] == ["a", "b"]  # rows c (null table) and d stay
    assert {r[6] for r in native if r[0] in "ab"} == {T2}


def test_update_many_agrees(tmp_path):
    def scenario(store):
        _quarantine(store, ROWS)
        rows = pa.table({"ingest_id": ["b", "d", "z"], "reasons": ["fixed b", None, "no such row"],
                         "line": pa.array([10, 30, 99], pa.int64())})
        store.update_many("quarantine", ["ingest_id"], rows)
        return _rows(store, "quarantine")

    native, portable = _both(tmp_path, scenario)
    assert native == portable
    assert [(r[0], r[3], r[5]) for r in native] == [("a", 1, "bad"), ("b", 10, "fixed b"), ("c", 2, "bad"),
                                                    ("d", 30, None)]


def test_add_columns_agrees(tmp_path):
    def scenario(store):
        _quarantine(store, ROWS[:2])
        store.add_columns("quarantine", {"score": "float64", "note": "string"})
        t = store.table("quarantine")
        return dict(t.schema().items()), _rows(store, "quarantine")

    native, portable = _both(tmp_path, scenario)
    assert native == portable
    assert native[1][0][-2:] == (None, None)


def _labels(ids: list[str], segments: list[str | None]) -> ibis.Table:
    reasons = [None if s is None else f'{{"why": "{s}"}}' for s in segments]
    return ibis.memtable(pa.table({"customer_id": ids, "segment": pa.array(segments, pa.string()),
                                   "reasons": pa.array(reasons, pa.string())}))


def _version(name: str, version: int, model: str) -> dict:
    return {"name": name, "version": version, "kind": "rules", "fingerprint": "f", "definition": "{}",
            "model": model, "fitted_as_of": T1, "created_at": T1}


def test_run_statements_agree(tmp_path):
    def scenario(store):
        ms.write_run(store, "life", 1, T1, _labels(["c2", "c1", "c3"], ["A", "B", None]),
                     _version("life", 1, '{"v": 1}'), exclusive=True)
        ms.write_run(store, "life", 1, T2, _labels(["c1", "c2"], ["A", "A"]), exclusive=True)
        # The same run again replaces it (the delete), and a second segmentation, version 2 at T1.
        ms.write_run(store, "life", 1, T2, _labels(["c1", "c2", "c4"], ["B", "A", "A"]), exclusive=True)
        ms.write_run(store, "value", 2, T1, _labels(["c9"], ["Top"]), _version("value", 2, '{"v": 2}'),
                     exclusive=True)
        runs = _rows(store, ms.RUNS)
        answers = {
            "runs": [r[:6] for r in runs],  # stored_at is the clock
            "find": store.runs.find("life"),
            "find_none": store.runs.find("nothing"),
            "lookup": [store.runs.lookup("life", 1, T2, c) for c in ("c1", "c4", "c3", "zz")],
            "lookup_none_segment": store.runs.lookup("life", 1, T1, "c3"),
            "model": [store.runs.model_text("life", 1), store.runs.model_text("life", 9)],
            "latest": {n: r[:3] for n, r in store.runs.latest().items()},
            "size": store.runs.size("life", 1, T2),
            "rows": store.runs.rows("life", 1, T2).to_pylist(),
        }
        # A store written before segmentation_runs existed: the table is filled from the memberships.
        store.con.drop_table(ms.RUNS)
        store.runs.ensure_tables()
        answers["migrated"] = [r[:6] for r in _rows(store, ms.RUNS)]
        return answers

    native, portable = _both(tmp_path, scenario)
    for key in native:
        assert native[key] == portable[key], key
    assert native["find"] == [(1, T1, True), (1, T2, True)]
    assert native["latest"] == {"life": (1, T2, True), "value": (2, T1, True)}
    assert native["lookup"] == [(["B"], '{"why": "B"}'), (["A"], '{"why": "A"}'), None, None]
    assert native["lookup_none_segment"] == ([], None)
    assert native["size"] == (3, 2, 3 * len('{"why": "A"}'), 3, 3)
    assert [r["customer_id"] for r in native["rows"]] == ["c1", "c2", "c4"]
    assert native["migrated"] == [(n, v, a, c, r, False) for n, v, a, c, r, _ in native["runs"]]


def test_size_counts_bytes_natively(tmp_path):
    # The documented difference: strlen counts bytes, the portable branch characters (same for ASCII).
    def scenario(store):
        ms.write_run(store, "s", 1, T1, _labels(["é1"], ["Ü"]), _version("s", 1, "{}"), exclusive=True)
        return store.runs.size("s", 1, T1)

    native, portable = _both(tmp_path, scenario)
    assert native.longest_id == 3 and portable.longest_id == 2
    assert native.segment_bytes == 2 and portable.segment_bytes == 1


def test_every_marked_statement_exists():
    for name in sql.ENGINE_SPECIFIC:
        assert hasattr(sql, name), f"ENGINE_SPECIFIC names {name}, which segmint.store.sql does not define"


@pytest.mark.parametrize("bad", ['x"; DROP TABLE orders; --', "1abc", "", "a b"])
def test_identifiers_are_checked(bad):
    from segmint.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="not a plain name"):
        sql.delete_where(bad, ["as_of"])


def test_erasure_statements_agree(tmp_path):
    """delete_people (DELETE ... RETURNING) and RunTables.recount (UPDATE ... FROM) against their Ibis branches."""
    from segmint.store.erase import customer_tables, delete_people

    def scenario(store):
        ms.write_run(store, "life", 1, T1, _labels(["c1", "c2", "c3"], ["A", "B", "A"]),
                     _version("life", 1, '{"v": 1}'), exclusive=True)
        ms.write_run(store, "life", 1, T2, _labels(["c1"], ["A"]), exclusive=True)
        tables = {t: c for t, c in customer_tables(store).items() if t in (ms.MEMBERSHIPS, ms.REASONS)}
        with store.transaction():
            counts, present = delete_people(store, tables, ["c1", "c3", "nobody"])
            store.runs.recount()
        return {"counts": counts, "present": sorted(present), "runs": [r[:5] for r in _rows(store, ms.RUNS)],
                "members": _rows(store, ms.MEMBERSHIPS)}

    native, portable = _both(tmp_path, scenario)
    assert native == portable
    assert native["counts"] == {ms.MEMBERSHIPS: 3, ms.REASONS: 3} and native["present"] == ["c1", "c3"]
    assert native["runs"] == [("life", 1, T1, 1, 1), ("life", 1, T2, 0, 0)]  # a run left empty counts 0
