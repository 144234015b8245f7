"""The commands a user runs, on a Spark workspace and on a DuckDB one: the same answers (issue 22).

One generated shop through both engines with the command line as users run it: ``ingest``,
``features``, ``segment`` at one date, ``refresh`` at a later one, then ``status``, ``history``,
``diff`` (between dates and between versions), ``why``, ``members -o`` (CSV and Parquet), ``journeys``
and ``funnel``, compared as their ``--json`` objects or files. ``serve`` refuses a Spark workspace with the
reason and what to use instead. Spark runs on ``local[2]`` (the session the parity suite uses).
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.spark import parity

pytestmark = [pytest.mark.spark, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
              pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
              pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket"
                                         ":pytest.PytestUnraisableExceptionWarning")]

FIRST, LATER = "2025-06-01", "2025-06-15"


def _session(segmint_cli, root: Path, shop: Path, backend: str) -> dict:
    """Everything a user sees of one shop on ``backend``, as JSON objects and exported files."""
    segmint_cli("init", str(root))
    if backend == "spark":
        cfg = root / "segmint.yaml"
        cfg.write_text(cfg.read_text() + "engine:\n  backend: spark\n  spark:\n    master: local[2]\n")
    (root / "segments" / "parity.yaml").write_text(parity.SEGMENTS)
    w = ["-w", str(root)]

    def ok(*args: str) -> str:
        code, out, err = segmint_cli(*args, *w)
        assert code == 0, f"segmint {' '.join(args)} on {backend}: exit {code}\n{err}"
        return out

    for table in ("customers", "orders", "events"):
        ok("ingest", table, str(shop / f"{table}.csv"))
    ok("features", "--as-of", FIRST)
    for name in ("rfm", "value"):
        ok("segment", name, "--as-of", FIRST)
    ok("refresh", "--as-of", LATER)  # the next snapshot and every segmentation again, on the running state
    seen = {"status": {t["table"]: t["rows"] for t in json.loads(ok("status", "--json"))["tables"]}}
    for name in ("rfm", "value"):
        seen[f"history {name}"] = json.loads(ok("history", name, "--json"))
        seen[f"diff {name}"] = json.loads(ok("diff", name, "--from", FIRST, "--to", LATER, "--json"))
        seen[f"why {name}"] = json.loads(ok("why", name, "C0000003", "--as-of", FIRST, "--json"))
        ok("members", name, "--as-of", LATER, "-o", str(root / f"{name}.csv"))
        seen[f"members {name}"] = (root / f"{name}.csv").read_text(encoding="utf-8")
    # journeys: on DuckDB the paths come from one sorted scan, on Spark from window functions (issue 23)
    seen["journeys from"] = json.loads(ok("journeys", "rfm", "--from", "web_visit", "--json"))
    seen["journeys to"] = json.loads(ok("journeys", "rfm", "--to", "order", "--length", "3", "--json"))
    seen["funnel"] = json.loads(ok("funnel", "--steps", "web_visit,email_click,order", "--by", "rfm", "--json"))
    seen["diff versions"] = json.loads(ok("diff", "value", "--from-version", "1", "--to-version", "1", "--json"))
    ok("members", "value", "Big", "-o", str(root / "big.parquet"))
    seen["members Big"] = pd.read_parquet(root / "big.parquet").to_dict("records")
    for ext in ("csv", "parquet"):  # one file each (Spark's own writer made a folder), the same column types
        ok("features", "--as-of", LATER, "--export", str(root / f"snapshot.{ext}"))
    snap = pd.read_parquet(root / "snapshot.parquet")
    seen["features --export"] = {"files": [(root / f"snapshot.{e}").is_file() for e in ("csv", "parquet")],
                                 "types": {c: str(t) for c, t in snap.dtypes.items()},
                                 "rows": snap.to_dict("records"),
                                 "csv header": (root / "snapshot.csv").read_text(encoding="utf-8").splitlines()[0]}
    return seen


def test_the_commands_agree_on_both_engines(pyspark, segmint_cli, tmp_path):
    code, _, err = segmint_cli("generate", str(tmp_path / "shop"), "--customers", "40")
    assert code == 0, err
    duck = _session(segmint_cli, tmp_path / "duckdb", tmp_path / "shop", "duckdb")
    spark = _session(segmint_cli, tmp_path / "spark", tmp_path / "shop", "spark")
    assert duck["history rfm"] and duck["members Big"]
    assert sum(p["sessions"] for p in duck["journeys from"]["paths"].values()) > 0
    for what in duck:
        assert parity._close(duck[what], spark[what]), f"{what}: {duck[what]!r} on DuckDB, {spark[what]!r} on Spark"


def test_serve_refuses_a_spark_workspace_and_says_what_to_use(pyspark, segmint_cli, tmp_path):
    segmint_cli("init", str(tmp_path / "ws"))
    cfg = tmp_path / "ws" / "segmint.yaml"
    cfg.write_text(cfg.read_text() + "engine:\n  backend: spark\n  spark:\n    master: local[2]\n")
    code, out, err = segmint_cli("serve", "-w", str(tmp_path / "ws"), "--no-serve")
    assert code == 1 and "Dashboard" not in out
    assert "needs the DuckDB backend" in err and "segmint members NAME -o FILE" in err


def test_written_files_have_the_declared_types(pyspark, tmp_path):
    # Ibis writes an int64 literal as a bare 1 (Spark: INT) and drops casts it takes for no-ops; a BIGINT table
    # that got INT files beside its BIGINT ones could no longer be read (a second segment run failed so)
    from segmint.store.spark import SparkStore

    store = SparkStore(tmp_path / "state", "local[2]", (tmp_path / "wh").as_uri())
    try:
        con = store.con
        con.create_table("runs_t", schema=ibis.schema({"name": "string", "version": "int64", "seq": "int64"}))
        rows = ibis.memtable({"name": ["a", "b"]}).mutate(version=ibis.literal(1).cast("int64"))
        con.insert("runs_t", rows.mutate(seq=(ibis.row_number() + 1).cast("int64")))
        con.insert("runs_t", rows.mutate(seq=ibis.literal(7, type="int64")))
        assert con.table("runs_t").count().execute() == 4
    finally:
        store.close()
    types = {(str(pq.read_schema(f).field("version").type), str(pq.read_schema(f).field("seq").type))
             for f in glob.glob(str(tmp_path / "wh" / "runs_t" / "*.parquet"))}
    assert types == {("int64", "int64")}
