"""Do /subscribe and /login answer in the same time whatever the address? A difference
tells a visitor something about an address they do not own (known, or just submitted).

Runs `paperwire serve` (one worker) against a real aiosmtpd server on loopback, then posts
the forms with a real CSRF cookie and token, the cases interleaved at random so slow
spells of the machine fall on all of them alike:

- unknown:   an address never seen before (a fresh one per request)
- known:     /subscribe: an active subscriber never mailed by the form; /login: a user
             who has signed in before
- just-submitted: the same address posted again right after a first post (so within
             the form's one-email-per-10-minutes / 5-links-per-hour limits)
- 6th post:  /login only: the sixth post of an address within the hour (the sign-in link
             limit: no token is stored and no mail sent)

    python benchmarks/bench_timing.py --n 60 [--smtp-delay 0.05]

--smtp-delay makes the SMTP server wait that long before each reply to DATA, as a remote
server would (loopback answers in about a millisecond, which hides a send in the noise).
Prints median and p95 per case in ms, their ratio to the unknown case, and the emails
the SMTP server received per case.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """aiosmtpd handler: counts mails by the route that sent them (by subject), answers
    DATA after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        sign_in = b"Subject: Your paperwire sign-in link" in envelope.content
        self.received["/login" if sign_in else "/subscribe"] += 1
        return "250 2.0.0 queued"


def start_serve(data_dir: Path, smtp_port: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PAPERWIRE_DATA_DIR": str(data_dir),
        "PAPERWIRE_SMTP_HOST": "127.0.0.1",
        "PAPERWIRE_SMTP_PORT": str(smtp_port),
        "PAPERWIRE_EMBED_IN_BACKGROUND": "false",
        "PYTHONPATH": str(ROOT / "src"),
    }
    command = [sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/subscribe", timeout=2)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("paperwire serve did not start")


def prepare(data_dir: Path, known_subscribers: list[str], known_users: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from paperwire.config import Settings
    from paperwire.service import Service

    with Service(Settings(data_dir=data_dir)) as service:
        for address in known_subscribers:
            service.digest.add_subscriber(address)
        for address in known_users:
            service.accounts.get_or_create_user(address)


class Form:
    def __init__(self, client: httpx.Client, path: str) -> None:
        self.client, self.path = client, path
        page = client.get(path)
        match = CSRF.search(page.text)
        if match is None:
            sys.exit(f"no CSRF token on {path}")
        self.token = match.group(1)

    def post(self, address: str) -> tuple[float, int]:
        started = time.perf_counter()
        response = self.client.post(self.path, data={"email": address, "csrf_token": self.token})
        return (time.perf_counter() - started) * 1000, response.status_code


def plan(n: int, rng: random.Random) -> list[tuple[str, str]]:
    cases = [(path, case) for path in ("/subscribe", "/login") for case in ("unknown", "known")]
    order = [c for c in cases for _ in range(n)]
    rng.shuffle(order)
    return order


def measure(url: str, n: int, rng: random.Random, inbox: Inbox) -> dict[tuple[str, str], Any]:
    known = {
        "/subscribe": [f"sub{i}@known.example" for i in range(n)],
        "/login": [f"user{i}@known.example" for i in range(n)],
    }
    times: dict[tuple[str, str], list[float]] = {}
    statuses: dict[tuple[str, str], Counter[int]] = {}
    mails: Counter[tuple[str, str]] = Counter()
    last: dict[str, tuple[tuple[str, str], int]] = {}

    def attribute(key: tuple[str, str]) -> None:
        """The mails a route sent since its previous post are that post's (mails go
        after the response; settle() waits for them)."""
        route = key[0]
        total = inbox.received[route]
        if route in last:
            mails[last[route][0]] += total - last[route][1]
        last[route] = (key, total)

    with httpx.Client(base_url=url, timeout=30) as client:
        forms = {path: Form(client, path) for path in known}
        for _ in range(5):  # warm both routes (their mails are not counted)
            forms["/subscribe"].post(f"warm{rng.random()}@x.example")
            forms["/login"].post(f"warm{rng.random()}@x.example")
        for path, case in plan(n, rng):
            address = (
                known[path].pop() if case == "known" else f"u{rng.getrandbits(48)}@new.example"
            )
            for label in (case, "just-submitted"):  # the second post: same address again
                attribute((path, label))
                before = inbox.received[path]
                took, status = forms[path].post(address)
                times.setdefault((path, label), []).append(took)
                statuses.setdefault((path, label), Counter())[status] += 1
                settle(inbox, path, before)
        for _ in range(n // 2):  # sign-in links are limited to 5 an hour: time the 6th
            address = f"r{rng.getrandbits(48)}@new.example"
            for post in range(6):
                label = "6th post" if post == 5 else "(untimed)"
                attribute(("/login", label))
                before = inbox.received["/login"]
                took, status = forms["/login"].post(address)
                if post == 5:
                    times.setdefault(("/login", label), []).append(took)
                    statuses.setdefault(("/login", label), Counter())[status] += 1
                settle(inbox, "/login", before)
    time.sleep(1.0)
    for route in list(last):
        attribute((route, "(end)"))
    return {key: (values, statuses[key], mails[key]) for key, values in times.items()}


def settle(inbox: Inbox, route: str, before: int) -> None:
    """Wait for the mail a post to `route` may send after its response (both routes send
    on a background thread): until one more has arrived, or 0.5 s. Posts are not timed
    meanwhile."""
    deadline = time.monotonic() + 0.5
    while inbox.received[route] == before and time.monotonic() < deadline:
        time.sleep(0.01)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def print_table(results: dict[tuple[str, str], Any], n: int) -> None:
    print(f"{'route':<11} {'case':<15} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'x unknown':>10} "
          f"{'status':<12} emails")  # fmt: skip
    for path in ("/subscribe", "/login"):
        base = statistics.median(results[(path, "unknown")][0])
        for case in ("unknown", "known", "just-submitted", "6th post"):
            if (path, case) not in results:
                continue
            values, status, mails = results[(path, case)]
            median = statistics.median(values)
            codes = ",".join(f"{c}x{k}" for k, c in sorted(status.items()))
            print(f"{path:<11} {case:<15} {len(values):>4} {median:>10.2f} {p95(values):>8.2f} "
                  f"{median / base:>10.2f} {codes:<12} {mails}")  # fmt: skip
    print(f"(just-submitted rows: the second post of the address of each unknown and known "
          f"post, {2 * n} per route; emails: what the SMTP server received after the case's posts)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="posts per case and route")
    parser.add_argument(
        "--smtp-delay",
        type=float,
        default=0.0,
        help="seconds the SMTP server waits before answering DATA",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()  # fmt: skip
    rng = random.Random(args.seed)
    inbox = Inbox(args.smtp_delay)
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    with tempfile.TemporaryDirectory(prefix="pw-timing-") as folder:
        data_dir = Path(folder) / "data"
        prepare(
            data_dir,
            [f"sub{i}@known.example" for i in range(args.n)],
            [f"user{i}@known.example" for i in range(args.n)],
        )
        proc, url = start_serve(data_dir, smtp.port)
        try:
            results = measure(url, args.n, rng, inbox)
        finally:
            proc.terminate()
            proc.wait(20)
            smtp.stop()
    print(f"paperwire serve, 1 worker; aiosmtpd on loopback, DATA answered after "
          f"{args.smtp_delay * 1000:.0f} ms; n={args.n} per case, cases interleaved at random")  # fmt: skip
    print_table(results, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
