"""create_app(settings) -> FastAPI: wires the service, templates, static files and routes."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire import __version__
from paperwire.config import Settings
from paperwire.search.damage import REBUILD_HINT, IndexDamaged
from paperwire.service import Service
from paperwire.web import (
    api,
    feeds,
    for_you,
    library_api,
    library_io,
    library_pages,
    openapi,
    pages,
)
from paperwire.web.auth import CSRF_COOKIE, SESSION_COOKIE, Auth
from paperwire.web.body_limit import BodyLimit
from paperwire.web.errors import ServerErrors, validation_message
from paperwire.web.render import render, template_filters
from paperwire.web.workers import end_with_parent, parent_pid_from_environment

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SERVE_SETTINGS_ENV = "_PAPERWIRE_SERVE_SETTINGS"  # settings handed to uvicorn worker processes
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def create_app(
    settings: Settings | None = None,
    service: Service | None = None,
    background_jobs: bool = False,
) -> FastAPI:
    """The paperwire web application for `settings` (default: Settings.load()).

    `background_jobs` (set by `paperwire serve`) also embeds new papers while serving,
    when Settings.embed_in_background allows it, and catches the lexical index up with
    the store every lexical_catch_up_seconds."""
    settings = settings or Settings.load()
    service = service or Service(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        embedder = service.start_background_embedding() if background_jobs else None
        if background_jobs:
            service.start_recommender_warm_up()
            service.search_engine.start_catch_up_timer()  # other hosts' papers, unasked
        yield
        if embedder is not None:
            embedder.stop(timeout=30)
        service.close()

    app = FastAPI(
        title="paperwire",
        version=__version__,
        description="Daily and trending arXiv papers, search, votes. Hugging Face-compatible "
        "endpoints under /api, paperwire's own under /api/v1.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(template_filters())
    app.state.settings = settings
    app.state.service = service
    app.state.auth = Auth(settings, service.accounts)
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(feeds.router)  # before pages: /papers/{id}.bib is not a paper page
    app.include_router(pages.router)
    app.include_router(library_api.router)  # the reader's library (issue 13)
    app.include_router(library_io.api_router)  # import / export / secret feeds (issue 13)
    app.include_router(library_io.router)
    app.include_router(for_you.api_router)  # "For you" (issue 13)
    app.include_router(for_you.router)
    app.include_router(library_pages.router)
    if importlib.util.find_spec("paperwire.web.subscriptions") is not None:
        from paperwire.web import subscriptions

        app.include_router(subscriptions.router)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # 401/413 before a body
    # level 1, as nginx compresses by default: 2.7x faster than 5 for 15% more bytes (a
    # 48 kB search answer: 0.6 against 1.6 ms, 15.3 against 13.4 kB)
    app.add_middleware(GZipMiddleware, minimum_size=2000, compresslevel=1)
    app.add_middleware(WeakEncodedETags)  # outside GZip: sees the encoding it chose
    app.add_middleware(HeadAsGet)
    app.add_middleware(ServerErrors)  # 500/503 answered and logged once (web/errors.py)
    # outermost: every answer gets the security headers, 500/503 from ServerErrors too
    app.add_middleware(VisitorHeaders, secure=settings.base_url.startswith("https://"))
    _install_error_pages(app)
    openapi.install(app)  # validation failures documented as the 400 they answer
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
    return app


class RedactTokens(logging.Filter):
    """Access logs print request paths; hide sign-in tokens in their query strings."""

    _TOKEN = re.compile(r"(token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "token=" in a for a in args):
            record.args = tuple(
                self._TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in args
            )
        if "token=" in str(record.msg):
            record.msg = self._TOKEN.sub(r"\1[redacted]", str(record.msg))
        return True


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn worker processes (`paperwire serve --workers N`)."""
    end_with_parent(parent_pid_from_environment())
    raw = os.environ.get(SERVE_SETTINGS_ENV)
    settings = Settings.model_validate(json.loads(raw)) if raw else Settings.load()
    return create_app(settings, background_jobs=True)


