"""Web path latency: the engine, Service.search and HTTP side by side, then pages and the API.

Starts `paperwire serve` (one worker, its own process) on loopback and times sequential
requests from one keep-alive client. For the search routes each round times the
same query three ways, interleaved so machine noise hits all three alike:

* engine          SearchEngine.search: ranked ids only
* Service.search  + papers from the store, highlights (what the route calls)
* HTTP            the whole request: routing, upvotes, JSON, gzip, the socket

Goals (issue 12): HTTP p50 <= 2x Service.search for the search routes; pages <= 10 ms p50.
On a shared, busy machine wall times mostly measure the wait for a CPU: the table also shows
CPU ms (the server process's per request, psutil) and the ratio of the fastest requests.

    PYTHONPATH=src python benchmarks/bench_web.py --data-dir DIR   # a data dir already filled
    PYTHONPATH=src python benchmarks/bench_web.py [--limit 20000]  # import into a temp dir

Hybrid rows need semantic search installed and vectors in the store (see
bench_search_speed.py --cached-vectors); without them they show what lexical fallback costs.
"""

from __future__ import annotations

import argparse
import http.client
import lzma
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import httpx
import psutil

from paperwire.config import Settings
from paperwire.search.query import parse_query
from paperwire.service import Service

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


def serve(settings: Settings) -> tuple[str, subprocess.Popen[bytes]]:
    """`paperwire serve` (one worker) in its own process, as deployed: a server thread in
    this process would share the client's GIL and add waits no deployment has."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "PAPERWIRE_DATA_DIR": str(settings.data_dir),
        "PAPERWIRE_EMBED_IN_BACKGROUND": "false",
        "PAPERWIRE_RECOMMEND_WARM_UP": "false",
    }
    if settings.database_url:
        env["PAPERWIRE_DATABASE_URL"] = settings.database_url
    command = [sys.executable, "-m", "paperwire", "serve", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"{url}/openapi.json", timeout=2)
            return url, server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("paperwire serve did not start")


class Loopback:
    """A keep-alive HTTP/1.1 client from the standard library: gzip accepted, body read,
    the CSRF cookie a browser would keep. (httpx, --client httpx, spends about a millisecond
    of its own per request parsing and decoding: more than the server's routing.)"""

    HEADERS: ClassVar[dict[str, str]] = {"Accept-Encoding": "gzip", "Cookie": "pw_csrf=" + "b" * 43}

    def __init__(self, url: str) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def get(self, path: str) -> int:
        for attempt in range(2):
            try:
                self.conn.request("GET", path, headers=self.HEADERS)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionError):
                if attempt:
                    raise
                self.conn.close()  # the server closed an idle keep-alive connection
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class HttpxClient:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=60)

    def get(self, path: str) -> int:
        return self.client.get(path).status_code

    def close(self) -> None:
        self.client.close()


Client = Loopback | HttpxClient


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


def timed(call: Callable[[], object], cpu: list[float] | None = None) -> float:
    """Wall ms of `call`; its CPU ms (this process, all threads) appended to `cpu`."""
    start, start_cpu = time.perf_counter(), time.process_time()
    call()
    if cpu is not None:
        cpu.append((time.process_time() - start_cpu) * 1000)
    return (time.perf_counter() - start) * 1000


class ServerCPU:
    """CPU ms the server process spent per request over a block of requests: on a shared,
    noisy machine this moves far less than wall time."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)

    def total_ms(self) -> float:
        times = self.process.cpu_times()
        return (times.user + times.system) * 1000


def measure_search(
    service: Service, client: Client, mode: str, per_page: int, path: Callable[[str], str]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Wall ms of engine, Service.search and HTTP per round, and Service.search CPU ms."""
    engine = service.search_engine
    today = datetime.now(UTC).date()

    def engine_call(q: str) -> object:
        parsed = parse_query(q, today=today)
        return engine.search(parsed, sort="relevance", page=1, per_page=per_page, mode=mode)

    def http_call(q: str) -> None:
        status = client.get(path(q))
        if status != 200:
            raise SystemExit(f"{path(q)}: HTTP {status}")

    times: tuple[list[float], list[float], list[float], list[float]] = ([], [], [], [])
    for q in QUERIES:  # warm
        engine_call(q)
        http_call(q)
    for n in range(ROUNDS):
        q = QUERIES[n % len(QUERIES)]
        times[0].append(timed(lambda q=q: engine_call(q)))
        svc = lambda q=q: service.search(q, per_page=per_page, mode=mode)  # noqa: E731
        times[1].append(timed(svc, times[3]))
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


def measure(client: Client, paths: list[str]) -> list[float]:
    times: list[float] = []
    for path in paths[:3]:
        client.get(path)  # warm caches
    for n in range(ROUNDS):
        path = paths[n % len(paths)]
        start = time.perf_counter()
        status = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}")
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def report(service: Service, client: Client, server: ServerCPU) -> None:
    coverage = service.embedding_coverage()[0] if service.semantic_index.installed() else 0
    print(
        f"\npaperwire web latency · {service.store.count_papers():,} papers "
        f"({coverage:,} with vectors) · {service.store.dialect} · {ROUNDS} sequential requests "
        f"per row, one keep-alive {type(client).__name__} client on loopback (gzip accepted), "
        "`paperwire serve` in its own process\n"
    )
    print(
        f"{'search route':24} {'engine':>7} {'Service':>8} {'HTTP':>7} {'HTTP':>7} {'HTTP/':>6}"
        f" | {'Service':>8} {'server':>7} {'HTTP/':>6} | {'HTTP/':>6}\n{'':24} {'p50':>7} {'p50':>8}"
        f" {'p50':>7} {'p95':>7} {'Svc':>6} | {'CPU p50':>8} {'CPU/req':>7} {'Svc':>6} | "
        f"{'Svc min':>7}   (ms)"
    )
    for name, (mode, per_page, path) in search_rows(service).items():
        before = server.total_ms()
        engine, svc, http, svc_cpu = measure_search(service, client, mode, per_page, path)
        cpu = (server.total_ms() - before) / (ROUNDS + len(QUERIES))
        e, s, h, c = (statistics.median(t) for t in (engine, svc, http, svc_cpu))
        print(
            f"{name:24} {e:7.2f} {s:8.2f} {h:7.2f} {p95(http):7.2f} {h / s:5.2f}x"
            f" | {c:8.2f} {cpu:7.2f} {cpu / c:5.2f}x | {min(http) / min(svc):6.2f}x"
        )
    print(f"\n{'page / endpoint':30} {'p50':>7} {'p95':>7} {'max':>7} | {'server CPU/req':>14}")
    for name, paths in page_targets(service).items():
        before = server.total_ms()
        times = measure(client, paths)
        cpu = (server.total_ms() - before) / (ROUNDS + len(paths[:3]))
        print(
            f"{name:30} {statistics.median(times):7.2f} {p95(times):7.2f} {max(times):7.2f}"
            f" | {cpu:14.2f}"
        )


ROUNDS = 60


def main() -> None:
    global ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="serve this data dir (no import)")
    parser.add_argument("--limit", type=int, default=None, help="papers to import (default all)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="requests per row")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--client", choices=["stdlib", "httpx"], default="stdlib")
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
        url, server = serve(settings)
        try:
            client = HttpxClient(url) if args.client == "httpx" else Loopback(url)
            report(service, client, ServerCPU(server.pid))
            client.close()
        finally:
            server.terminate()
            server.wait(30)
            service.close()


if __name__ == "__main__":
    main()
