"""Load: locust readers against `paperwire serve --workers 2` on loopback; optionally while an
import and `paperwire embed` write to the same store.

50 signed-in readers (sessions made through the app's own Auth and account store, CSRF
tokens as the pages sign them) browse in a closed loop with no think time: the day's page,
search pages, paper pages, API searches (lexical and hybrid, paperwire's and the HF-compatible
one) and votes they toggle. Bounded by --duration seconds and --max-requests. Prints req/s
and p50/p95/p99 per route, errors, RSS per worker; with --writers also what the import and
the embedder did, and checks afterwards that the store holds exactly the votes readers were
told they had (no vote lost).

    PYTHONPATH=src python benchmarks/bench_load.py --data-dir DIR [--duration 60] [--writers]

DIR: a data dir filled by `paperwire import` (and, for hybrid search, vectors: see
bench_search_speed.py --cached-vectors). Goal (issue 12): >= 500 searches/s, 0 errors.
"""

from __future__ import annotations

# locust patches the standard library for gevent when imported: before anything else
import locust  # isort: skip

import argparse
import json
import lzma
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote
from urllib.request import urlopen

import gevent
import psutil
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.web.auth import CSRF_COOKIE, SESSION_COOKIE, Auth

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_search_speed import CORPUS, load_records, sample_queries  # noqa: E402

SEARCH_ROUTES = (
    "api   /api/v1/search lexical",
    "api   /api/v1/search hybrid",
    "api   /api/papers/search",
)


@dataclass
class Reader:
    """One signed-in reader: cookies and the CSRF header their pages would carry."""

    user_id: int
    cookie: str
    csrf: str
    votes: dict[str, bool] = field(default_factory=dict)  # what the API answered last


@dataclass
class Plan:
    readers: list[Reader]
    queries: list[str]
    papers: list[str]  # ids of paper pages
    vote_pool: list[str]  # the few papers everyone votes on (contention on the same rows)
    uncertain: set[tuple[int, str]] = field(default_factory=set)  # votes whose answer failed


PLAN: Plan | None = None


def readers(settings: Settings, service: Service, count: int) -> list[Reader]:
    auth = Auth(settings, service.accounts)
    out = []
    for n in range(count):
        user = service.accounts.get_or_create_user(f"load-reader-{n}@example.org")
        session, _ = auth.start_session(user)
        nonce = secrets.token_urlsafe(32)
        cookie = f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={nonce}"
        out.append(Reader(user.id, cookie, auth.csrf_token(nonce)))
        for arxiv_id in service.accounts.votes_of(user.id):
            out[-1].votes[arxiv_id] = True
    return out


class Visitor(FastHttpUser):
    """One signed-in reader (no tasks here: see Browser and LexicalSearcher)."""

    abstract = True
    wait_time = constant(0)
    next_reader: ClassVar[int] = 0

    def on_start(self) -> None:
        assert PLAN is not None
        self.plan = PLAN
        self.reader = PLAN.readers[Visitor.next_reader % len(PLAN.readers)]
        Visitor.next_reader += 1
        self.rng = random.Random(self.reader.user_id)

    def get(self, path: str, name: str) -> None:
        self.client.get(path, name=name, headers={"Cookie": self.reader.cookie})

    def query(self) -> str:
        return quote(self.rng.choice(self.plan.queries))

    def lexical_search(self) -> None:
        self.get(f"/api/v1/search?q={self.query()}&mode=lexical", SEARCH_ROUTES[0])


class Browser(Visitor):
    """A reader's visits; the weights are the mix (about 60% searches)."""

    @task(2)
    def home(self) -> None:
        self.get("/", "page  /")

    @task(2)
    def search_page(self) -> None:
        self.get(f"/search?q={self.query()}", "page  /search")

    @task(2)
    def paper_page(self) -> None:
        self.get(f"/papers/{self.rng.choice(self.plan.papers)}", "page  /papers/{id}")

    @task(6)
    def lexical(self) -> None:
        self.lexical_search()

    @task(3)
    def hybrid(self) -> None:
        self.get(f"/api/v1/search?q={self.query()}", SEARCH_ROUTES[1])

    @task(2)
    def hf_search(self) -> None:
        self.get(f"/api/papers/search?q={self.query()}&limit=20", SEARCH_ROUTES[2])

    @task(1)
    def vote(self) -> None:
        arxiv_id = self.rng.choice(self.plan.vote_pool)
        up = not self.reader.votes.get(arxiv_id, False)
        headers = {"Cookie": self.reader.cookie, "X-CSRF-Token": self.reader.csrf}
        method, verb = (self.client.put, "PUT") if up else (self.client.delete, "DELETE")
        path = f"/api/v1/votes/{arxiv_id}"
        response = method(path, headers=headers, name=f"api   vote ({verb})")
        if response.status_code == 200 and response.json()["voted"] == up:
            self.reader.votes[arxiv_id] = up
        else:
            self.plan.uncertain.add((self.reader.user_id, arxiv_id))


