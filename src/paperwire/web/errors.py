"""Unhandled errors answered and logged once: a pure ASGI middleware inside Starlette's
ServerErrorMiddleware, which would log each again ("Exception in ASGI application") and
re-raise it to uvicorn. A database that cannot be reached is 503 with Retry-After and one
line per request, not a traceback each."""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.store.outage import database_unavailable
from paperwire.web.render import render

log = logging.getLogger("paperwire.web.app")
DB_DOWN = "The database is unavailable; try again shortly."
OUR_SIDE = "Something went wrong on our side. The error has been logged."
RETRY_AFTER = "5"


def _wants_json(path: str) -> bool:
    return path.startswith(("/api", "/admin/")) or path == "/openapi.json"


def error_response(request: Request, status: int, message: str) -> Response:
    """The 500/503 answer; no cache keeps it (VisitorHeaders, outside, adds the rest)."""
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER
    if _wants_json(request.url.path):
        return JSONResponse({"error": message}, status, headers=headers)
    page = render(request, "error.html", {"status": status, "message": message}, status)
    page.headers.update(headers)
    return page


class ServerErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            where = f"{scope['method']} {scope['path']}"
            reason = database_unavailable(exc)
            if reason is not None:
                log.error("database unavailable on %s: %s", where, reason)
            else:
                log.exception("unhandled error on %s", where)
            if started:  # too late for an error page: the connection just ends
                return
            status, message = (503, DB_DOWN) if reason is not None else (500, OUR_SIDE)
            response = error_response(Request(scope, receive), status, message)
            await response(scope, receive, send)
