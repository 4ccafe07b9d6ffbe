"""Snapshot import speed: the 74,728-paper arXiv file into SQLite and PostgreSQL.

Each run is a fresh subprocess importing into an empty database (the same code path as
`paperwire import`; store only: search indexing off via index_on_ingest=False), then a
second import of the same file into the now-full database (every record unchanged). Prints medians of --runs runs and peak RSS.

    .venv/bin/python benchmarks/bench_import.py [--runs 3] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
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

CHILD = """
import json, resource, sys, time
from pathlib import Path
from paperwire.config import Settings
from paperwire.service import Service
settings = Settings(data_dir=Path(sys.argv[1]), database_url=sys.argv[2] or None,
                    index_on_ingest=False)
service = Service(settings)
out = {}
for label in ("fresh", "again"):
    start = time.perf_counter()
    report = service.import_snapshot(Path(sys.argv[3]))
    out[label] = {"seconds": time.perf_counter() - start, "new": report.new,
                  "unchanged": report.unchanged, "rejected": report.rejected}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_once(data_dir: Path, url: str, path: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), url, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pg_base = start_server(work) if "postgresql" in args.backends else ""
        for backend in args.backends.split(","):
            results = []
            for i in range(args.runs):
                data_dir = work / f"{backend}{i}"
                url = new_database(pg_base, f"bench{i}") if backend == "postgresql" else ""
                results.append(run_once(data_dir, url, args.file))
                print(f"{backend} run {i + 1}: {results[-1]}", file=sys.stderr)
            rows.append((backend, results))
    print(
        f"\nimport of {args.file.name} — median of {args.runs} runs, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    header = f"{'backend':<11}{'papers':>8}{'fresh s':>9}{'papers/s':>10}{'re-import s':>13}{'papers/s':>10}{'peak MB':>9}  runs (fresh s)"
    print(header)
    print("-" * len(header))
    for backend, results in rows:
        fresh = statistics.median(r["fresh"]["seconds"] for r in results)  # type: ignore[index]
        again = statistics.median(r["again"]["seconds"] for r in results)  # type: ignore[index]
        papers = results[0]["fresh"]["new"]  # type: ignore[index]
        peak = max(float(r["peak_mb"]) for r in results)  # type: ignore[arg-type]
        each = ", ".join(f"{r['fresh']['seconds']:.1f}" for r in results)  # type: ignore[index]
        print(
            f"{backend:<11}{papers:>8,}{fresh:>9.1f}{papers / fresh:>10,.0f}{again:>13.1f}{papers / again:>10,.0f}{peak:>9.0f}  {each}"
        )


if __name__ == "__main__":
    main()
