"""Request bodies through a real running server: a body past max_body_bytes is refused
with 413 before it is read (by its Content-Length, or by counting a streamed one), a write
to /api/v1 without token or session gets 401 before its body is read, and library uploads
keep their own, larger limit (library_max_bytes)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from paperwire.config import Settings
from webkit import Live, live_server

LIMIT = 64_000


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_server(settings, max_body_bytes=LIMIT) as running:
        yield running


@pytest.fixture
def api(live: Live) -> Iterator[httpx.Client]:
    user = live.service.accounts.get_or_create_user("big@example.org")
    _, secret = live.service.library.create_token(user.id, "test")
    headers = {"authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as client:
        yield client


def _big_name() -> bytes:
    return json.dumps({"name": "x" * (LIMIT * 2)}).encode()


def test_a_body_past_the_limit_is_413_json(api: httpx.Client) -> None:
    declared = api.post("/api/v1/collections", content=_big_name())
    assert declared.status_code == 413, declared.text
    assert "max_body_bytes" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        body = _big_name()
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = api.post("/api/v1/collections", content=chunks())
    assert streamed.status_code == 413, streamed.text
    assert "max_body_bytes" in streamed.json()["error"]
    assert api.post("/api/v1/collections", json={"name": "Small"}).status_code == 201


def test_a_huge_declared_body_is_refused_without_waiting_for_it(live: Live) -> None:
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pw_x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 500000000\r\n\r\n{"name": "'
        )
        started = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 5


def test_anonymous_api_writes_get_401_before_the_body(live: Live) -> None:
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/collections HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000\r\n\r\n{"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401"), answer
    assert b"Bearer <API token>" in answer


def test_forms_are_limited_and_uploads_keep_their_own_limit(live: Live, api: httpx.Client) -> None:
    login = httpx.post(f"{live.url}/login", data={"email": "a@example.org", "x": "y" * LIMIT})
    assert login.status_code == 413
    assert login.headers["content-type"].startswith("text/html")  # a form gets a page
    assert "<h1>413 Request too large</h1>" in login.text and "max_body_bytes" in login.text
    assert "default-src" in login.headers["content-security-policy"]
    cid = api.post("/api/v1/collections", json={"name": "Import"}).json()["id"]
    ids = b"\n".join(b"2506.%05d" % n for n in range(LIMIT // 5))  # ~130 kB of ids
    imported = api.post(f"/api/v1/collections/{cid}/import", content=ids)
    assert imported.status_code == 200, imported.text
