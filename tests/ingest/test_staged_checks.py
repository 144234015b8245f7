"""Issue 16: cleaning, conversions and checks are computed once while staging; the results must not change.

Staging skips cleaning for rows that one search finds nothing to clean in (coerce.needs_cleaning), keeps the
cleaned text only where it differs from the source's, hashes the row's values joined by line feeds (for exact
duplicates) and stores each row's reasons. These tests pin what the full cleaning and the per-pass checks
gave: values with spaces of every kind and control characters, values that join alike but differ, nulls
against empty text, and the same dirty file as CSV, gzip CSV, Parquet and a frame.
"""

from __future__ import annotations

import gzip

import duckdb
import pandas as pd
import pytest

from segmint.datasets import write_shop
from segmint.ingest import coerce


def _orders(rows: list[dict]) -> pd.DataFrame:
    base = {"customer_id": "C1", "ordered_at": "2024-01-02 03:04:05", "amount": "10.00", "category": "Toys",
            "channel": "web"}
    return pd.DataFrame([{**base, **r} for r in rows])


def _stored(ws, table: str = "orders") -> pd.DataFrame:
    return ws.store.table(table).to_pandas().sort_values("order_id").reset_index(drop=True)


SPACES = ["\u00a0", "\u3000", "\u2009", " "]


@pytest.mark.parametrize("space", SPACES)
def test_unicode_spaces_at_either_end_are_trimmed_in_every_column(ws, space):
    frame = _orders([
        {"order_id": f"{space}O1", "customer_id": f"C1{space}", "category": f"{space}Toys{space}",
         "amount": f"{space}12.50", "ordered_at": f"2024-01-02 03:04:05{space}"},
        {"order_id": "O2"},
    ])
    r = ws.ingest("orders", frame, source_name="spaces")
    assert r.rows_quarantined == 0, r.quarantine_reasons
    s = _stored(ws)
    assert s.order_id.tolist() == ["O1", "O2"]
    assert s.customer_id.tolist() == ["C1", "C1"]
    assert s.category.tolist() == ["Toys", "Toys"]
    assert float(s.amount[0]) == 12.5
    assert str(s.ordered_at[0]) == "2024-01-02 03:04:05"


def test_inner_spaces_line_feeds_tabs_and_control_characters(ws):
    frame = _orders([
        {"order_id": "O1", "category": "Home\x00 & Garden"},  # NUL removed, inner space kept
        {"order_id": "O2", "category": "a\nb"},  # a line feed inside a value is kept
        {"order_id": "O3", "category": "\tTabbed"},  # TRIM leaves tabs: so does cleaning
        {"order_id": "O4", "category": "\x1b[31m"},  # ESC removed
        {"order_id": "O5", "category": "\x07"},  # only control characters: null
        {"order_id": "O6\x00"},  # an id loses its NUL
    ])
    r = ws.ingest("orders", frame, source_name="controls")
    assert r.rows_quarantined == 0, r.quarantine_reasons
    s = _stored(ws)
    assert s.order_id.tolist() == ["O1", "O2", "O3", "O4", "O5", "O6"]
    assert [None if pd.isna(v) else v for v in s.category][:5] == ["Home & Garden", "a\nb", "\tTabbed", "[31m", None]


def test_float_written_ids_are_ids_on_clean_rows_too(ws):
    frame = _orders([{"order_id": "17850.0", "customer_id": "12346.00"}, {"order_id": "O2", "customer_id": "C10"}])
    ws.ingest("orders", frame, source_name="floats")
    s = _stored(ws)
    assert s.order_id.tolist() == ["17850", "O2"]
    assert s.customer_id.tolist() == ["12346", "C10"]


def test_empty_and_blank_required_values_are_missing(ws):
    # A non-breaking space alone is blank too: the engine's TRIM removes it. Before issue 16's change "missing"
    # was decided by a search that counted it as text while the stored value was trimmed to null, so such a row
    # was accepted with a null customer_id.
    frame = _orders([{"order_id": "O1", "customer_id": ""}, {"order_id": "O2", "customer_id": "  "},
                     {"order_id": "O3", "customer_id": "\u00a0"}, {"order_id": "O4", "customer_id": None},
                     {"order_id": "O5"}])
    r = ws.ingest("orders", frame, source_name="blanks")
    assert r.quarantine_reasons == {"missing_customer_id": 4}
    assert r.rows_accepted == 1


