"""Every bad-input class ends in quarantine with a reason, or in a clear fatal error."""

from __future__ import annotations

import pandas as pd
import pytest

from segmint.errors import DataError, UnknownNameError

HEADER = "order_id,customer_id,ordered_at,amount\n"


def write(tmp_path, text: str | bytes, name: str = "orders.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_clean_file_is_fully_accepted(ws, tmp_path):
    path = write(tmp_path, HEADER + "A1,C1,2024-01-05 10:00:00,19.99\nA2,C2,2024-02-01,5\n")
    r = ws.ingest("orders", path)
    assert (r.rows_read, r.rows_new, r.rows_quarantined) == (2, 2, 0)
    stored = ws.store.table("orders").order_by("order_id").execute()
    assert list(stored.order_id) == ["A1", "A2"]
    assert float(stored.amount.iloc[0]) == pytest.approx(19.99)
    assert str(stored.ordered_at.iloc[0]) == "2024-01-05 10:00:00"


def test_wrong_types_are_quarantined_with_reasons(ws, tmp_path):
    path = write(tmp_path, HEADER + "A1,C1,2024-01-05,19.99\nA2,C2,2024-02-01,abc\nA3,C3,not a date,1\n"
                 "A4,C4,2024-13-45,2\nA5,C5,yesterday,3\n")
    r = ws.ingest("orders", path)
    assert r.rows_read == 5 and r.rows_accepted == 1 and r.rows_quarantined == 4
    assert r.quarantine_reasons == {"unparseable_ordered_at": 3, "unparseable_amount": 1}
    q = ws.store.table("quarantine").order_by("line").execute()
    assert list(q.line) == [3, 4, 5, 6]  # file lines: the header is line 1
    assert '"amount":"abc"' in q.raw.iloc[0]


def test_negative_and_nan_amounts(ws, tmp_path):
    path = write(tmp_path, HEADER + "A1,C1,2024-01-05,-3\nA2,C1,2024-01-05,NaN\nA3,C1,2024-01-05,inf\n"
                 "A4,C1,2024-01-05,\nA5,C1,2024-01-05,\"1,234.50\"\n")
    r = ws.ingest("orders", path)
    assert r.quarantine_reasons == {"negative_amount": 1, "unparseable_amount": 2, "missing_amount": 1}
    assert float(ws.store.table("orders").amount.sum().execute()) == pytest.approx(1234.50)


def test_returns_may_be_negative(ws, tmp_path):
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount,returned\nR1,C1,2024-01-05,-3,true\n")
    assert ws.ingest("orders", path).rows_new == 1


def test_missing_required_column_is_fatal_and_names_the_fix(ws, tmp_path):
    path = write(tmp_path, "order_id,custmer_id,ordered_at,amount\nA1,C1,2024-01-05,1\n")
    with pytest.raises(DataError) as err:
        ws.ingest("orders", path)
    msg = str(err.value)
    assert "customer_id" in msg and "did you mean 'custmer_id'" in msg and "--map customer_id=" in msg
    assert ws.store.count("orders") == 0 and ws.store.count("quarantine") == 0


def test_unknown_table_suggests(ws, tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'orders'"):
        ws.ingest("order", write(tmp_path, HEADER))


def test_empty_file_is_fatal(ws, tmp_path):
    with pytest.raises(DataError, match="empty"):
        ws.ingest("orders", write(tmp_path, ""))


def test_header_only_reads_nothing(ws, tmp_path):
    r = ws.ingest("orders", write(tmp_path, HEADER))
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (0, 0, 0)


def test_unknown_customer(ws, tmp_path):
    ws.ingest("customers", write(tmp_path, "customer_id,age\nC1,30\n", "customers.csv"))
    r = ws.ingest("orders", write(tmp_path, HEADER + "A1,C1,2024-01-05,1\nA2,C9,2024-01-05,1\n"))
    assert r.quarantine_reasons == {"unknown_customer": 1}


def test_duplicates_within_a_source(ws, tmp_path):
    path = write(tmp_path, HEADER + "A1,C1,2024-01-05,1\nA1,C1,2024-01-05,1\nA1,C1,2024-01-05,2\nA2,C2,2024-01-05,1\n")
    r = ws.ingest("orders", path)
    assert r.rows_new == 2
    assert r.quarantine_reasons == {"duplicate_row": 1, "duplicate_key": 1}
    assert float(ws.store.table("orders").filter(lambda t: t.order_id == "A1").amount.execute().iloc[0]) == 1.0


def test_reingest_doubles_nothing_and_counts_what_was_there(ws, tmp_path):
    path = write(tmp_path, HEADER + "A1,C1,2024-01-05,1\nA2,C2,2024-01-05,x\n")
    ws.ingest("orders", path)
    again = ws.ingest("orders", path)
    assert (again.rows_new, again.rows_already_present, again.rows_quarantined) == (0, 1, 1)
    assert again.quarantine_already_recorded == 1
    assert ws.store.count("orders") == 1 and ws.store.count("quarantine") == 1
    changed = write(tmp_path, HEADER + "A1,C1,2024-01-05,7\n", "changed.csv")
    r = ws.ingest("orders", changed)
    assert r.rows_updated == 1 and ws.store.count("orders") == 1


def test_non_utf8_bytes_and_ragged_rows(ws, tmp_path):
    data = (HEADER + "A1,C1,2024-01-05,1\nA2,C2\nA3,C3,2024-01-05,1,extra\n").encode() + \
        b"A4,C\xff\xfe,2024-01-05,1\nA5,C5,2024-01-05,1\n"
    r = ws.ingest("orders", write(tmp_path, data))
    assert r.rows_read == 5 and r.rows_accepted == 2
    assert r.quarantine_reasons == {"malformed_row": 2, "invalid_encoding": 1}
    q = ws.store.table("quarantine").order_by("line").execute()
    assert list(q.line) == [3, 4, 5]
    accepted = ws.store.table("orders").order_by("order_id").execute()
    assert list(accepted.order_id) == ["A1", "A5"]


def test_line_numbers_after_a_rejected_row(ws, tmp_path):
    data = HEADER + "A1,C1,2024-01-05,1\nA2,C2\nA3,C3,2024-01-05,x\n"
    ws.ingest("orders", write(tmp_path, data))
    q = ws.store.table("quarantine").order_by("line").execute()
    assert list(zip(q.line, q.reasons)) == [(3, "malformed_row"), (4, "unparseable_amount")]


def test_huge_field_is_kept(ws, tmp_path):
    big = "x" * 3_000_000
    r = ws.ingest("events", write(tmp_path, f'customer_id,occurred_at,event,properties\nC1,2024-01-01,web_visit,"{{""a"": ""{big}""}}"\n',
                                  "events.csv"))
    assert r.rows_read == 1 and r.rows_accepted + r.rows_quarantined == 1


def test_bad_encoding_file_with_encoding_option(ws, tmp_path):
    data = (HEADER + "A1,Zoë,2024-01-05,1\n").encode("latin-1")
    r = ws.ingest("orders", write(tmp_path, data), encoding="latin-1")
    assert r.rows_new == 1
    assert ws.store.table("orders").customer_id.execute().iloc[0] == "Zoë"


def test_time_zones_and_offsets(ws, tmp_path):
    path = write(tmp_path, HEADER + "A1,C1,2024-07-01 10:00:00,1\nA2,C1,2024-07-01T10:00:00+02:00,1\n"
                 "A3,C1,2024-01-15 10:00,1\n")
    ws.ingest("orders", path, timezone="Europe/London")
    got = ws.store.table("orders").order_by("order_id").ordered_at.execute().astype(str).tolist()
    assert got == ["2024-07-01 09:00:00", "2024-07-01 08:00:00", "2024-01-15 10:00:00"]


def test_date_format_and_decimal_comma(ws, tmp_path):
    path = write(tmp_path, "order_id;customer_id;ordered_at;amount\nA1;C1;05/01/2024;12,50\nA2;C1;31/02/2024;1\n")
    r = ws.ingest("orders", path, date_format="%d/%m/%Y", decimal=",", delimiter=";")
    assert r.rows_new == 1 and r.quarantine_reasons == {"unparseable_ordered_at": 1}
    row = ws.store.table("orders").execute().iloc[0]
    assert float(row.amount) == 12.5 and str(row.ordered_at) == "2024-01-05 00:00:00"


def test_mapping_explicit(ws, tmp_path):
    path = write(tmp_path, "Invoice,Client,When,Total\nI1,K1,2024-01-05,3\n")
    r = ws.ingest("orders", path, mapping={"order_id": "Invoice", "customer_id": "Client", "ordered_at": "When",
                                          "amount": "Total"})
    assert r.rows_new == 1


def test_bad_mapping_names_what_exists(ws, tmp_path):
    with pytest.raises(DataError, match="did you mean 'Invoice'"):
        ws.ingest("orders", write(tmp_path, "Invoice,customer_id,ordered_at,amount\n"),
                  mapping={"order_id": "Invoic"})


def test_customers_attributes_are_typed_and_tagged(ws, tmp_path):
    path = write(tmp_path, "customer_id,age,region,loyalty_points,Favourite Colour\nC1,34,North,120,red\nC2,200,South,x,blue\n",
                 "customers.csv")
    r = ws.ingest("customers", path)
    assert r.quarantine_reasons == {"out_of_range_age": 1}
    schema = ws.store.table("customers").schema()
    assert schema["loyalty_points"].is_floating() and schema["favourite_colour"].is_string()


def test_frames_and_arrow(ws):
    import pyarrow as pa

    df = pd.DataFrame({"order_id": [1, 2], "customer_id": ["C1", "C2"],
                       "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02"]), "amount": [1.5, None]})
    r = ws.ingest("orders", df)
    assert r.rows_new == 1 and r.quarantine_reasons == {"missing_amount": 1}
    r2 = ws.ingest("orders", pa.Table.from_pandas(df), source_name="arrow")
    assert r2.rows_already_present == 1


