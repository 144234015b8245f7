"""The API's export follows the CLI's rules: consent (segmint.activate.consent) and safe CSV cells."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import DATES, bearer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")
EVIL = "=HYPERLINK(\"http://evil.example\",\"x\")"


@pytest.fixture
def evil_vip(shop):
    """A consented VIP whose id is a spreadsheet formula (ids come from source files)."""
    con = shop.store.con.con
    cid = con.execute(
        "SELECT m.customer_id FROM memberships m JOIN customers c USING (customer_id) WHERE m.segment = 'VIP' "
        "AND m.as_of = TIMESTAMP '" + DATES[1] + "' AND c.marketing_consent ORDER BY 1 LIMIT 1").fetchone()[0]
    for table in ("memberships", "customers"):
        con.execute(f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?", [EVIL, cid])
    return EVIL


def _export(client, token, **params):
    r = client.get("/api/v1/segmentations/value/segments/VIP/export", params={"format": "csv", **params},
                   headers=bearer(token))
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_api_csv_export_neutralises_formulas_unless_raw(evil_vip, client, tokens):
    ids = {row["customer_id"] for row in _export(client, tokens["analyst"])}
    assert "'" + EVIL in ids and EVIL not in ids
    raw = {row["customer_id"] for row in _export(client, tokens["analyst"], raw_csv="true")}
    assert EVIL in raw
    audit = client.get("/api/v1/audit", params={"action": "export"}, headers=bearer(tokens["admin"])).json()
    assert [e["details"]["raw_csv"] for e in audit[:2]] == [True, False]


def test_api_export_consent_matches_the_cli_rule(shop, client, tokens):
    from segmint.activate.consent import apply_consent

    expected = set(apply_consent(shop.store, shop.members("value", "VIP", DATES[1])).to_pyarrow()["customer_id"]
                   .to_pylist())
    got = {row["customer_id"] for row in _export(client, tokens["analyst"], as_of=DATES[1])}
    assert got == expected and got
    everyone = {row["customer_id"] for row in _export(client, tokens["admin"], as_of=DATES[1],
                                                      include_non_consented="true")}
    assert everyone > got
