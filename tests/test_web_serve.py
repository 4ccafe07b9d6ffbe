"""`paperwire serve` as a user runs it: a real uvicorn subprocess (two workers), the first-run
page on an empty store, votes from parallel clients across worker processes, and no sign-in
token in its logs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import pytest

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.web.auth import Auth
from webkit import hostile_paper

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Settings, Path]]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers", "2"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/api/daily_papers", timeout=2)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"serve did not start:\n{log.read_text()}") from None
            time.sleep(0.2)
    try:
        yield url, Settings(data_dir=tmp_path / "data"), log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_first_run_then_votes_across_workers(served: tuple[str, Settings, Path]) -> None:
    url, settings, log = served
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "paperwire import" in page.text
    assert "Traceback" not in page.text

    with Service(settings) as service:
        service.store.upsert_papers([hostile_paper("2506.00001", date(2025, 6, 2))])
        auth = Auth(settings, service.accounts)
        sessions = [
            auth.start_session(service.accounts.get_or_create_user(f"w{n}@example.org"))[0]
            for n in range(16)
        ]
    assert "Daily papers" in httpx.get(url + "/").text

    def vote(value: str) -> int:
        with httpx.Client(base_url=url, cookies={"pw_session": value}, timeout=30) as client:
            token = CSRF.search(client.get("/").text).group(1)  # type: ignore[union-attr]
            codes = [
                client.put("/api/v1/votes/2506.00001", headers={"x-csrf-token": token}).status_code
                for _ in range(3)
            ]
            return max(codes)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(vote, sessions)) == {200}
    body = httpx.get(url + "/api/v1/papers/2506.00001").json()
    assert body["upvotes"] == 16

    secret = "eyJlIjoiYUBiLmMiLCJuIjoieCJ9.SECRETPART.sig"
    httpx.get(url + "/login/verify", params={"token": secret})
    time.sleep(0.3)
    text = log.read_text()
    assert "/login/verify?token=[redacted]" in text
    assert "SECRETPART" not in text