def test_parquet_and_jsonl(ws, tmp_path):
    df = pd.DataFrame({"customer_id": ["C1", "C2"], "occurred_at": ["2024-01-01", "2024-01-02"],
                       "event": ["web_visit", "email_open"], "properties": ['{"page": "/"}', "{}"]})
    df.to_parquet(tmp_path / "events.parquet")
    assert ws.ingest("events", tmp_path / "events.parquet").rows_new == 2
    lines = '{"customer_id": "C3", "occurred_at": "2024-01-03", "event": "web_visit"}\nnot json\n' \
            '{"customer_id": "C4", "occurred_at": "2024-01-04", "event": "app_open", "properties": "{}"}\n'
    r = ws.ingest("events", write(tmp_path, lines, "events.jsonl"))
    assert (r.rows_read, r.rows_new) == (3, 2) and r.quarantine_reasons == {"malformed_json": 1}
    assert ws.store.table("quarantine").line.execute().tolist() == [2]


def test_missing_file(ws, tmp_path):
    with pytest.raises(DataError, match="no such file"):
        ws.ingest("orders", tmp_path / "nope.csv")


def test_failed_ingest_leaves_the_previous_state(ws, tmp_path, monkeypatch):
    from segmint.ingest import pipeline

    ws.ingest("orders", write(tmp_path, HEADER + "A1,C1,2024-01-05,1\n"))

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "record_run", boom)
    with pytest.raises(RuntimeError):
        ws.ingest("orders", write(tmp_path, HEADER + "A2,C1,2024-01-05,1\nA3,C1,2024-01-05,x\n", "b.csv"))
    assert ws.store.count("orders") == 1 and ws.store.count("quarantine") == 0


def test_jsonl_line_numbers_after_a_bad_line(ws, tmp_path):
    lines = 'not json\n{"customer_id": "C3", "occurred_at": "never", "event": "web_visit"}\n'
    ws.ingest("events", write(tmp_path, lines, "events.jsonl"))
    q = ws.store.table("quarantine").order_by("line").execute()
    assert list(zip(q.line, q.reasons)) == [(1, "malformed_json"), (2, "unparseable_occurred_at")]


def test_line_numbers_after_many_rejected_rows(ws, tmp_path):
    ragged = "".join(f"R{i},C{i}\n" for i in range(250))  # 250 rows the reader rejects
    data = HEADER + "A1,C1,2024-01-05,1\n" + ragged + "A2,C2,2024-01-05,x\n"
    r = ws.ingest("orders", write(tmp_path, data))
    assert r.quarantine_reasons == {"malformed_row": 250, "unparseable_amount": 1}
    q = ws.store.table("quarantine")
    bad_amount = q.filter(q.reasons == "unparseable_amount").line.to_pyarrow().to_pylist()
    assert bad_amount == [2 + 1 + 250]  # header, A1, the rejected rows
