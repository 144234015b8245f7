"""Issue 15: errors never echo file contents, control characters are not stored, lost precision is not silent."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from segmint.errors import DataError
from segmint.ingest.checks import describe_reason
from segmint.ingest.coerce import describe_columns, plausible_names


# -- column-name errors -----------------------------------------------------------------------------
@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs a system file to link to")
def test_a_symlink_to_a_system_file_is_refused_without_echoing_its_content(ws, tmp_path):
    link = tmp_path / "customers.csv"
    os.symlink("/etc/passwd", link)
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    with pytest.raises(DataError) as err:
        ws.ingest("customers", link)
    message = str(err.value)
    assert str(link) in message and "none of which looks like a column name" in message
    assert "customer_id" in message and "--map" in message  # what is missing and the fix
    for part in {p for p in first_line.split(":") if len(p) > 2} | {first_line}:
        assert part not in message.replace(str(link), "").replace("customers", ""), (part, message)


def test_a_header_of_plausible_names_is_quoted_escaped_and_bounded(ws, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(",".join(["cust"] + [f"col{i}" for i in range(40)]) + "\n" + ",".join(["x"] * 41) + "\n")
    with pytest.raises(DataError) as err:
        ws.ingest("customers", src)
    message = str(err.value)
    assert "41 columns: 'cust', 'col0'" in message and "and 21 more" in message and "'col39'" not in message


def test_a_header_with_one_odd_name_shows_only_counts(ws, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text('name,"[bold]x[/] :x: secret@example.com"\nA,B\n')
    with pytest.raises(DataError) as err:
        ws.ingest("customers", src)
    message = str(err.value)
    assert "2 columns, 1 of which looks like a column name" in message
    assert "secret@example.com" not in message and "[bold]" not in message


def test_the_cli_prints_the_error_as_written(tmp_path):
    """No Rich markup or emoji codes in user text: ':x:' stays text, '[bold]' is not eaten."""
    import subprocess
    import sys

    from segmint.workspace import Workspace

    env = {**os.environ, "SEGMINT_SECRET": "test-secret-key-for-pseudonyms", "COLUMNS": "300",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    Workspace.init(tmp_path / "ws").close()
    src = tmp_path / "c.csv"
    src.write_text("a:x:b,[red]c[/]\n1,2\n")
    out = subprocess.run([sys.executable, "-m", "segmint.cli", "ingest", "customers", str(src)], cwd=tmp_path / "ws",
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    text = " ".join((out.stdout + out.stderr).split())
    assert "a:x:b" not in text and "\u274c" not in text  # not echoed, and no emoji either
    assert "2 columns, none of which looks like a column name" in text, text
    assert "Traceback" not in text


def test_plausible_names_rule():
    assert plausible_names(["Order Date", "amount (EUR)", "tier-2", "Größe", "a/b", "x" * 65, "", "\x00a"]) == [
        "Order Date", "amount (EUR)", "tier-2", "Größe"]
    assert describe_columns([]) == "0 columns: "


# -- control characters -----------------------------------------------------------------------------
def test_control_characters_are_removed_from_stored_text(ws, tmp_path):
    src = tmp_path / "customers.csv"
    src.write_bytes(b"customer_id,country,segment_hint\nC\x001,Ho\x00me,a\x1b[31mred\nC2,\x07,x\tkept\n")
    r = ws.ingest("customers", src)
    assert r.rows_new == 2, r.to_dict()
    rows = ws.store.table("customers").to_pyarrow().to_pylist()
    by_id = {row["customer_id"]: row for row in rows}
    assert set(by_id) == {"C1", "C2"}
    assert by_id["C1"]["country"] == "Home" and by_id["C2"]["country"] is None  # only controls: no value
    assert by_id["C1"]["segment_hint"] == "a[31mred" and by_id["C2"]["segment_hint"] == "x\tkept"


def test_control_characters_in_frames_and_order_categories(ws):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    r = ws.ingest("orders", pd.DataFrame({"order_id": ["O1"], "customer_id": ["C1"], "ordered_at": ["2024-01-01"],
                                          "amount": ["10"], "category": ["Ho\x00me"]}))
    assert r.rows_new == 1
    assert ws.store.table("orders").category.to_pyarrow().to_pylist() == ["Home"]


# -- decimal places ---------------------------------------------------------------------------------
def test_amounts_with_more_than_four_decimals_are_quarantined_with_a_reason(ws, tmp_path):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    src = tmp_path / "orders.csv"
    amounts = ["0.00001", "12.34567", "1e-7", "10.5", "0.1234", "3", "0.30000000000000004", "1234567.1234"]
    src.write_text("order_id,customer_id,ordered_at,amount\n"
                   + "".join(f"O{i},C1,2024-01-0{1 + i % 9},{a}\n" for i, a in enumerate(amounts)))
    r = ws.ingest("orders", src)
    assert r.quarantine_reasons == {"too_precise_amount": 3}, r.to_dict()
    assert r.rows_new == 5
    words = describe_reason("too_precise_amount")
    assert "amount" in words and "4 decimal places" in words and "decimal(18, 4)" in words
    stored = sorted(float(x) for x in ws.store.table("orders").amount.to_pyarrow().to_pylist())
    assert stored == [0.1234, 0.3, 3.0, 10.5, 1234567.1234]


def test_float_frames_are_not_flagged_for_binary_noise(ws):
    ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"]}))
    r = ws.ingest("orders", pd.DataFrame({"order_id": ["A", "B"], "customer_id": ["C1", "C1"],
                                          "ordered_at": ["2024-01-01", "2024-01-02"],
                                          "amount": [0.1 + 0.2, 19.99 * 3]}))
    assert r.rows_new == 2 and not r.quarantine_reasons
