"""``segmint forget``: every table, every byte of the workspace folder, the ledger, suppression, re-admission."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.privacy.conftest import ERASED, KEPT

pytestmark = pytest.mark.db


def _needles(shop, raw_shop) -> dict[str, str]:
    """The person's id, raw email and phone, and the pseudonyms the store holds for them."""
    cust = shop.store.table("customers")
    row = cust.filter(cust.customer_id == ERASED).to_pyarrow().to_pylist()[0]
    raw = raw_shop.customers.set_index("customer_id").loc[ERASED]
    return {"id": ERASED, "email_pseudonym": row["email"], "phone_pseudonym": row["phone"],
            "email": raw["email"], "phone": raw["phone"]}


def _files_naming(root: Path, needle: str) -> list[str]:
    hits = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if needle.encode() in path.read_bytes():
                hits.append(path.relative_to(root).as_posix())
    return sorted(hits)


def test_no_byte_of_the_person_is_left_in_the_workspace_folder(shop, raw_shop):
    needles = _needles(shop, raw_shop)
    assert needles["email_pseudonym"].startswith("em_") and needles["phone_pseudonym"].startswith("ph_")
    shop.store.con.disconnect()  # flush: the greps below read the files as another program would
    shop._store = None
    before = {k: _files_naming(shop.path, v) for k, v in needles.items()}
    # the grep can fail: the id and the pseudonyms are there before (store, report, export)
    assert before["id"] and before["email_pseudonym"] and before["phone_pseudonym"]
    assert any(p.startswith("exports/") for p in before["id"])
    receipt = shop.forget([ERASED])
    shop.close()
    after = {k: _files_naming(shop.path, v) for k, v in needles.items()}
    assert after == {k: [] for k in needles}, after
    assert receipt.found == 1 and receipt.rewritten["bytes_after"] > 0
    assert receipt.files["exports/value.csv"] == "deleted"
    assert receipt.mentions == {"audit_log": 1, "quarantine": 1}


def test_the_receipt_counts_every_table_and_the_tables_lose_exactly_those_rows(shop):
    tables = ["customers", "orders", "events", "features", "memberships", "membership_reasons"]
    counts = {t: shop.store.count(t) for t in tables}
    receipt = shop.forget([ERASED, "NOBODY"])
    assert receipt.requested == 2 and receipt.found == 1 and receipt.not_found == 1
    for t in tables:
        assert shop.store.count(t) == counts[t] - receipt.tables[t], t
    assert receipt.tables["customers"] == 1 and receipt.tables["memberships"] >= 2  # a row per stored run
    for t in tables:
        tab = shop.store.table(t)
        assert tab.filter(tab.customer_id == ERASED).count().execute() == 0
    assert receipt.destinations == [] and "no destination" in receipt.destinations_note


def test_other_customers_memberships_and_features_are_unchanged(shop):
    def snapshot():
        m = shop.store.table("memberships").to_pyarrow().to_pandas()
        f = shop.store.table("features").to_pyarrow().to_pandas()
        m = m[m.customer_id != ERASED].sort_values(["as_of", "customer_id", "segment"]).reset_index(drop=True)
        f = f[f.customer_id != ERASED].sort_values(["as_of", "customer_id"]).reset_index(drop=True)
        return m, f

    m0, f0 = snapshot()
    shop.forget([ERASED])
    m1, f1 = snapshot()
    assert len(m1) == len(m0) > 0 and m1.equals(m0)
    assert f1.equals(f0)
    assert (m1.customer_id == KEPT).any()


def test_the_stored_runs_count_without_the_erased_person(shop):
    def runs():
        r = shop.store.table("segmentation_runs").to_pyarrow().to_pandas()
        return r.set_index(["segmentation", "version", "as_of"])[["customers", "rows"]].sort_index()

    before = runs()
    assert len(before) >= 2  # "value" at two dates (and the report's default one)
    receipt = shop.forget([ERASED])
    after = runs()
    assert (after["customers"] == before["customers"] - 1).all()
    assert after["rows"].sum() == before["rows"].sum() - receipt.tables["memberships"]
    m = shop.store.table("memberships").to_pyarrow().to_pandas()
    counted = m.groupby(["segmentation", "version", "as_of"]).customer_id.nunique().sort_index()
    assert after["customers"].tolist() == counted.tolist()


