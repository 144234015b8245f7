"""Wide files: up to 1,000 attribute columns load; more are refused with the limit named, never a crash
(issue 15: 1,000 columns gave RecursionError, 3,000 or 10,000 ran out of memory)."""

from __future__ import annotations

import csv

import pytest

from segmint.errors import DataError
from segmint.ingest.stage import MAX_ATTRIBUTE_COLUMNS, MAX_CSV_COLUMNS
from segmint.workspace import Workspace


def _wide(path, n_attributes, rows=4):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", *(f"attr_{i}" for i in range(n_attributes))])
        for r in range(rows):
            w.writerow([f"C{r}", *(str((r * i) % 7) for i in range(n_attributes))])
    return path


@pytest.fixture
def ws(tmp_path):
    w = Workspace.init(tmp_path / "shop")
    yield w
    w.close()


@pytest.mark.parametrize("n", [MAX_ATTRIBUTE_COLUMNS + 1, MAX_CSV_COLUMNS + 1, 10_000])
def test_a_source_past_the_limits_is_refused_naming_the_limit_and_nothing_is_written(ws, tmp_path, n):
    path = _wide(tmp_path / f"wide{n}.csv", n)
    limit = f"{MAX_ATTRIBUTE_COLUMNS:,}" if n <= MAX_CSV_COLUMNS else f"{MAX_CSV_COLUMNS:,}"
    with pytest.raises(DataError, match=f"at most {limit}") as err:
        ws.ingest("customers", path)
    assert "Nothing was written" in str(err.value) and "attr_1" not in str(err.value)  # no header echoed
    assert ws.store.count("customers") == 0 and ws.store.count("quarantine") == 0


@pytest.mark.slow
def test_a_thousand_attribute_columns_load(ws, tmp_path):
    report = ws.ingest("customers", _wide(tmp_path / "wide.csv", MAX_ATTRIBUTE_COLUMNS))
    assert report.rows_accepted == 4 and len(report.attribute_columns) == MAX_ATTRIBUTE_COLUMNS
    stored = ws.store.table("customers").order_by("customer_id").to_pyarrow()
    assert stored.num_rows == 4 and "attr_999" in stored.column_names