class VisitorHeaders:
    """Pure ASGI middleware: a CSRF cookie for every visitor and the security headers.

    (A BaseHTTPMiddleware did this before: it runs the app in a task behind memory streams,
    which cost more per request than the search behind /api/v1/search.)"""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = _cookie(scope, CSRF_COOKIE)
        fresh = not (20 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum())
        if fresh:
            nonce = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_nonce"] = nonce
        static = scope["path"].startswith("/static/")
        cookie = _csrf_cookie(nonce, self.secure) if fresh and not static else None
        session = bool(_cookie(scope, SESSION_COOKIE))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(MutableHeaders(scope=message), static, cookie, session)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WeakEncodedETags:
    """Pure ASGI middleware: a compressed body's ETag is made weak.

    StaticFiles tags the file, and GZip then sends the same strong ETag for the gzip and
    the plain body, two different byte sequences (RFC 9110 8.8.1 wants strong tags to
    differ); a cache or a range request could mix them. A weak tag still revalidates:
    If-None-Match compares weakly, so the compressed copy gets its 304."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        asked = _header(scope, b"if-none-match")

        async def send_weakened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag", "")
                # a 304 answers with the tag the cache holds: the weak one of a gzip body
                revalidated = message["status"] == 304 and f"W/{etag}" in asked
                if etag.startswith('"') and (headers.get("content-encoding") or revalidated):
                    headers["etag"] = "W/" + etag
            await send(message)

        await self.app(scope, receive, send_weakened)


class HeadAsGet:
    """Pure ASGI middleware: HEAD is answered as GET would be, without the body (RFC 9110
    9.3.2). FastAPI routes GET only, so uptime monitors and link checkers got 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope, name: str) -> str:
    for key, value in scope["headers"]:
        if key == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(name, "")
    return ""


def _csrf_cookie(nonce: str, secure: bool) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[CSRF_COOKIE] = nonce
    cookie[CSRF_COOKIE]["path"] = "/"
    cookie[CSRF_COOKIE]["httponly"] = True
    cookie[CSRF_COOKIE]["samesite"] = "lax"
    if secure:
        cookie[CSRF_COOKIE]["secure"] = True
    return cookie.output(header="").strip()


def _add_headers(headers: MutableHeaders, static: bool, cookie: str | None, session: bool) -> None:
    if static:
        headers.setdefault("Cache-Control", "public, max-age=86400")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if headers.get("content-type", "").startswith("text/html"):
        # The CSRF cookie goes with pages only, the forms' token in them: feeds and JSON
        # may be kept by shared caches, which must not hand one visitor's nonce to others
        if cookie is not None:
            headers.append("set-cookie", cookie)
        headers.setdefault("Content-Security-Policy", CSP)
        # Pages carry the visitor's CSRF token, and a reader's votes, saves and name: no
        # shared cache may keep them, and a signed-in page is not kept at all, so Back
        # after a vote, a save or signing out asks the server again instead of showing
        # the page as it was.
        headers.setdefault("Cache-Control", "no-store" if session else "private, no-cache")
        headers.add_vary_header("Cookie")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api", "/admin/")) or path == "/openapi.json"


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)
        message = exc.detail
        if exc.status_code == 404 and message == "Not Found":
            message = (
                "There is no page at this address. It may have moved, or the link is mistyped."
            )
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        message = validation_message(request, exc.errors())
        if _wants_json(request):
            return JSONResponse({"error": message}, 400)
        return render(request, "error.html", {"status": 400, "message": message}, status_code=400)

    @app.exception_handler(IndexDamaged)
    async def index_damaged(request: Request, exc: IndexDamaged) -> Response:
        log.error("%s", exc)
        message = "Search is unavailable: the search index is damaged. " + REBUILD_HINT[0].upper()
        message += REBUILD_HINT[1:] + "."
        if _wants_json(request):
            return JSONResponse({"error": message}, 503)
        return render(request, "error.html", {"status": 503, "message": message}, status_code=503)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Something went wrong on our side. The error has been logged."
        if _wants_json(request):
            return JSONResponse({"error": message}, 500)
        return render(request, "error.html", {"status": 500, "message": message}, status_code=500)