def test_a_dry_run_changes_nothing(shop, shop_path):
    before = shop.store.count("orders")
    receipt = shop.forget([ERASED], dry_run=True)
    assert receipt.dry_run and receipt.tables["orders"] > 0 and receipt.rewritten is None
    assert shop.store.count("orders") == before
    assert receipt.files == {"exports/value.csv": "would be deleted"}
    assert (shop_path / "exports" / "value.csv").exists()
    assert shop.erasure_ledger() == []


def test_the_ledger_holds_a_keyed_hash_never_the_id(shop):
    from segmint.ingest.pii import load_or_create_key
    from segmint.privacy.ledger import subject_hash

    receipt = shop.forget([ERASED], request="ticket 42")
    entry = shop.erasure_ledger()[0]
    assert entry["request_id"] == receipt.request_id and entry["action"] == "forget"
    assert entry["subject_hashes"] == [subject_hash(load_or_create_key(shop.path), ERASED)]
    assert ERASED not in json.dumps(entry, default=str)
    assert entry["tables"]["orders"] == receipt.tables["orders"] and entry["request"] == "ticket 42"
    assert entry["details"]["rewritten"]["bytes_after"] > 0


def test_reingesting_an_erased_person_quarantines_them_until_readmitted(shop, raw_shop):
    from segmint.ingest.write import ERASED_RAW

    shop.forget([ERASED])
    rows = raw_shop.customers[raw_shop.customers.customer_id.isin([ERASED, KEPT])]
    report = shop.ingest("customers", rows, source_name="old-export.csv")
    assert report.quarantine_reasons == {"erased": 1}
    q = shop.store.table("quarantine")
    mine = q.filter(q.source == "old-export.csv").to_pyarrow().to_pylist()
    assert [r["raw"] for r in mine] == [ERASED_RAW] and mine[0]["reasons"] == "erased"
    orders = raw_shop.orders[raw_shop.orders.customer_id == ERASED]
    assert shop.ingest("orders", orders, source_name="old-orders.csv").rows_accepted == 0
    info = shop.readmit([ERASED])
    assert info["readmitted"] == 1
    assert shop.ingest("customers", rows, source_name="again.csv").rows_new == 1
    assert [e["action"] for e in shop.erasure_ledger()][:2] == ["readmit", "forget"]


def test_erasure_covers_a_table_added_later_by_convention(shop):
    import ibis
    import pyarrow as pa

    shop.store.con.create_table("campaign_assignments", ibis.memtable(pa.table(
        {"campaign": ["spring", "spring"], "customer_id": [ERASED, KEPT]})))
    receipt = shop.forget([ERASED])
    assert receipt.tables["campaign_assignments"] == 1
    assert shop.store.table("campaign_assignments").customer_id.to_pyarrow().to_pylist() == [KEPT]


def test_the_report_that_named_them_is_regenerated(shop, shop_path):
    report = shop_path / "reports" / "value.html"
    html = report.read_text(encoding="utf-8")
    html += f"<!-- {ERASED} -->"  # make the report name them (the generated one may not list ids)
    report.write_text(html, encoding="utf-8")
    receipt = shop.forget([ERASED])
    assert receipt.files["reports/value.html"] == "regenerated"
    assert ERASED not in report.read_text(encoding="utf-8")


def test_a_file_of_the_user_is_listed_not_touched(shop, shop_path):
    mine = shop_path / "crm-notes.txt"
    mine.write_text(f"call {ERASED} back\n")
    receipt = shop.forget([ERASED])
    assert receipt.still_named_in == ["crm-notes.txt"] and mine.exists()


def test_bad_ids_are_refused(shop):
    from segmint.errors import ConfigError

    with pytest.raises(ConfigError, match="no customer id"):
        shop.forget(["  "])
    with pytest.raises(ConfigError, match="not a customer id"):
        shop.forget(["x" * 300])
