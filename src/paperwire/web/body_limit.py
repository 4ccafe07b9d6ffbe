"""Request bodies are bounded before anything reads them: a pure ASGI middleware that
refuses a body past `max_body_bytes` (by its Content-Length at once, else by counting the
bytes as they stream in), and a write to /api/v1 that carries neither an API token nor a
session cookie (all of them need a reader) with 401 before its body is read.

The library uploads (/library/import, /api/v1/collections/{id}/import) are left to their
own limit, library_max_bytes (web/library_io.py)."""

from __future__ import annotations

import html
import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.web.auth import SESSION_COOKIE

UPLOADS = re.compile(r"^/(library/import|api/v1/collections/[^/]+/import)/?$")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
NO_READER = "send Authorization: Bearer <API token>, or sign in"


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit:,} bytes (max_body_bytes)"


class BodyLimit:
    """See the module docstring. 413 (JSON under /api and /admin, a small HTML page
    elsewhere) when the Content-Length says too much; an HTTPException(413) from `receive`
    when a streamed body passes the limit, which the app's error handlers answer."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or UPLOADS.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = dict(scope["headers"])
        if scope["method"] in WRITES and path.startswith("/api/v1/") and not _has_reader(headers):
            await _refuse(send, path, 401, NO_READER)
            return
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, path, 413, too_large_message(self.limit))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, too_large_message(self.limit))
            return message

        await self.app(scope, counted, send)


def _has_reader(headers: dict[bytes, bytes]) -> bool:
    if headers.get(b"authorization", b"").strip():
        return True
    return SESSION_COOKIE.encode() + b"=" in headers.get(b"cookie", b"")


async def _refuse(send: Send, path: str, status: int, message: str) -> None:
    """Answer without reading the body, and close the connection: what is left of the body
    is not read either."""
    if path.startswith(("/api", "/admin/")):
        body, kind = json.dumps({"error": message}).encode(), b"application/json"
    else:  # a form sent from a page: a page answers (the templates are out of reach here)
        body, kind = _page(status, message).encode(), b"text/html; charset=utf-8"
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


TITLES = {401: "Sign-in needed", 413: "Request too large"}


def _page(status: int, message: str) -> str:
    title = f"{status} {TITLES.get(status, 'Refused')}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · paperwire</title></head><body><main><h1>{title}</h1>"
        f"<p>{html.escape(message)}. Go back, shorten what you sent and try again.</p>"
        '<p><a href="/">paperwire home</a></p></main></body></html>'
    )
