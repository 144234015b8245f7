"""Ingest on Spark: rows numbered in the source's order without moving them to one partition (issue 22).

A source read in several partitions keeps its partitions: each row's position (``_rec``, the
quarantine's line) is its partition's offset plus its place in it, as DuckDB's ``rowid`` gives.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.spark,
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
              pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
              pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket"
                                         ":pytest.PytestUnraisableExceptionWarning")]

ROWS = 3_000


def _orders(path, bad: set[int]) -> None:
    """Orders whose ``order_id`` is their row number; the rows in ``bad`` have an amount that is not a number."""
    pq.write_table(pa.table({
        "order_id": [f"O{i}" for i in range(ROWS)],
        "customer_id": [f"C{i % 50}" for i in range(ROWS)],
        "ordered_at": ["2025-01-02 10:00:00"] * ROWS,
        "amount": ["n/a" if i in bad else f"{i % 97}.5" for i in range(ROWS)],
    }), path, row_group_size=200)  # row groups: Spark reads the file in several partitions


@pytest.fixture
def small_splits(pyspark, tmp_path):
    """A Spark store whose reader splits files every 2 KB (several partitions for a small file)."""
    from segmint.store.spark import SparkStore

    store = SparkStore(tmp_path / "state", "local[2]", (tmp_path / "wh").as_uri())
    store.con._session.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    store.con._session.conf.set("spark.sql.files.openCostInBytes", "0")
    yield store
    store.close()


def test_positions_are_dense_and_follow_the_file_across_partitions(small_splits, tmp_path):
    _orders(tmp_path / "orders.parquet", set())
    src = small_splits.read_files([str(tmp_path / "orders.parquet")], "parquet", None, "utf-8")
    assert small_splits.con._session.table(src.get_name()).rdd.getNumPartitions() > 1
    view = small_splits.create_positioned("_positioned", src)
    rows = small_splits.con.table(view).select("_rec", "order_id").to_pyarrow().to_pylist()
    assert sorted(r["_rec"] for r in rows) == list(range(ROWS))
    assert all(r["order_id"] == f"O{r['_rec']}" for r in rows)
    # the rows stay where they were read: no single partition holds them all
    assert small_splits.con._session.table(view).rdd.getNumPartitions() > 1


def test_quarantined_rows_name_their_place_in_the_file(small_splits, tmp_path):
    from segmint.ingest.pipeline import IngestOptions, ingest

    bad = {0, 1_234, ROWS - 1}
    _orders(tmp_path / "orders.parquet", bad)
    report = ingest(small_splits, "orders", tmp_path / "orders.parquet", IngestOptions(detect_pii=False))
    assert (report.rows_accepted, report.rows_quarantined) == (ROWS - len(bad), len(bad))
    lines = small_splits.con.table("quarantine").select("line").to_pyarrow().column("line").to_pylist()
    assert sorted(lines) == sorted(i + 1 for i in bad)  # a Parquet source's first row is line 1


def test_ids_written_as_floats_lose_the_float_on_both_engines(small_splits, tmp_path):
    """Spreadsheet exports write ids as "17850.0": both engines store "17850" (Spark once stored "1" for all)."""
    from segmint.ingest.pipeline import IngestOptions, ingest
    from segmint.store.engine import Store

    ids = ["17850.0", "12346.00", "007.0", "A7.0", "1.5", "C42"]
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id\n" + "\n".join(ids) + "\n")
    expected = ["17850", "12346", "007", "A7.0", "1.5", "C42"]
    duck = Store(tmp_path / "duck.duckdb")
    duck.ensure_schema()
    try:
        for store in (duck, small_splits):
            report = ingest(store, "customers", csv, IngestOptions(detect_pii=False))
            assert report.rows_accepted == len(ids), report
            got = store.table("customers").select("customer_id").to_pyarrow().column("customer_id").to_pylist()
            assert sorted(got) == sorted(expected), type(store).__name__
    finally:
        duck.close()
