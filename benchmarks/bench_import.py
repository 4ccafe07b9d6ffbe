"""Snapshot import and index speed: store only, with indexing, and `index rebuild`.

For each backend and run, fresh subprocesses (the code path of `paperwire import` and
`paperwire index rebuild`) measure, into empty databases:

  store only   import with index_on_ingest=False (then a re-import: every record unchanged)
  rebuild      `index rebuild` of that store (what a new host's catch-up does)
  indexed      import with indexing on (the default), into a second empty database

Prints, per phase, the median wall seconds and papers/s of --runs runs, the CPU time per
paper of the phase (user + system, the parser process included: steadier than wall time on a shared
machine), and the peak RSS of the largest process of the phase. The load average when
the phase started is printed beside it.

    .venv/bin/python benchmarks/bench_import.py [--file F] [--runs 3] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
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


def run_phase(phase: str, data_dir: Path, url: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, phase, str(data_dir), url, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_once(
    work: Path, name: str, urls: tuple[str, str], path: Path
) -> dict[str, dict[str, float]]:
    """The four phases: store-only import, its re-import and rebuild; indexed import."""
    store_dir, indexed_dir = work / f"{name}-store", work / f"{name}-indexed"
    return {
        "store only": run_phase("store only", store_dir, urls[0], path),
        "re-import": run_phase("re-import", store_dir, urls[0], path),
        "rebuild": run_phase("rebuild", store_dir, urls[0], path),
        "indexed": run_phase("indexed", indexed_dir, urls[1], path),
    }


def print_table(
    path: Path, runs: int, rows: list[tuple[str, list[dict[str, dict[str, float]]]]]
) -> None:
    print(
        f"\n{path.name} — median of {runs} run(s), {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'backend':<11}{'phase':<12}{'papers':>9}{'wall s':>8}{'papers/s':>10}"
        f"{'CPU µs/paper':>14}{'peak MB':>9}{'load':>6}  runs (wall s)"
    )
    print(header)
    print("-" * len(header))
    for backend, results in rows:
        for phase in PHASES:
            each = [r[phase] for r in results]
            wall = statistics.median(e["seconds"] for e in each)
            papers = int(each[0]["papers"])
            cpu = statistics.median(e["cpu"] for e in each) / max(papers, 1) * 1e6
            peak = max(e["peak_mb"] for e in each)
            load = statistics.median(e["load"] for e in each)
            walls = ", ".join(f"{e['seconds']:.1f}" for e in each)
            print(
                f"{backend:<11}{phase:<12}{papers:>9,}{wall:>8.1f}{papers / wall:>10,.0f}"
                f"{cpu:>14,.0f}{peak:>9,.0f}{load:>6.1f}  {walls}"
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
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        work = Path(tmp)
        pg_base = start_server(work) if "postgresql" in args.backends else ""
        for backend in args.backends.split(","):
            results = []
            for i in range(args.runs):
                urls = (
                    (new_database(pg_base, f"store{i}"), new_database(pg_base, f"indexed{i}"))
                    if backend == "postgresql"
                    else ("", "")
                )
                results.append(run_once(work, f"{backend}{i}", urls, args.file))
                print(f"{backend} run {i + 1}: {json.dumps(results[-1])}", file=sys.stderr)
            rows.append((backend, results))
    print_table(args.file, args.runs, rows)


if __name__ == "__main__":
    main()
