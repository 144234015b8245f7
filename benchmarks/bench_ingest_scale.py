"""Ingest at scale (issue 16): peak memory of a 21M-row orders load and a 60M-row events file, and one day of
new and corrected orders into the loaded 21M-row table.

    python benchmarks/bench_ingest_scale.py --customers 1000000

The shop is bench_e2e.py's (Parquet, cached in benchmarks/.cache; about 21 orders and 64 events per
customer). From it, once (cached): ``base.parquet``, every order before the shop's last day; ``day.parquet``,
that day's orders (new keys) plus 1,000 orders of earlier days with a changed amount (corrections);
``events.csv``, the events as CSV (several GB). Each ingest runs in a fresh process (``peak_rss_of``), every
check on, with the default ``engine.memory_limit`` (1 GB); the bound the issue sets is that limit + 500 MB.
The day's file is also read by DuckDB alone (``CREATE TABLE AS SELECT * FROM read_parquet``) for the
"2 s plus the time to read that file" goal. The page goes to benchmarks/results/ingest-scale.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_e2e import shop  # noqa: E402
from bench_ingest import BARE  # noqa: E402 - DuckDB's bare read of a file (path, csv|parquet)
from common import CACHE, machine, peak_rss_of, write_result  # noqa: E402

#: ``engine.memory_limit``'s default, and the bound on peak memory the issue sets above it.
MEMORY_LIMIT_MB = 1024
BOUND_MB = MEMORY_LIMIT_MB + 500
CORRECTIONS = 1_000

INGEST = """
import json, os, sys, time
os.environ.setdefault("SEGMINT_SECRET", "benchmark-secret-key-0123456789")
from segmint.workspace import Workspace
path, table, ws_dir = sys.argv[1], sys.argv[2], sys.argv[3]
ws = Workspace.open(ws_dir) if os.path.exists(ws_dir) else Workspace.init(ws_dir)
t0 = time.perf_counter()
r = ws.ingest(table, path)
print(json.dumps({"seconds": time.perf_counter() - t0, "read": r.rows_read, "accepted": r.rows_accepted,
                  "new": r.rows_new, "updated": r.rows_updated, "unchanged": r.rows_already_present,
                  "quarantined": r.rows_quarantined}))
"""

def files(n: int, seed: int) -> dict[str, Path]:
    """base.parquet, day.parquet and events.csv of the shop (made once)."""
    import duckdb

    src = shop(n, seed)
    out = CACHE / f"ingest-scale-{n}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    paths = {"customers": src / "customers.parquet", "base": out / "base.parquet", "day": out / "day.parquet",
             "events": out / "events.csv"}
    con = duckdb.connect()
    con.execute("SET memory_limit = '4GB'")
    orders = str(src / "orders.parquet")
    last = con.execute("SELECT max(ordered_at)::DATE FROM read_parquet(?)", [orders]).fetchone()[0]
    if not paths["base"].exists():
        con.execute(f"COPY (SELECT * FROM read_parquet('{orders}') WHERE ordered_at < DATE '{last}') "
                    f"TO '{paths['base']}' (FORMAT parquet)")
    if not paths["day"].exists():
        con.execute(f"""COPY (SELECT * FROM read_parquet('{orders}') WHERE ordered_at >= DATE '{last}'
                    UNION ALL
                    (SELECT * REPLACE (round(amount * 1.1 + 1, 2) AS amount) FROM read_parquet('{orders}')
                     WHERE ordered_at < DATE '{last}' AND hash(order_id) % 997 = 0 LIMIT {CORRECTIONS}))
                    TO '{paths['day']}' (FORMAT parquet)""")
    if not paths["events"].exists():
        con.execute(f"COPY (SELECT * FROM read_parquet('{src / 'events.parquet'}')) TO '{paths['events']}' "
                    "(FORMAT csv, HEADER)")
    return paths


def run(code: str, *args: str) -> dict:
    out = peak_rss_of(code, *args)
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="", help="a paragraph for the page (e.g. how busy the machine was)")
    ap.add_argument("--skip-events", action="store_true", help="leave out the events file")
    args = ap.parse_args()
    paths = files(args.customers, args.seed)
    ws = Path(tempfile.mkdtemp(prefix="ingest-scale-")) / "ws"
    res = {"customers": run(INGEST, str(paths["customers"]), "customers", str(ws)),
           "base": run(INGEST, str(paths["base"]), "orders", str(ws)),
           "day_bare": run(BARE, str(paths["day"]), "parquet"),
           "day": run(INGEST, str(paths["day"]), "orders", str(ws)),
           "day_again": run(INGEST, str(paths["day"]), "orders", str(ws))}
    if not args.skip_events:
        res["events"] = run(INGEST, str(paths["events"]), "events", str(ws))
    sizes = {k: p.stat().st_size / 1e6 for k, p in paths.items()}
    (CACHE / f"ingest-scale-{args.customers}.json").write_text(json.dumps({"res": res, "sizes": sizes}))
    print(write_result("ingest-scale", page(args, res, sizes)))


def page(args, res: dict, sizes: dict) -> str:
    def row(label, key, file):
        r = res[key]
        ok = "yes" if r["peak_rss_mb"] <= BOUND_MB else "**no**"
        return (f"| {label} | {sizes[file]:,.0f} | {r['read']:,} | {r['quarantined']:,} | {r['seconds']:.1f} | "
                f"{r['peak_rss_mb']:,.0f} | {ok} |")

    lines = [
        "# Ingest at scale: memory bound and a day into a loaded table",
        "",
        f"Command: `python benchmarks/bench_ingest_scale.py --customers {args.customers}`  ",
        f"Machine: {machine()}  ",
        "Each ingest is a fresh process with every check on and the default `engine.memory_limit` (1 GB); the "
        f"issue's bound on peak memory is that limit + 500 MB = {BOUND_MB:,} MB. One run each.",
        "",
    ]
    if args.note:
        lines += [args.note, ""]
    lines += [
        "| load | file MB | rows read | quarantined | seconds | peak RSS MB | within the bound |",
        "|---|---:|---:|---:|---:|---:|---|",
        row("customers (Parquet)", "customers", "customers"),
        row("orders before the last day (Parquet)", "base", "base"),
    ]
    if "events" in res:
        lines.append(row("events (CSV)", "events", "events"))
    d, again, bare = res["day"], res["day_again"], res["day_bare"]
    lines += [
        "",
        f"One day into the loaded {res['base']['accepted']:,}-row orders table: the day's file holds "
        f"{d['read']:,} rows ({d['new']:,} new orders of the last day and {d['updated']:,} "
        "corrections of earlier orders).",
        "",
        "| step | seconds | new | updated | unchanged | quarantined | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| DuckDB alone reads the day's file into a table | {bare['seconds']:.2f} | | | | | "
        f"{bare['peak_rss_mb']:,.0f} |",
        f"| `segmint ingest orders day.parquet` | {d['seconds']:.2f} | {d['new']:,} | {d['updated']:,} | "
        f"{d['unchanged']:,} | {d['quarantined']:,} | {d['peak_rss_mb']:,.0f} |",
        f"| the same file again | {again['seconds']:.2f} | {again['new']:,} | {again['updated']:,} | "
        f"{again['unchanged']:,} | {again['quarantined']:,} | {again['peak_rss_mb']:,.0f} |",
        "",
        f"Goal: at most 2 s plus the time to read the file ({2 + bare['seconds']:.2f} s here): "
        f"{'met' if d['seconds'] <= 2 + bare['seconds'] else '**not met**'} ({d['seconds']:.2f} s).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