def test_rows_that_join_alike_are_told_apart(ws):
    # Joined by line feeds both rows read "O1\nC1\n...\na\nb\nc": the hash groups them, the comparison of their
    # columns tells them apart. The second is a repeated key, not an exact copy.
    frame = _orders([{"order_id": "O1", "category": "a\nb", "channel": "c"},
                     {"order_id": "O1", "category": "a", "channel": "b\nc"}])
    r = ws.ingest("orders", frame, source_name="alike")
    assert r.quarantine_reasons == {"duplicate_key": 1}


def test_null_and_empty_text_are_not_exact_copies(ws):
    frame = _orders([{"order_id": "O1", "channel": None}, {"order_id": "O1", "channel": ""},
                     {"order_id": "O2", "channel": None}, {"order_id": "O2", "channel": None}])
    r = ws.ingest("orders", frame, source_name="nulls")
    assert r.quarantine_reasons == {"duplicate_key": 1, "duplicate_row": 1}


def test_reasons_are_all_listed_for_a_row(ws):
    frame = _orders([{"order_id": "O1", "amount": "-5.123456", "ordered_at": "9999-12-31", "customer_id": ""}])
    r = ws.ingest("orders", frame, source_name="many")
    q = ws.store.table("quarantine").to_pandas()
    assert sorted(q.reasons[0].split(",")) == sorted(
        ["missing_customer_id", "implausible_date", "too_precise_amount", "negative_amount"])
    assert r.rows_quarantined == 1


def test_needs_cleaning_never_misses_what_cleaning_changes():
    values = ["x", " x", "x ", "a b", "a\nb", "a\n b", "\u00a0x", "x\u3000", "\tx", "x\r", "\x00", "a\x7fb",
              "", "17850.0", None, "\u2028x", "x\u200b"]
    con = duckdb.connect()
    import ibis

    t = ibis.memtable({"v": values, "w": ["ok"] * len(values)})
    expr = t.select(n=coerce.needs_cleaning([t.v, t.w]), a=coerce.clean_stored_text(t.v),
                    b=coerce.clean_text(t.v), fa=coerce.clean_if(coerce.needs_cleaning([t.v, t.w]), t.v, True),
                    fb=coerce.clean_if(coerce.needs_cleaning([t.v, t.w]), t.v, False))
    out = expr.to_pandas().astype(object)
    out = out.where(out.notna(), None)
    con.close()
    assert out.a.tolist() == out.fa.tolist()
    assert out.b.tolist() == out.fb.tolist()
    # whatever the search says, skipping cleaning only where it is False loses nothing
    for v, n, a in zip(values, out.n, out.a):
        if not n:
            assert a == (v or None), repr(v)


@pytest.fixture(scope="module")
def dirty_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dirty-formats")
    result = write_shop(directory, n_customers=600, seed=11, dirty=True, dirty_fraction=0.03)
    csv = directory / "orders.csv"
    gz = directory / "orders.csv.gz"
    gz.write_bytes(gzip.compress(csv.read_bytes()))
    pq = directory / "orders.parquet"
    duckdb.connect().execute("COPY (SELECT * FROM read_csv(?, all_varchar=true)) TO '"
                             + str(pq).replace("'", "''") + "' (FORMAT parquet)", [str(csv)])
    return {"csv": csv, "gz": gz, "parquet": pq}, result


def _load(tmp_path, monkeypatch, name, source, **kwargs):
    from segmint.workspace import Workspace

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    w = Workspace.init(tmp_path / name)
    r = w.ingest("orders", source, **kwargs)
    q = w.store.table("quarantine").to_pandas()[["line", "reasons", "raw"]].sort_values("line").reset_index(drop=True)
    stored = w.store.table("orders").to_pandas().drop(columns=["_source", "_ingested_at"])
    stored = stored.sort_values("order_id").reset_index(drop=True)
    w.close()
    return r, q, stored


