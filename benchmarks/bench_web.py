"""Web path latency: the engine, Service.search and HTTP side by side, then pages and the API.

Serves `create_app` under uvicorn on loopback (in this process, one worker) and times
sequential requests from one keep-alive client. For the search routes each round times the
same query three ways, interleaved so machine noise hits all three alike:

* engine          SearchEngine.search: ranked ids only
* Service.search  + papers from the store, highlights (what the route calls)
* HTTP            the whole request: routing, upvotes, JSON, gzip, the socket

Goals (issue 12): HTTP p50 <= 2x Service.search for the search routes; pages <= 10 ms p50.

    PYTHONPATH=src python benchmarks/bench_web.py --data-dir DIR   # a data dir already filled
    PYTHONPATH=src python benchmarks/bench_web.py [--limit 20000]  # import into a temp dir

Hybrid rows need semantic search installed and vectors in the store (see
bench_search_speed.py --cached-vectors); without them they show what lexical fallback costs.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import uvicorn

from paperwire.config import Settings
from paperwire.search.query import parse_query
from paperwire.service import Service
from paperwire.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DAILY = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
QUERIES = ["diffusion", "language model", '"vision transformer"', "retrieval cat:cs.CL"]


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


# -- search: engine, Service.search and HTTP in one loop ---------------------------


def search_rows(service: Service) -> dict[str, tuple[str, int, Callable[[str], str]]]:
    """name -> (mode, per_page, query -> path): each route with what it asks the Service."""

    def v1(mode: str) -> Callable[[str], str]:
        return lambda q: f"/api/v1/search?q={quote(q)}&mode={mode}"

    return {
        "/api/v1/search lexical": ("lexical", 20, v1("lexical")),
        "/api/v1/search hybrid": ("hybrid", 20, v1("hybrid")),
        "/api/papers/search (HF)": ("hybrid", 50, lambda q: f"/api/papers/search?q={quote(q)}"),
    }


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def measure_search(
    service: Service, client: httpx.Client, mode: str, per_page: int, path: Callable[[str], str]
) -> tuple[list[float], list[float], list[float]]:
    engine = service.search_engine
    today = datetime.now(UTC).date()

    def engine_call(q: str) -> object:
        parsed = parse_query(q, today=today)
        return engine.search(parsed, sort="relevance", page=1, per_page=per_page, mode=mode)

    def http_call(q: str) -> None:
        response = client.get(path(q))
        if response.status_code != 200:
            raise SystemExit(f"{path(q)}: HTTP {response.status_code}")

    times: tuple[list[float], list[float], list[float]] = ([], [], [])
    for q in QUERIES:  # warm
        engine_call(q)
        http_call(q)
    for n in range(ROUNDS):
        q = QUERIES[n % len(QUERIES)]
        times[0].append(timed(lambda q=q: engine_call(q)))
        times[1].append(timed(lambda q=q: service.search(q, per_page=per_page, mode=mode)))
        times[2].append(timed(lambda q=q: http_call(q)))
    return times


# -- pages and other routes ---------------------------------------------------------


def page_targets(service: Service) -> dict[str, list[str]]:
    latest = service.store.latest_listing_date()
    papers = service.store.papers_listed(latest, latest, limit=40) if latest else []
    ids = [p.arxiv_id for p in papers]
    return {
        "page  /  (daily, 50 cards)": ["/"],
        "page  /?view=week": ["/?view=week"],
        "page  /trending (week)": ["/trending"],
        "page  /search": [f"/search?q={quote(q)}" for q in QUERIES],
        "page  /papers/{id}": [f"/papers/{i}" for i in ids],
        "api   /api/daily_papers": ["/api/daily_papers"],
        "api   /api/papers/{id}": [f"/api/papers/{i}" for i in ids],
        "api   /api/v1/trending": ["/api/v1/trending"],
    }


def measure(client: httpx.Client, paths: list[str]) -> list[float]:
    times: list[float] = []
    for path in paths[:3]:
        client.get(path)  # warm caches
    for n in range(ROUNDS):
        path = paths[n % len(paths)]
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def report(service: Service, url: str) -> None:
    coverage = service.embedding_coverage()[0] if service.semantic_index.installed() else 0
    print(
        f"\npaperwire web latency · {service.store.count_papers():,} papers "
        f"({coverage:,} with vectors) · {service.store.dialect} · {ROUNDS} sequential requests "
        "per row, keep-alive client on loopback (gzip accepted), server in this process\n"
    )
    head = f"{'search route':26} {'engine':>8} {'Service':>8} {'HTTP':>8} {'HTTP p95':>9} {'HTTP/Svc':>9}"
    print(head + "\n" + " " * 26 + "   p50 ms   p50 ms   p50 ms")
    with httpx.Client(base_url=url, timeout=60) as client:
        for name, (mode, per_page, path) in search_rows(service).items():
            engine, svc, http = measure_search(service, client, mode, per_page, path)
            e, s, h = (statistics.median(t) for t in (engine, svc, http))
            print(f"{name:26} {e:8.2f} {s:8.2f} {h:8.2f} {p95(http):9.2f} {h / s:8.2f}x")
        print(f"\n{'page / endpoint':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, paths in page_targets(service).items():
            times = measure(client, paths)
            print(f"{name:32} {statistics.median(times):8.2f} {p95(times):8.2f} {max(times):8.2f}")


ROUNDS = 60


def main() -> None:
    global ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="serve this data dir (no import)")
    parser.add_argument("--limit", type=int, default=None, help="papers to import (default all)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="requests per row")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    ROUNDS = args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        if args.data_dir:
            settings = Settings.load().model_copy(update={"data_dir": args.data_dir})
            service = Service(settings)
        else:
            url_db = args.database_url or f"sqlite:///{tmp}/bench.db"
            settings = Settings(data_dir=Path(tmp), database_url=url_db)
            service = load(settings, args.limit)
        settings = settings.model_copy(update={"embed_in_background": False})
        url, server, thread = serve(settings, service)
        report(service, url)
        server.should_exit = True
        thread.join(10)
        service.close()


if __name__ == "__main__":
    main()
