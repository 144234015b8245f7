"""Tests for segmint.ingest.pii: detection, normalisation, keys, pseudonyms and the policy."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import stat
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pytest

from segmint.errors import ConfigError
from segmint.ingest import pii
from segmint.ingest.pii import (
    Pseudonymiser,
    apply_pii_policy,
    detect_pii_columns,
    load_or_create_key,
    normalise_email,
    normalise_name,
    normalise_phone,
)

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("E-mail", "email"),
        ("EMAIL_ADDRESS", "email"),
        ("mail", "email"),
        ("emailAddress", "email"),
        ("customer_email", "email"),
        ("phone", "phone"),
        ("Mobile", "phone"),
        ("telephone", "phone"),
        ("tel", "phone"),
        ("Phone Number", "phone"),
        ("home_phone", "phone"),
        ("name", "name"),
        ("First Name", "name"),
        ("last_name", "name"),
        ("full-name", "name"),
        ("surname", "name"),
        ("given_name", "name"),
        ("customer_name", "name"),
        ("contactName", "name"),
        ("address", "address"),
        ("street", "address"),
        ("address_line1", "address"),
        ("Address Line 2", "address"),
        ("postcode", "address"),
        ("ZIP", "address"),
        ("billing_address", "address"),
        ("ip_address", "ip"),
        ("IP", "ip"),
        ("date_of_birth", "dob"),
        ("DOB", "dob"),
        ("birth_date", "dob"),
    ],
)
def test_detects_common_names(column, kind):
    assert detect_pii_columns([column]) == {column: kind}


@pytest.mark.parametrize(
    "column",
    [
        "customer_id",
        "amount",
        "email_opt_in",
        "product_name",
        "city",
        "ordered_at",
        "mail_opened",
        "customer",
        "telemetry",
    ],
)
def test_does_not_detect_other_columns(column):
    assert detect_pii_columns([column]) == {}


def test_detect_extra_names_and_bad_kind():
    assert detect_pii_columns(["Kundennummer", "x"], extra={"kundennummer": "text"}) == {
        "Kundennummer": "text"
    }
    with pytest.raises(ConfigError, match="did you mean 'email'"):
        detect_pii_columns(["x"], extra={"x": "emial"})


def test_normalise_email_arrow_and_pandas():
    values = [" Ann@Example.COM ", "ann@example.com", "", "   ", None]
    assert normalise_email(pa.array(values)).to_pylist() == ["ann@example.com"] * 2 + [None] * 3
    series = pd.Series(values, index=[10, 11, 12, 13, 14], name="email")
    out = normalise_email(series)
    assert isinstance(out, pd.Series) and list(out.index) == [10, 11, 12, 13, 14] and out.name == "email"
    assert out.iloc[0] == "ann@example.com" and out.isna().sum() == 3
    # gmail dots are only stripped on request
    assert normalise_email(["a.b@gmail.com"]).to_pylist() == ["a.b@gmail.com"]
    assert normalise_email(["a.b+x@gmail.com", "a.b+x@other.com"], canonical_gmail=True).to_pylist() == [
        "ab@gmail.com",
        "a.b+x@other.com",
    ]


def test_normalise_phone_variants_meet():
    same = [
        "+44 20 7946 0958",
        "020 7946 0958",
        "0044 20 79460958",
        "+44 (0) 20-7946-0958",
        "02079460958 x 5",
    ]
    assert set(normalise_phone(same).to_pylist()) == {"+442079460958"}
    assert normalise_phone(["7946 0958 11"]).to_pylist() == ["+44794609581" + "1"]
    assert normalise_phone(["020 7946 0958"], default_country_code=None).to_pylist() == ["02079460958"]
    assert normalise_phone(pa.array([442079460958, None])).to_pylist() == ["+442079460958", None]
    with pytest.raises(ConfigError, match="digits"):
        normalise_phone(["1"], default_country_code="UK")


def test_normalise_name_unicode():
    composed, decomposed = "Jos\u00e9", "Jose\u0301"
    out = normalise_name(pa.chunked_array([[composed, "  ANN\t  lee "], [decomposed, None]])).to_pylist()
    assert out == ["jos\u00e9", "ann lee", "jos\u00e9", None]


def test_pseudonyms_match_across_formats_and_keep_nulls():
    p = Pseudonymiser(KEY)
    a = p.pseudonymise(pa.array(["Ann@Example.com", None, "bob@x.org"]), "email").to_pylist()
    b = p.pseudonymise(pd.Series(["ann@example.com ", "BOB@X.ORG", float("nan")]), "email").to_pylist()
    assert a[0] == b[0] and a[2] == b[1] and a[1] is None and b[2] is None
    assert a[0].startswith("em_") and len(a[0]) == 3 + 32 and a[0] != a[2]
    phones = p.pseudonymise(["+44 20 7946 0958", "020 7946 0958", "0044 20 79460958"], "phone").to_pylist()
    assert len(set(phones)) == 1 and phones[0].startswith("ph_")


@pytest.mark.parametrize("key", [KEY, b"x" * 16, b"long" * 40])
def test_pseudonym_is_truncated_hmac_sha256(key):
    expected = hmac.new(key, b"email\0ann@example.com", hashlib.sha256).hexdigest()[:32]
    assert Pseudonymiser(key).pseudonymise([" ANN@example.com"], "email").to_pylist() == ["em_" + expected]


def test_pseudonyms_depend_on_key_and_kind():
    a = Pseudonymiser(KEY).pseudonymise(["ann"], "name")[0]
    assert Pseudonymiser(b"x" * 32).pseudonymise(["ann"], "name")[0] != a
    assert Pseudonymiser(KEY).pseudonymise(["ann"], "text")[0].as_py()[3:] != a.as_py()[3:]


def test_pseudonymise_chunked_and_empty():
    p = Pseudonymiser(KEY)
    out = p.pseudonymise(pa.chunked_array([["a@b.c", "x@y.z"], ["A@B.C"]]), "email")
    assert isinstance(out, pa.ChunkedArray) and out[0] == out[2]
    assert p.pseudonymise(pa.array([], pa.string()), "email").to_pylist() == []
    assert p.pseudonymise(pa.array([None, None], pa.null()), "email").to_pylist() == [None, None]


def test_pseudonymiser_hides_key():
    p = Pseudonymiser(KEY)
    assert KEY.hex() not in repr(p) and "hidden" in repr(p) and KEY.hex() not in str(p)
    with pytest.raises(TypeError):
        pickle.dumps(p)
    with pytest.raises(ConfigError):
        Pseudonymiser(b"short")
    with pytest.raises(ConfigError, match="did you mean 'phone'"):
        p.pseudonymise(["x"], "phon")


def test_key_file_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMINT_SECRET", raising=False)
    key = load_or_create_key(tmp_path)
    path = tmp_path / ".segmint" / "secret.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path) == key


def test_concurrent_first_use_agrees_on_one_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMINT_SECRET", raising=False)
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_key(tmp_path), range(16)))
    assert len(keys) == 1
    assert [p.name for p in (tmp_path / ".segmint").iterdir()] == ["secret.key"]  # no temporary files left


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_key_file_open_to_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMINT_SECRET", raising=False)
    key = load_or_create_key(tmp_path)
    path = tmp_path / ".segmint" / "secret.key"
    path.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        load_or_create_key(tmp_path)
    assert str(path) in str(err.value) and f"chmod 600 {path}" in str(err.value)
    assert key.hex() not in str(err.value)


def test_key_file_corrupt(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMINT_SECRET", raising=False)
    path = tmp_path / ".segmint" / "secret.key"
    path.parent.mkdir()
    path.write_text("not hex")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="does not hold a hex key"):
        load_or_create_key(tmp_path)


def test_key_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMINT_SECRET", KEY.hex())
    assert load_or_create_key(tmp_path) == KEY
    assert not (tmp_path / ".segmint").exists()
    monkeypatch.setenv("SEGMINT_SECRET", "a long passphrase, not hex")
    assert load_or_create_key(tmp_path) == b"a long passphrase, not hex"
    monkeypatch.setenv("SEGMINT_SECRET", "tooshort")
    with pytest.raises(ConfigError, match="too short") as err:
        load_or_create_key(tmp_path)
    assert "tooshort" not in str(err.value)


def test_policy_default_hashes_everything_detected():
    t = pa.table(
        {
            "customer_id": [1, 2, 3],
            "Email": ["a@x.com", "A@X.com", None],
            "First Name": ["Ann", "ann ", "Bo"],
            "dob": pa.array([0, 1, None], pa.date32()),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    out, report = apply_pii_policy(t, None, KEY)
    assert out.column_names == t.column_names
    assert report == {
        "hashed": {"Email": "email", "First Name": "name", "dob": "dob"},
        "dropped": [],
        "kept": [],
    }
    assert out["Email"][0] == out["Email"][1] and out["Email"][2].as_py() is None
    assert out["First Name"][0] == out["First Name"][1]
    assert out.schema.field("Email").metadata == {b"segmint.pii": b"email"}
    assert out["amount"].equals(t["amount"]) and out["customer_id"].equals(t["customer_id"])
    raw = {v for col in ("Email", "First Name") for v in t[col].to_pylist()} - {None}
    assert not raw & {v for col in ("Email", "First Name") for v in out[col].to_pylist()}


def test_policy_drop_keep_and_extra_hash():
    t = pa.table({"email": ["a@x.com"], "phone": ["0207"], "name": ["Ann"], "crm_ref": ["R1"]})
    out, report = apply_pii_policy(
        t, {"phone": "drop", "name": " KEEP", "crm_ref": "hash"}, Pseudonymiser(KEY)
    )
    assert out.column_names == ["email", "name", "crm_ref"]
    assert report == {"hashed": {"email": "email", "crm_ref": "text"}, "dropped": ["phone"], "kept": ["name"]}
    assert out["name"].to_pylist() == ["Ann"] and out["crm_ref"][0].as_py().startswith("tx_")


def test_policy_errors():
    t = pa.table({"email": ["a@x.com"]})
    with pytest.raises(ConfigError, match="did you mean 'email'"):
        apply_pii_policy(t, {"emial": "drop"}, KEY)
    with pytest.raises(ConfigError, match="hash, drop, keep"):
        apply_pii_policy(t, {"email": "encrypt"}, KEY)


def test_detected_override():
    t = pa.table({"contact": ["a@x.com"], "email": ["b@x.com"]})
    out, report = apply_pii_policy(t, {}, KEY, detected={"contact": "email"})
    assert report["hashed"] == {"contact": "email"} and out["email"].to_pylist() == ["b@x.com"]


def test_prefixes_cover_all_normalisers():
    assert set(pii.PREFIXES) == set(pii._NORMALISERS)