class LexicalSearcher(Visitor):
    """--mix lexical: API word searches only, the ceiling of searches/s."""

    @task
    def lexical(self) -> None:
        self.lexical_search()


# -- the server and the writers ------------------------------------------------------


def python_path() -> str:
    return os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(data_dir: Path, workers: int, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": python_path(), "PAPERWIRE_DATA_DIR": str(data_dir)}
    env["PAPERWIRE_EMBED_IN_BACKGROUND"] = "false"
    env["PAPERWIRE_RECOMMEND_WARM_UP"] = "false"  # measured: searches, not the warm-up
    command = [sys.executable, "-m", "paperwire", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        if len(psutil.Process(server.pid).children()) >= workers and ready(url):
            return url, server
        time.sleep(0.5)
    server.kill()
    raise SystemExit(f"paperwire serve did not start; see {log}")


def ready(url: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1):
            return True
    except OSError:
        return False


def changed_records(count: int, target: Path, tag: str) -> Path:
    """`count` records of the corpus with a revised abstract: an import that writes."""
    with lzma.open(CORPUS, "rt", encoding="utf-8") as src, target.open("w") as out:
        for n, line in enumerate(src):
            if n >= count:
                break
            record = json.loads(line)
            record["summary"] = f"{record['summary']} (revised {tag})"
            out.write(json.dumps(record) + "\n")
    return target


def start_writers(data_dir: Path, scratch: Path, count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": python_path(), "PAPERWIRE_DATA_DIR": str(data_dir)}
    source = changed_records(count, scratch / "revised.jsonl", secrets.token_hex(3))
    base = [sys.executable, "-m", "paperwire"]
    jobs = []
    for name, args in (("import", ["import", str(source)]), ("embed", ["embed"])):
        with (scratch / f"{name}.log").open("wb") as out:
            jobs.append(subprocess.Popen([*base, *args], env=env, stdout=out, stderr=out))
    return jobs


# -- running and reporting ----------------------------------------------------------


def run_locust(
    url: str, users: int, duration: float, max_requests: int, user_class: type[Visitor]
) -> Environment:
    # stop_timeout: a reader finishes the request it is making, so every vote the server
    # applied has its answer recorded (a killed greenlet would leave it unaccounted)
    env = Environment(user_classes=[user_class], events=events, host=url, stop_timeout=60)
    runner = env.create_local_runner()

    def stop_at_count(**_kw: Any) -> None:
        if env.stats.total.num_requests >= max_requests and runner.state != "stopped":
            gevent.spawn(runner.quit)

    events.request.add_listener(stop_at_count)
    runner.start(users, spawn_rate=users)
    gevent.spawn_later(duration, runner.quit)
    runner.greenlet.join()
    return env


def workers_of(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """uvicorn's worker processes (its multiprocessing helper has no open socket)."""
    return [c for c in psutil.Process(server.pid).children() if c.memory_info().rss > 50 * 2**20]


def cpu_ms(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes) * 1000


def print_table(env: Environment, rss: list[float], seconds: float) -> None:
    stats = env.stats
    print(
        f"\n{'route':32} {'requests':>8} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>6}"
    )
    entries = sorted(stats.entries.values(), key=lambda e: e.name)
    for entry in [*entries, stats.total]:
        pct = entry.get_response_time_percentile
        name = "all" if entry is stats.total else entry.name
        print(
            f"{name:32} {entry.num_requests:8d} {entry.num_requests / seconds:7.1f} "
            f"{pct(0.5):6.0f} {pct(0.95):6.0f} {pct(0.99):6.0f} {entry.num_failures:6d}"
        )
    searches = sum(
        stats.entries[(n, "GET")].num_requests for n in SEARCH_ROUTES if (n, "GET") in stats.entries
    )
    print(f"\nsearches/s {searches / seconds:.1f}   (response times in ms; {seconds:.0f} s)")
    print("RSS per worker: " + ", ".join(f"{mb:.0f} MiB" for mb in rss))
    for error in stats.errors.values():
        print(f"error x{error.occurrences}: {error.method} {error.name}: {error.error}")


def check_votes(service: Service, plan: Plan) -> None:
    """Every vote a reader was answered must be in the store, and nothing else."""
    lost = extra = held = 0
    for reader in plan.readers:
        stored = set(service.accounts.votes_of(reader.user_id))
        for arxiv_id, up in reader.votes.items():
            if (reader.user_id, arxiv_id) in plan.uncertain:
                continue
            held += up
            lost += up and arxiv_id not in stored
            extra += not up and arxiv_id in stored
        extra += len(stored - set(reader.votes))
    print(
        f"votes: {held} held by the readers as the API answered; in the store: lost {lost}, "
        f"not withdrawn {extra}; answers missing {len(plan.uncertain)}"
    )


def main() -> None:
    global PLAN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at most")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--writers", action="store_true", help="import + embed meanwhile")
    parser.add_argument(
        "--mix", choices=["browse", "lexical"], default="browse", help="lexical: API searches only"
    )
    parser.add_argument("--import-records", type=int, default=20_000)
    args = parser.parse_args()
    settings = Settings.load().model_copy(update={"data_dir": args.data_dir})
    service = Service(settings)
    latest = service.store.latest_listing_date()
    papers = [p.arxiv_id for p in service.store.papers_listed(latest, latest, limit=200)]
    queries = sample_queries(load_records(CORPUS), 200, seed=12)
    PLAN = Plan(readers(settings, service, args.users), queries, papers, papers[:20])
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        url, server = serve(args.data_dir, args.workers, scratch / "serve.log")
        writers = start_writers(args.data_dir, scratch, args.import_records) if args.writers else []
        try:
            try:
                warm(url)
            except OSError:
                print((scratch / "serve.log").read_text(errors="replace")[-6000:], file=sys.stderr)
                raise
            workers = workers_of(server)
            me = [psutil.Process()]
            cpu_before = cpu_ms(workers), cpu_ms(me)
            started = time.monotonic()
            user_class = LexicalSearcher if args.mix == "lexical" else Browser
            env = run_locust(url, args.users, args.duration, args.max_requests, user_class)
            seconds = time.monotonic() - started
            cpu = cpu_ms(workers) - cpu_before[0], cpu_ms(me) - cpu_before[1]
            rss = [w.memory_info().rss / 2**20 for w in workers]
            writer_lines = report_writers(writers, scratch)
        finally:
            for job in [*writers, server]:
                job.terminate()
                job.wait(60)
        print_header(args, service, len(PLAN.readers))
        print_table(env, rss, seconds)
        total = env.stats.total.num_requests
        print(
            f"CPU per request: workers {cpu[0] / total:.2f} ms, locust {cpu[1] / total:.2f} ms "
            f"(so {2000 / (cpu[0] / total + cpu[1] / total):.0f} req/s would fill 2 idle cores)"
        )
        locked = (scratch / "serve.log").read_text(errors="replace").count("database is locked")
        print(f"'database is locked' in the server log: {locked}")
        print("\n".join(writer_lines))
    check_votes(service, PLAN)
    service.close()


def report_writers(writers: list[subprocess.Popen[bytes]], scratch: Path) -> list[str]:
    lines = []
    for name, job in zip(("import", "embed"), writers, strict=False):
        state = "still running at the end" if job.poll() is None else f"exited {job.returncode}"
        text = (scratch / f"{name}.log").read_text(errors="replace")
        tail = [t.strip() for t in text.strip().splitlines()[-4:] if t.strip()]
        lines.append(f"{name}: {state}; log ends: " + " | ".join(tail)[-300:])
    return lines


def warm(url: str) -> None:
    """Each worker opens its indexes and model on first use: not part of the measure."""
    paths = ["/api/v1/search?q=warm%20up", "/api/v1/search?q=warm&mode=lexical", "/", "/search?q=x"]
    jobs = [gevent.spawn(urlopen, f"{url}{p}", timeout=120) for p in paths * 6]
    gevent.joinall(jobs, raise_error=True)


def print_header(args: argparse.Namespace, service: Service, readers: int) -> None:
    writers = " while `paperwire import` and `paperwire embed` run" if args.writers else ""
    print(
        f"\npaperwire load · {service.store.count_papers():,} papers · {args.workers} workers · "
        f"{readers} signed-in readers, closed loop, no think time, mix {args.mix} · "
        f"locust {locust.__version__}"
        f"{writers}"
    )


if __name__ == "__main__":
    main()