def test_every_format_quarantines_the_same_rows_for_the_same_reasons(tmp_path, monkeypatch, dirty_files):
    files, result = dirty_files
    r_csv, q_csv, s_csv = _load(tmp_path, monkeypatch, "csv", files["csv"])
    assert r_csv.rows_quarantined > 0 and r_csv.rows_read == result["rows"]["orders"]
    for fmt in ("gz", "parquet"):
        r, q, s = _load(tmp_path, monkeypatch, fmt, files[fmt])
        assert r.quarantine_reasons == r_csv.quarantine_reasons, fmt
        assert (r.rows_accepted, r.rows_quarantined) == (r_csv.rows_accepted, r_csv.rows_quarantined), fmt
        pd.testing.assert_frame_equal(s, s_csv)
        if fmt == "gz":  # CSV lines; Parquet numbers rows (line = row + 1, the header not counted)
            pd.testing.assert_frame_equal(q, q_csv)
        else:
            assert (q.line + 1).tolist() == q_csv.line.tolist()
            assert q.reasons.tolist() == q_csv.reasons.tolist()
            assert q.raw.tolist() == q_csv.raw.tolist()
    frame = pd.read_csv(files["csv"], dtype=str, keep_default_na=False)
    r, q, s = _load(tmp_path, monkeypatch, "frame", frame.replace({"": None}), source_name="frame")
    assert r.quarantine_reasons == r_csv.quarantine_reasons
    pd.testing.assert_frame_equal(s, s_csv)


TYPED_ROWS = """
SELECT * FROM (VALUES
  ('O1', 12346, TIMESTAMP '2024-01-02 03:04:05', 95.1::DOUBLE, 1::BIGINT, true, 447946095800::BIGINT),
  ('O2', 12347, TIMESTAMP '2024-01-02 03:04:05.123456', 0.30000000000000004::DOUBLE, 2, false, NULL),
  ('O3', 12348, TIMESTAMP '9999-12-31 12:00:00', 1e-05::DOUBLE, 9007199254740993, NULL, 447946095801),
  ('O4', 12349, TIMESTAMP '0001-01-01 00:00:00', -0.0::DOUBLE, -3, true, 447946095802),
  ('O5', NULL, NULL, 'nan'::DOUBLE, NULL, false, 447946095803),
  ('O6', 12350, TIMESTAMP '2024-05-06 00:00:00', 'inf'::DOUBLE, 0, true, 447946095804),
  ('O7', 12351, TIMESTAMP '2024-05-06 00:00:00', 123456789012.5::DOUBLE, 4, true, 447946095805),
  ('O8', 12352, TIMESTAMP '2024-05-06 00:00:00', -5.0::DOUBLE, 5, false, 447946095806),
  ('O9', 12353, TIMESTAMP '2024-05-06 00:00:00', 12.34567::DOUBLE, 6, true, 447946095807),
  ('O10', 12354, TIMESTAMP '2024-05-06 00:00:00', NULL, 7, true, 447946095808),
  ('O11', 12355, TIMESTAMP '2024-05-06 00:00:00', 2.0999999999999996::DOUBLE, 8, true, 447946095809),
  ('O1', 12346, TIMESTAMP '2024-01-02 03:04:05', 95.1::DOUBLE, 1, true, 447946095800),
  ('O1', 12399, TIMESTAMP '2024-01-02 03:04:05', 95.1::DOUBLE, 1, true, 447946095800),
  ('O12', 17850, TIMESTAMP '2023-01-01 00:00:00', 0.0001::DOUBLE, -9223372036854775808, NULL, 447946095810),
  ('O13', 17851, TIMESTAMP '2023-01-01 00:00:00', 999999999.9999::DOUBLE, 9223372036854775807, true, 447946095811)
) AS t(order_id, customer_id, ordered_at, amount, quantity, promo, phone)
"""


def test_typed_parquet_gives_what_its_text_gives(tmp_path, monkeypatch):
    """Parquet's numbers, times and booleans are read directly (no text round trip), with the text route for
    the values where the two could differ: the same stored rows, reasons, lines, raw records and pseudonyms
    as the same rows written as CSV."""
    con = duckdb.connect()
    pq, csv = tmp_path / "typed.parquet", tmp_path / "typed.csv"
    for path, fmt in ((pq, "parquet"), (csv, "csv, header true")):
        con.execute(f"COPY ({TYPED_ROWS}) TO '{path}' (FORMAT {fmt})")
    kinds = dict(con.execute(f"DESCRIBE SELECT * FROM read_parquet('{pq}')").fetchall()[i][:2]
                 for i in range(7))
    assert kinds["amount"] == "DOUBLE" and kinds["ordered_at"] == "TIMESTAMP" and kinds["promo"] == "BOOLEAN"
    r_csv, q_csv, s_csv = _load(tmp_path, monkeypatch, "csv", csv)
    r_pq, q_pq, s_pq = _load(tmp_path, monkeypatch, "pq", pq)
    assert r_pq.quarantine_reasons == r_csv.quarantine_reasons
    assert r_pq.pii == r_csv.pii and r_pq.pii  # the phone numbers (typed integers) are found and handled alike
    assert (r_pq.rows_accepted, r_pq.rows_quarantined) == (r_csv.rows_accepted, r_csv.rows_quarantined)
    assert (q_pq.line + 1).tolist() == q_csv.line.tolist()
    assert q_pq.reasons.tolist() == q_csv.reasons.tolist()
    assert q_pq.raw.tolist() == q_csv.raw.tolist()
    pd.testing.assert_frame_equal(s_pq, s_csv)
    assert {"duplicate_row", "duplicate_key", "implausible_date", "too_precise_amount", "negative_amount",
            "unparseable_amount", "missing_customer_id"} <= set(r_pq.quarantine_reasons)


