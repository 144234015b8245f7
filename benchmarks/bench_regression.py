"""Is this checkout slower than an earlier commit? `segmint run` of both, alternating, on the same shop.

    python benchmarks/bench_regression.py --base 5dfc96b                 # 200k shop, 3 runs a side
    python benchmarks/bench_regression.py --base main~5 --customers 1000000 --runs 2

A refactoring must keep the figures of BENCHMARKS.md; comparing against those pages means comparing against
another day's machine. This measures both sides in the same run instead: the code of ``--base`` is checked out
into a temporary git worktree and run with the same Python environment (``PYTHONPATH`` puts its ``src`` first),
the current checkout's code likewise, each in a fresh process on a fresh copy of the ingested workspace that
bench_e2e.py caches (``benchmarks/.cache/ws-N-seed0``; built on first use), alternating base and current so
that a busy spell of the machine hits both. Wall time, CPU time, peak RSS and the stage times of
``segmint run --json``; medians; the chosen k and the sizes of every segmentation must be equal on both sides
(a refactoring that changes results is not a like-for-like comparison). Writes
benchmarks/results/regression.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_e2e import AS_OF, SEGMENTS, workspace  # noqa: E402

SEGMINT = Path(sys.executable).with_name("segmint")
MEASURE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
with open(sys.argv[1], "w") as out:
    rc = subprocess.run(sys.argv[2:], stdout=out).returncode
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def run_once(src: Path, ws: Path, scratch: Path, out: Path) -> dict:
    """One ``segmint run`` of the code in ``src`` on a fresh copy of ``ws``."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(ws, scratch)
    (scratch / "segments").mkdir(exist_ok=True)
    shutil.copy(SEGMENTS, scratch / "segments" / SEGMENTS.name)
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(out), str(SEGMINT), "run", "-w", str(scratch),
                           "--as-of", AS_OF, "--json"], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    if m["rc"] != 0:
        raise RuntimeError(f"segmint run ({src}) failed:\n{proc.stderr[-4000:]}")
    doc = json.loads(out.read_text())
    m["stages"] = {s["stage"]: s["seconds"] for s in doc["stages"]}
    m["results"] = {name: {"k": r.get("k"), "sizes": r.get("sizes")} for name, r in doc["segmentations"].items()}
    return m


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the commit to compare with (any git revision)")
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3, help="runs per side")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "regression.md")
    args = ap.parse_args()

    base_rev = subprocess.run(["git", "rev-parse", "--short", args.base], capture_output=True, text=True,
                              check=True, cwd=ROOT).stdout.strip()
    head_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=ROOT).stdout.strip()
    ws, _ = workspace(args.customers, 0)
    with tempfile.TemporaryDirectory(prefix="segmint-regression-") as tmp:
        tmp = Path(tmp)
        base_tree = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(base_tree), base_rev], check=True,
                       cwd=ROOT)
        try:
            sides = {"base": base_tree / "src", "current": ROOT / "src"}
            runs: dict[str, list[dict]] = {side: [] for side in sides}
            for i in range(args.runs):
                for side, src in sides.items():
                    m = run_once(src, ws, tmp / f"ws-{side}", tmp / f"{side}-{i}.json")
                    runs[side].append(m)
                    print(f"{side} run {i + 1}: {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, "
                          f"{m['peak_rss_mb']:.0f} MB", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    same = runs["base"][0]["results"] == runs["current"][0]["results"]
    write_page(args, base_rev, head_rev, runs, same)
    print(f"wrote {args.out}")


def write_page(args, base_rev: str, head_rev: str, runs: dict[str, list[dict]], same: bool) -> None:
    import platform

    lines = [
        "# Regression check: `segmint run` against an earlier commit",
        "",
        f"Command: `python benchmarks/bench_regression.py --base {args.base} --customers {args.customers} "
        f"--runs {args.runs}`.  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}. Base `{base_rev}`, current `{head_rev}` (working tree), the same Python "
        "environment, alternating runs in fresh processes on fresh copies of the ingested "
        f"{args.customers:,}-customer shop (bench_e2e.py's cache), as of {AS_OF}.",
        "",
        "| side | runs | wall s | CPU s | peak RSS MB | " + " | ".join(runs["base"][0]["stages"]) + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(runs["base"][0]["stages"]),
    ]
    for side, rs in runs.items():
        stages = [statistics.median(r["stages"].get(s, float("nan")) for r in rs) for s in runs["base"][0]["stages"]]
        lines.append(f"| {side} | {len(rs)} | {median(rs, 'wall_s'):.1f} | {median(rs, 'cpu_s'):.1f} | "
                     f"{max(r['peak_rss_mb'] for r in rs):,.0f} | " + " | ".join(f"{s:.1f}" for s in stages) + " |")
    ratio = median(runs["current"], "wall_s") / median(runs["base"], "wall_s")
    cpu_ratio = median(runs["current"], "cpu_s") / median(runs["base"], "cpu_s")
    lines += [
        "",
        f"Current / base: wall {ratio:.2f}, CPU {cpu_ratio:.2f} (medians; peak RSS is the largest of the runs). "
        f"Same k and segment sizes on both sides: {'yes' if same else 'NO: the results differ'}.",
    ]
    if not same:
        lines += ["", "```json", json.dumps({s: rs[0]["results"] for s, rs in runs.items()}, indent=1), "```"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
