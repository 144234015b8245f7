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
    q = w.store.table("quarantine").to_pandas()[["line", "reasons"]].sort_values("line").reset_index(drop=True)
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
    frame = pd.read_csv(files["csv"], dtype=str, keep_default_na=False)
    r, q, s = _load(tmp_path, monkeypatch, "frame", frame.replace({"": None}), source_name="frame")
    assert r.quarantine_reasons == r_csv.quarantine_reasons
    pd.testing.assert_frame_equal(s, s_csv)
