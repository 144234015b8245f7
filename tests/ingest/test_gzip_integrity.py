"""A damaged or truncated gzip file is an error naming the file and the problem; nothing is written (issue 15)."""

from __future__ import annotations

import gzip
import re

import pytest

from segmint.errors import DataError
from segmint.ingest.compressed import check_compressed

HEADER = "order_id,customer_id,ordered_at,amount\n"
BODY = "".join(f'O{i},"C{i % 50}",2024-01-{1 + i % 28:02d},{i % 97}.5\n' for i in range(5000))
RAW = gzip.compress((HEADER + BODY).encode())


def _written(ws) -> dict[str, int]:
    return {t: ws.store.count(t) for t in ("orders", "quarantine", "customers")}


DAMAGED = {
    "cut by 10%": (RAW[: int(len(RAW) * 0.9)], "truncated"),
    "no CRC and length trailer": (RAW[:-8], "truncated"),
    "no length trailer": (RAW[:-4], "truncated"),
    "header only": (RAW[:10], "truncated"),
    "wrong CRC": (RAW[:-8] + bytes(4) + RAW[-4:], "CRC-32 does not match"),
    "wrong length": (RAW[:-4] + bytes(4), "length trailer does not match"),
    "flipped byte": (RAW[:200] + bytes([RAW[200] ^ 0x55]) + RAW[201:], "damaged"),
    "garbage after the end": (RAW + b"not gzip", "unexpected data after the end"),
    "zero padding after the end": (RAW + bytes(64), "unexpected data after the end"),
    "named .gz, not gzip": ((HEADER + BODY).encode(), "not gzip"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_damaged_gzip_is_an_error_and_nothing_is_written(ws, tmp_path, case):
    data, problem = DAMAGED[case]
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(data)
    before = _written(ws)
    with pytest.raises(DataError) as err:
        ws.ingest("orders", path)
    assert str(path) in str(err.value) and problem in str(err.value)
    assert _written(ws) == before
    staged = [t for t in ws.store.con.list_tables() if re.fullmatch(r"_segmint_(csv|jsonl)_\d+", t)]
    assert staged == []  # what was staged while the check ran is dropped


def test_whole_gzip_files_are_accepted_multi_member_too(ws, tmp_path):
    path = tmp_path / "orders.csv.gz"
    half = len(BODY) // 2
    cut = BODY.index("\n", half) + 1
    path.write_bytes(gzip.compress((HEADER + BODY[:cut]).encode()) + gzip.compress(BODY[cut:].encode()))
    check_compressed(path)
    report = ws.ingest("orders", path)
    assert report.rows_read == 5000 and report.rows_quarantined == 0


def test_gzip_content_under_another_name_is_checked_too(tmp_path):
    path = tmp_path / "orders.csv"  # gzip bytes, whatever the name says
    path.write_bytes(RAW[:-8])
    with pytest.raises(DataError, match="truncated"):
        check_compressed(path)
    plain = tmp_path / "plain.csv"
    plain.write_text(HEADER)
    assert check_compressed(plain) is None


def test_truncated_online_retail_gzip_fails_the_cli(shared_data, tmp_path, capsys):
    """The red-team case: 10% cut off the real file gave rc 0 and 17,993 rows quarantined."""
    from segmint.cli import main
    from segmint.workspace import Workspace

    raw = (shared_data / "online_retail.csv.gz").read_bytes()
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(raw[: int(len(raw) * 0.9)])
    Workspace.init(tmp_path / "shop").close()
    with pytest.raises(SystemExit) as exc:
        main(["ingest", "orders", str(path), "--preset", "online-retail", "-w", str(tmp_path / "shop")])
    assert exc.value.code not in (0, None)
    err = capsys.readouterr().err
    assert "cut.csv.gz" in err and "truncated" in err
    with Workspace.open(tmp_path / "shop") as ws:
        assert _written(ws) == {"orders": 0, "quarantine": 0, "customers": 0}
