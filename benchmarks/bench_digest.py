"""Digest throughput: compose and send 10,000 digests over the full arXiv corpus.

Imports the 74,728-paper daily file into a fresh temp data dir (a `paperwire import`
subprocess, not timed), creates N active subscribers with varied preferences (daily and
weekly, 0-3 categories, 0-2 saved searches, 0-2 followed authors, 5-20 papers, many time
zones), then times `compose` (outbox filled) and `send` (outbox drained over ONE reused
SMTP connection to an aiosmtpd server on 127.0.0.1 running in its own process). Prints
digests/s for each phase, peak RSS of the benchmark process, and the server's counts
(messages received, distinct Message-IDs).

    .venv/bin/python benchmarks/bench_digest.py [--subscribers 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from throwaway_postgres import new_database, start_server

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
QUERIES = [
    "diffusion policy", "large language model", "graph neural network", "reinforcement learning",
    "retrieval augmented generation", "vision transformer", "federated learning",
    "speech recognition", "code generation", "robot manipulation", "knowledge distillation",
    "adversarial robustness", "3d reconstruction", "gaussian splatting", "mixture of experts",
    "protein", "quantum", "contrastive learning", "image segmentation", "autonomous driving",
    "multimodal", "chain of thought", "hallucination", "sparse attention", "time series",
    "recommendation", "differential privacy", "fairness", "medical imaging", "point cloud",
    "question answering", "machine translation", "summarization", "in-context learning",
    "reward model", "alignment", "video generation", "optimization", "benchmark", "agents",
]  # fmt: skip
CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "cs.RO", "cs.CR", "cs.IR", "cs.SE", "cs.HC",
              "stat.ML", "cs.NE", "eess.IV", "cs.DC", "cs.SD", "math.OC"]  # fmt: skip
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata",
         "America/Los_Angeles", "Australia/Sydney", "America/Sao_Paulo"]  # fmt: skip
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_server(port: int, ready: Any, stop: Any, result: Any) -> None:
    """Child process: count messages and distinct Message-IDs until told to stop."""
    from aiosmtpd.controller import Controller

    seen: set[bytes] = set()
    count = [0]

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            count[0] += 1
            match = MESSAGE_ID.search(envelope.content)
            if match:
                seen.add(match.group(1))
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    result.put((count[0], len(seen)))


def preferences(rng: random.Random, day: date, authors: list[str]) -> dict[str, Any]:
    weekly = rng.random() < 0.2
    return {
        "frequency": "weekly" if weekly else "daily",
        "send_time": f"{rng.randrange(24):02d}:{rng.choice(['00', '30'])}",
        "timezone": rng.choice(ZONES),
        "weekday": day.weekday(),  # weekly subscribers are due on the benchmark day
        "categories": rng.sample(CATEGORIES, rng.choice([0, 1, 1, 2, 3])),
        "saved_searches": rng.sample(QUERIES, rng.choice([0, 0, 1, 2])),
        "followed_authors": rng.sample(authors, rng.choice([0, 0, 1, 2])),
        "max_papers": rng.randrange(5, 21),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway embedded PostgreSQL"
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()

    from paperwire.config import Settings
    from paperwire.service import Service
    from paperwire.store.digest import DigestStore

    work = Path(tempfile.mkdtemp(prefix="bench-digest-"))
    if args.postgres:
        args.database_url = new_database(start_server(work), "bench_digest")
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(work)}
    if args.database_url:
        env["PAPERWIRE_DATABASE_URL"] = args.database_url
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperwire", "import", str(args.corpus)], env=env,
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    import_s = time.perf_counter() - start

    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready, stop, result = ctx.Event(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=smtp_server, args=(port, ready, stop, result), daemon=True)
    server.start()
    ready.wait(30)

    settings = Settings(data_dir=work, database_url=args.database_url, smtp_host="127.0.0.1",
                        smtp_port=port, secret_key="bench", mail_from="paperwire <d@bench.test>")  # fmt: skip
    with Service(settings) as service:
        day = service.store.latest_listing_date()
        assert day is not None
        papers = service.store.count_papers()
        rng = random.Random(5)
        week = service.store.papers_listed(day - timedelta(days=7), day)
        authors = sorted({a.name for p in week for a in p.authors})
        authors = rng.sample(authors, 400) + [f"Nobody Known {i}" for i in range(100)]
        items = [(f"reader{i:05d}@bench.test", preferences(rng, day, authors))
                 for i in range(args.subscribers)]  # fmt: skip
        DigestStore(service.store.engine).add_active_many(items)
        del week

        start = time.perf_counter()  # bring the search index up to date, as a live site has it
        service.search("warm up", per_page=1, mode="lexical")
        index_s = time.perf_counter() - start

        runner = service.digest
        start = time.perf_counter()
        composed = runner.compose(day=day)
        compose_s = time.perf_counter() - start
        start = time.perf_counter()
        sent = runner.send_due()
        send_s = time.perf_counter() - start
        counts = runner.store.status_counts()
    stop.set()
    received, distinct = result.get(timeout=60)
    server.join(10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    digests = composed.composed + composed.empty
    rows = [
        ("corpus papers", f"{papers:,}"),
        ("digest date (weekly window 8 days, daily 2)", day.isoformat()),
        ("subscribers", f"{args.subscribers:,}"),
        ("backend", "postgresql" if args.database_url else "sqlite"),
        ("import (not timed below), s", f"{import_s:.1f}"),
        ("search index catch-up (not timed below), s", f"{index_s:.1f}"),
        ("composed / empty", f"{composed.composed:,} / {composed.empty:,}"),
        ("compose time, s", f"{compose_s:.1f}"),
        ("compose digests/s", f"{digests / compose_s:,.0f}"),
        ("sent / retrying / failed", f"{sent.sent:,} / {sent.retrying} / {sent.failed}"),
        ("send time, s", f"{send_s:.1f}"),
        ("send digests/s", f"{sent.sent / send_s:,.0f}"),
        ("compose + send, s", f"{compose_s + send_s:.1f}"),
        ("server received / distinct Message-IDs", f"{received:,} / {distinct:,}"),
        ("outbox status", ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))),
        ("peak RSS of benchmark process, MB", f"{peak_mb:,.0f}"),
    ]
    shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
