"""Snapshot import and index speed: store only, with indexing, and `index rebuild`.

For each backend and run, fresh subprocesses (the code path of `paperwire import` and
`paperwire index rebuild`) measure, into empty databases:

  store only   import with index_on_ingest=False (then a re-import: every record unchanged)
  rebuild      `index rebuild` of that store (what a new host's catch-up does)
  indexed      import with indexing on (the default), into a second empty database

Prints, per phase, the median wall seconds and papers/s of --runs runs, the CPU time per
paper of the phase (user + system, the parser process included: steadier than wall time on a shared
machine), and the peak RSS of the largest process of the phase. The load average when
the phase started is printed beside it, and `others %`: the CPU the rest of the machine
used meanwhile (busy CPU from /proc/stat less the phase's own), as a share of all cores.

With --against DIR (e.g. an export of an older commit), every run also measures DIR/src
on the same file, alternating which tree goes first, and the table prints each tree's
rows and the ratio of papers/s (this tree over DIR's).

    .venv/bin/python benchmarks/bench_import.py [--file F] [--runs 3] [--backends sqlite,postgresql]
        [--phases indexed] [--against /tmp/old]
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
import time
from pathlib import Path

from throwaway_postgres import new_database, start_server

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = (
    ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
)
PHASES = ("store only", "re-import", "rebuild", "indexed")

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from paperwire.config import Settings
from paperwire.service import Service
phase, data_dir, url, path = sys.argv[1:5]
settings = Settings(data_dir=Path(data_dir), database_url=url or None,
                    index_on_ingest=phase == "indexed")
load = os.getloadavg()[0]
def cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
with Service(settings) as service:
    service.paper_count()  # the store is open and migrated before the clock starts
    start, cpu_start = time.perf_counter(), cpu()
    if phase == "rebuild":
        papers = service.rebuild_index()
    else:
        papers = service.import_snapshot(Path(path)).seen
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "papers": papers, "load": load, "cpu": cpu_seconds,
                  "peak_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024}))
"""


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    idle = int(fields[3]) + int(fields[4])  # idle + iowait
    return (sum(int(f) for f in fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_phase(phase: str, data_dir: Path, url: str, path: Path, src: Path) -> dict[str, float]:
    busy = busy_seconds()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, phase, str(data_dir), url, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    others = max(busy_seconds() - busy - result["cpu"], 0.0)
    result["others"] = others / (result["seconds"] * (os.cpu_count() or 1)) * 100
    return result


def run_once(
    work: Path, name: str, urls: tuple[str, str], path: Path, phases: list[str], src: Path
) -> dict[str, dict[str, float]]:
    """The phases asked for, of: store-only import, its re-import and rebuild; indexed
    import (re-import and rebuild use the store-only phase's store)."""
    store_dir, indexed_dir = work / f"{name}-store", work / f"{name}-indexed"
    results = {}
    for phase in phases:
        data_dir, url = (indexed_dir, urls[1]) if phase == "indexed" else (store_dir, urls[0])
        results[phase] = run_phase(phase, data_dir, url, path, src)
    shutil.rmtree(store_dir, ignore_errors=True)
    shutil.rmtree(indexed_dir, ignore_errors=True)
    return results


Results = list[dict[str, dict[str, float]]]  # per run: phase -> figures


def summary(results: Results, phase: str) -> dict[str, float]:
    """Medians over the runs of one tree and phase."""
    each = [r[phase] for r in results]
    papers = each[0]["papers"]
    out = {k: statistics.median(e[k] for e in each) for k in ("seconds", "cpu", "load", "others")}
    return {
        **out,
        "papers": papers,
        "pps": papers / out["seconds"],
        "peak_mb": max(e["peak_mb"] for e in each),
    }


def print_table(
    path: Path, runs: int, phases: list[str], rows: list[tuple[str, str, Results]]
) -> None:
    """One line per backend, tree and phase; `ratio` is papers/s over the old tree's."""
    print(
        f"\n{path.name} — median of {runs} run(s), {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'backend':<11}{'tree':<6}{'phase':<12}{'papers':>9}{'wall s':>8}{'papers/s':>10}"
        f"{'ratio':>7}{'CPU µs/paper':>14}{'peak MB':>9}{'load':>6}{'others %':>9}  runs (wall s)"
    )
    print(header)
    print("-" * len(header))
    old = {(b, p): summary(r, p)["pps"] for b, tree, r in rows if tree == "old" for p in phases}
    for backend, tree, results in rows:
        for phase in phases:
            m = summary(results, phase)
            papers = int(m["papers"])
            ratio = f"{m['pps'] / old[backend, phase]:.2f}" if (backend, phase) in old else "-"
            walls = ", ".join(f"{r[phase]['seconds']:.1f}" for r in results)
            print(
                f"{backend:<11}{tree:<6}{phase:<12}{papers:>9,}{m['seconds']:>8.1f}"
                f"{m['pps']:>10,.0f}{ratio:>7}{m['cpu'] / max(papers, 1) * 1e6:>14,.0f}"
                f"{m['peak_mb']:>9,.0f}{m['load']:>6.1f}{m['others']:>9.0f}  {walls}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="The re-import row imports the same file again into the full store "
        "(every record unchanged). Run it under `nice` on a shared machine.",
    )
    parser.add_argument(
        "--file", type=Path, default=DEFAULT_FILE, help="snapshot to import (.jsonl, .gz, .xz)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per backend; medians are printed")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the databases go (default: a temporary folder)"
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, of: {', '.join(PHASES)} (re-import and rebuild need store only)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another source tree (its src/ is imported) measured in the same runs, e.g. "
        "`git archive 587a0f8 src | tar -x -C /tmp/old`",
    )
    args = parser.parse_args()
    phases = [p for p in PHASES if p in args.phases.split(",")]
    trees = [("this", ROOT / "src")] + ([("old", args.against / "src")] if args.against else [])
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        work = Path(tmp)
        pg_base = start_server(work) if "postgresql" in args.backends else ""
        for backend in args.backends.split(","):
            results: dict[str, Results] = {name: [] for name, _src in trees}
            for i in range(args.runs):
                for name, src in trees[i % 2 :] + trees[: i % 2]:  # alternate who goes first
                    urls = (
                        (new_database(pg_base, f"store{i}"), new_database(pg_base, f"indexed{i}"))
                        if backend == "postgresql"
                        else ("", "")
                    )
                    run = run_once(work, f"{backend}{i}{name}", urls, args.file, phases, src)
                    results[name].append(run)
                    print(f"{backend} {name} run {i + 1}: {json.dumps(run)}", file=sys.stderr)
            rows += [(backend, name, results[name]) for name, _src in trees]
    print_table(args.file, args.runs, phases, rows)


if __name__ == "__main__":
    main()
