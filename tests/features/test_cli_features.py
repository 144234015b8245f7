"""`segmint features` computes and stores a snapshot; `--list` prints the catalog."""

from __future__ import annotations

import json

from .conftest import CUSTOMERS, ORDERS

from segmint.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_features_json_and_table(ws, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    ws.ingest("orders", ORDERS)
    ws.ingest("customers", CUSTOMERS)
    path = str(ws.path)
    ws.close()
    code, out, _ = run(capsys, "features", "-w", path, "--as-of", "2024-07-01", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["as_of"] == "2024-07-01" and info["customers"] == 7
    assert info["distributions"]["frequency"]["max"] == 4
    code, out, _ = run(capsys, "features", "-w", path)
    assert code == 0 and "Features as of 2024-09-02" in out and "recency_days" in out


def test_bad_date_is_a_clear_error(ws, capsys):
    code, _, err = run(capsys, "features", "-w", str(ws.path), "--as-of", "someday")
    assert code == 1 and "YYYY-MM-DD" in err


def test_list_prints_the_catalog(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run(capsys, "features", "--list")
    assert code == 0 and "recency_days" in out and "category_share_{category}" in out
    code, out, _ = run(capsys, "features", "--list", "--json")
    entries = {e["name"]: e for e in json.loads(out)["features"]}
    assert entries["monetary_total"]["kind"] == "amount" and entries["survey_{question}"]["pattern"]


def test_implausible_as_of_is_refused(ws, capsys):
    ws.ingest("orders", ORDERS)
    path = str(ws.path)
    ws.close()
    code, _, err = run(capsys, "features", "-w", path, "--as-of", "9999-12-31")
    assert code == 1 and "outside the plausible dates" in err and "please report" not in err


def test_store_with_an_impossible_order_gets_a_clear_error(ws, capsys):
    ws.ingest("orders", ORDERS)
    ws.store.con.raw_sql("INSERT INTO orders (order_id, customer_id, ordered_at, amount) "
                         "VALUES ('X', 'C1', TIMESTAMP '9999-12-31', 5)")  # as stored before dates were checked
    path = str(ws.path)
    ws.close()
    code, _, err = run(capsys, "features", "-w", path)
    assert code == 1 and "please report" not in err and "OverflowError" not in err
    assert "orders table holds 1 order(s)" in " ".join(err.split())
    code, out, _ = run(capsys, "features", "-w", path, "--as-of", "2024-07-01", "--json")
    assert code == 0 and json.loads(out)["as_of"] == "2024-07-01"


def test_segment_refuses_an_implausible_as_of_and_a_poisoned_store(ws, capsys):
    import yaml

    ws.ingest("orders", ORDERS)
    path = ws.path / "segmint.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["segmentations"] = {"v": {"kind": "rules", "segments": [{"name": "Big", "where": "monetary_total > 100"}],
                                  "else": "Rest"}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    ws.store.con.raw_sql("INSERT INTO orders (order_id, customer_id, ordered_at, amount) "
                         "VALUES ('X', 'C1', TIMESTAMP '9999-12-31', 5)")  # as stored before dates were checked
    ws.close()
    code, _, err = run(capsys, "segment", "v", "-w", str(ws.path), "--as-of", "9999-12-31")
    assert code == 1 and "outside the plausible dates" in " ".join(err.split())
    code, _, err = run(capsys, "segment", "v", "-w", str(ws.path))
    err = " ".join(err.split())
    assert code == 1 and "orders table holds 1 order(s)" in err and "please report" not in err
    code, out, err = run(capsys, "segment", "v", "-w", str(ws.path), "--as-of", "2024-07-01", "--json")
    assert code == 0, err
    assert json.loads(out)["as_of"] == "2024-07-01"
