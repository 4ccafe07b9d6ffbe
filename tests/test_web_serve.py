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


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie holds no port; PID 1 may never reap it


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers end with serve on Linux")
def test_workers_end_when_serve_is_killed(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 or not _answers(port):
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
            workers = [pid for pid in _children(proc.pid) if _running(pid)]
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _running(pid)], "workers outlived serve"
        assert _port_free(port)
    finally:
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/daily_papers", timeout=2)
    except httpx.TransportError:
        return False
    return True


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_busy_port_says_what_to_do(tmp_path: Path, workers: str) -> None:
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(tmp_path / "data")}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cmd = [sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers"]
        done = subprocess.run([*cmd, workers], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    err = " ".join(done.stderr.split())
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "paperwire serve" in err and f"lsof -i :{port}" in err and "--port" in err
    assert "Traceback" not in done.stderr and "serving on" not in done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers end with serve on Linux")
def test_a_worker_whose_serve_already_died_exits_at_once() -> None:
    code = "from paperwire.web.workers import end_with_parent as end; end({}); print('serving')"
    gone = subprocess.run(
        [sys.executable, "-c", code.format(2**22 + 1)], capture_output=True, text=True, timeout=30
    )
    assert (
        gone.returncode == 1 and "paperwire serve ended before this worker started" in gone.stderr
    )
    alive = subprocess.run(
        [sys.executable, "-c", code.format(os.getpid())], capture_output=True, text=True, timeout=30
    )
    assert alive.returncode == 0 and alive.stdout.strip() == "serving"
