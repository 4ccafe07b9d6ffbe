"""`paperwire serve` as a process: it ends on SIGTERM within `shutdown_timeout`, even while
a client holds a connection full of pipelined requests whose responses it never reads, and
its log lines (uvicorn's and paperwire's) carry time, level and logger name."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from test_web_serve import free_port


def _start(tmp_path: Path, workers: str, **env_extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(tmp_path / "data"), **env_extra}
    env["PAPERWIRE_EMBED_IN_BACKGROUND"] = "false"
    env["PAPERWIRE_RECOMMEND_WARM_UP"] = "false"
    cmd = [sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers", workers]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
            return proc, port
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError((tmp_path / "serve.log").read_text()) from None
            time.sleep(0.2)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_ends_serve_despite_a_client_that_never_reads(tmp_path: Path, workers: str) -> None:
    proc, port = _start(tmp_path, workers, PAPERWIRE_SHUTDOWN_TIMEOUT="2")
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        reader.connect(("127.0.0.1", port))
        for i in range(50):  # each answer is the whole OpenAPI document (~100 kB)
            reader.sendall(b"GET /openapi.json?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        time.sleep(1)  # the server is now blocked writing to this connection
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail("serve still runs 15 s after SIGTERM (shutdown_timeout is 2 s)")
        assert time.monotonic() - started < 12
        assert "Waiting for connections to close" in (tmp_path / "serve.log").read_text()
    finally:
        reader.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_log_lines_have_time_level_and_logger(tmp_path: Path, workers: str) -> None:
    proc, port = _start(tmp_path, workers)
    try:
        verify = f"http://127.0.0.1:{port}/login/verify?token=secret-sign-in&next=/"
        httpx.get(verify, timeout=10)
    finally:
        _stop(proc)
    text = (tmp_path / "serve.log").read_text()
    assert re.search(rf"^{STAMP} INFO uvicorn.error: Application startup complete", text, re.M)
    access = rf'^{STAMP} INFO uvicorn.access: 127.0.0.1:\d+ - "GET /login/verify\?token='
    assert re.search(access + r"\[redacted\]&next=/ HTTP/1.1\" \d+", text, re.M), text
    assert "secret-sign-in" not in text


def test_log_level_warning_leaves_out_access_lines(tmp_path: Path) -> None:
    proc, port = _start(tmp_path, "1", PAPERWIRE_LOG_LEVEL="warning")
    try:
        httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10)
    finally:
        _stop(proc)
    text = (tmp_path / "serve.log").read_text()
    assert "uvicorn.access" not in text and "GET /openapi.json" not in text
