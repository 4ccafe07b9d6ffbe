"""Server render and API latency: p50/p95 per page/endpoint, over a real uvicorn server.

Loads the shared arXiv file (default: all 74,728 papers; --limit N for fewer) into a fresh
SQLite store (or --database-url), starts `create_app` under uvicorn on loopback, and times
sequential requests from one keep-alive client. Prints a table. Target: render p50 <= 30 ms.

    PYTHONPATH=src python benchmarks/bench_web.py [--limit 20000] [--rounds 60]
"""

from __future__ import annotations

import argparse
import lzma
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DAILY = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"


def load(settings: Settings, limit: int | None) -> Service:
    service = Service(settings)
    source = DAILY
    if limit:
        source = Path(settings.data_dir) / "subset.jsonl"
        with lzma.open(DAILY, "rt", encoding="utf-8") as src, source.open("w") as out:
            for n, line in enumerate(src):
                if n >= limit:
                    break
                out.write(line)
    start = time.perf_counter()
    report = service.import_snapshot(source)
    print(f"imported {report.new:,} papers in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return service


def serve(settings: Settings, service: Service) -> tuple[str, uvicorn.Server, threading.Thread]:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections, as uvicorn does
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"base_url": url}), service)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return url, server, thread


def targets(service: Service) -> dict[str, list[str]]:
    latest = service.store.latest_listing_date()
    papers = service.store.papers_listed(latest, latest, limit=40) if latest else []
    ids = [p.arxiv_id for p in papers]
    queries = ["diffusion", "language model", '"vision transformer"', "retrieval cat:cs.CL"]
    return {
        "page  /  (daily, 50 cards)": ["/"],
        "page  /?view=week": ["/?view=week"],
        "page  /trending (week)": ["/trending"],
        "page  /search": [f"/search?q={q}" for q in queries],
        "page  /papers/{id}": [f"/papers/{i}" for i in ids],
        "api   /api/daily_papers": ["/api/daily_papers"],
        "api   /api/papers/{id}": [f"/api/papers/{i}" for i in ids],
        "api   /api/papers/search": [f"/api/papers/search?q={q}" for q in queries],
        "api   /api/v1/search": [f"/api/v1/search?q={q}" for q in queries],
        "api   /api/v1/trending": ["/api/v1/trending"],
    }


def measure(url: str, paths: list[str], rounds: int) -> list[float]:
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for path in paths[:3]:
            client.get(path)  # warm caches
        for n in range(rounds):
            path = paths[n % len(paths)]
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="papers to load (default all)")
    parser.add_argument("--rounds", type=int, default=60, help="requests per row")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url_db = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = Settings(data_dir=Path(tmp), database_url=url_db)
        service = load(settings, args.limit)
        url, server, thread = serve(settings, service)
        papers = service.store.count_papers()
        print(
            f"\npaperwire web latency · {papers:,} papers · {service.store.dialect} · "
            f"{args.rounds} sequential requests per row, keep-alive client on loopback\n"
        )
        print(f"{'endpoint':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, paths in targets(service).items():
            times = sorted(measure(url, paths, args.rounds))
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{name:32} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}")
        server.should_exit = True
        thread.join(10)
        service.close()


if __name__ == "__main__":
    main()