def test_typed_parquet_raw_records_are_the_text_of_their_values(tmp_path, monkeypatch):
    from segmint.workspace import Workspace

    con = duckdb.connect()
    pq = tmp_path / "typed.parquet"
    con.execute(f"COPY ({TYPED_ROWS}) TO '{pq}' (FORMAT parquet)")
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    w = Workspace.init(tmp_path / "raw")
    w.ingest("orders", pq)
    raw = w.store.table("quarantine").to_pandas().set_index("line").raw
    w.close()
    import json

    record = json.loads(raw[6])  # O6: amount inf
    assert record["amount"] == "inf" and record["quantity"] == "0" and record["promo"] == "true"
    assert record["ordered_at"] == "2024-05-06 00:00:00"
    assert "447946095804" not in raw[6]  # the phone number is not in the quarantine, typed or not


@pytest.mark.parametrize("amount, quantity", [("DECIMAL(10, 2)", "INTEGER"), ("DECIMAL(20, 6)", "SMALLINT"),
                                              ("FLOAT", "DOUBLE"), ("BIGINT", "UBIGINT")])
def test_other_parquet_types_give_what_their_text_gives(tmp_path, monkeypatch, amount, quantity):
    rows = (f"SELECT * FROM (VALUES ('O1', 'C1', DATE '2024-01-02', 12.25, 3), ('O2', 'C2', DATE '2024-01-03', -4, 2),"
            f" ('O3', 'C3', NULL, 0.1, NULL), ('O4', 'C4', DATE '2024-01-04', 7.5, 0)) AS t(order_id, customer_id,"
            f" ordered_at, a, q)")
    typed = (f"SELECT order_id, customer_id, ordered_at, a::{amount} AS amount, abs(q)::{quantity} AS quantity "
             f"FROM ({rows})")
    con = duckdb.connect()
    pq, csv = tmp_path / "t.parquet", tmp_path / "t.csv"
    con.execute(f"COPY ({typed}) TO '{pq}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT * FROM read_parquet('{pq}')) TO '{csv}' (FORMAT csv, header true)")
    r_csv, q_csv, s_csv = _load(tmp_path, monkeypatch, "csv", csv)
    r_pq, q_pq, s_pq = _load(tmp_path, monkeypatch, "pq", pq)
    assert r_pq.quarantine_reasons == r_csv.quarantine_reasons
    assert q_pq.raw.tolist() == q_csv.raw.tolist()
    pd.testing.assert_frame_equal(s_pq, s_csv)


def test_a_whole_number_beyond_int64_is_quarantined_not_a_failed_load(ws, tmp_path):
    # Ibis's round(x, 0) cast to int64 and failed the whole load with a conversion error (found in issue 16)
    path = tmp_path / "big.csv"
    path.write_text("order_id,customer_id,ordered_at,amount,quantity\nO1,C1,2024-01-01,1,9223372036854775807\n"
                    "O2,C1,2024-01-01,1,2\n")
    r = ws.ingest("orders", path)
    assert r.quarantine_reasons == {"unparseable_quantity": 1}
    assert r.rows_accepted == 1


def test_a_line_over_the_readers_own_bound_is_read_again_with_segmints(ws, tmp_path):
    # The CSV is read with the reader's 2 MiB line bound first (a 16 MiB bound made it decompress a gzip file
    # tens of MB deep to sniff it); a 3 MiB line deep in the file, which that reader sets aside, is read again.
    path = tmp_path / "long.csv.gz"
    rows = "".join(f"O{i},C1,2024-01-01,c,{i}\n" for i in range(30_000))
    text = "order_id,customer_id,ordered_at,category,amount\n" + rows + "OX,C1,2024-01-01," + "y" * (3 << 20) + ",5\n"
    path.write_bytes(gzip.compress(text.encode()))
    r = ws.ingest("orders", path)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (30_001, 30_001, 0)
    assert ws.store.count("quarantine") == 0
