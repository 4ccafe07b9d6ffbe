"""A real HTTP server on 127.0.0.1 that plays arXiv OAI-PMH, the arXiv API and Hugging Face.

Routes map (path, query parameters) to a script of replies served in order (the last one
repeats). Replies can be slow, trickle their body, reset the connection mid-body, or
promise more bytes than they send. Every request is logged with its arrival time.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from paperwire.config import Settings

DATA = Path(__file__).parent / "data"
IGNORED_PARAMS = frozenset({"sortBy", "sortOrder"})  # recorded API URLs carry these


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    action: str = "normal"  # normal | reset (RST mid-body) | short (fewer bytes than promised)
    drip: float = 0.0  # seconds between DRIP_BYTES pieces of the body (0: all at once)


DRIP_BYTES = 100


@dataclass
class Logged:
    path: str
    params: dict[str, str]
    at: float  # time.monotonic() on arrival


def xml_reply(body: bytes, status: int = 200) -> Reply:
    return Reply(status, body, {"Content-Type": "text/xml; charset=utf-8"})


def recorded_nock(path: Path, index: int) -> Reply:
    """Reply replaying entry `index` of a recorded nock file (status, headers and body)."""
    entry = json.loads(path.read_text())[index]
    raw = entry["rawHeaders"]
    headers = {
        raw[i]: raw[i + 1]
        for i in range(0, len(raw), 2)
        if raw[i].lower() not in {"content-length", "transfer-encoding", "connection"}
    }
    return Reply(entry["status"], entry["response"].encode(), headers)


def recorded_api(path: Path) -> tuple[dict[str, str], Reply]:
    """(query params, reply) for a recorded arXiv API {"url", "status_code", "body"} file."""
    entry = json.loads(path.read_text())
    params = dict(parse_qsl(urlsplit(entry["url"]).query, keep_blank_values=True))
    reply = Reply(
        entry["status_code"], entry["body"].encode(), {"Content-Type": "application/atom+xml"}
    )
    return params, reply


class FakeRemote:
    """Use as a context manager; `url` is the base, e.g. http://127.0.0.1:PORT."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, frozenset[tuple[str, str]]], list[Reply]] = {}
        self.log: list[Logged] = []
        self.release = threading.Event()  # set at shutdown to end slow replies early
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeRemote:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def add(self, path: str, params: dict[str, str], *replies: Reply) -> None:
        key = (path, _key(params))
        with self._lock:
            self.routes[key] = list(replies)

    def next_reply(self, path: str, params: dict[str, str]) -> Reply:
        with self._lock:
            self.log.append(Logged(path, params, time.monotonic()))
            script = self.routes.get((path, _key(params)))
            if not script:
                return Reply(404, f"no fake route for {path} {params}".encode())
            return script.pop(0) if len(script) > 1 else script[0]

    def requests(self, path: str | None = None) -> list[dict[str, str]]:
        return [e.params for e in self.log if path is None or e.path == path]

    def settings(self, base: Settings, **overrides: Any) -> Settings:
        """`base` pointed at this server, with fast retries."""
        values: dict[str, Any] = {
            "oai_base_url": f"{self.url}/oai",
            "arxiv_api_url": f"{self.url}/api/query",
            "hf_base_url": self.url,
            "retry_backoff": 0.01,
            "http_retries": 3,
            "http_timeout": 5.0,
            **overrides,
        }
        return base.model_copy(update=values)


def _key(params: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in params.items() if k not in IGNORED_PARAMS)


def _handler_for(remote: FakeRemote) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            reply = remote.next_reply(parts.path, params)
            if reply.delay:
                remote.release.wait(reply.delay)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            promised = len(reply.body) * (2 if reply.action == "short" else 1)
            self.send_header("Content-Length", str(promised))
            self.end_headers()
            if reply.action == "normal" and reply.drip:
                for start in range(0, len(reply.body), DRIP_BYTES):
                    self.wfile.write(reply.body[start : start + DRIP_BYTES])
                    self.wfile.flush()
                    if remote.release.wait(reply.drip):
                        return
                return
            if reply.action == "normal":
                self.wfile.write(reply.body)
                return
            self.wfile.write(reply.body[: len(reply.body) // 2])
            if reply.action == "reset":  # abortive close: the client sees ECONNRESET
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.connection.close()

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler
