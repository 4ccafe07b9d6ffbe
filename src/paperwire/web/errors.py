"""Unhandled errors answered and logged once: a pure ASGI middleware inside Starlette's
ServerErrorMiddleware, which would log each again ("Exception in ASGI application") and
re-raise it to uvicorn. A database that cannot be reached is 503 with Retry-After and one
line per request, not a traceback each."""

from __future__ import annotations

import logging
import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from fastapi.responses import JSONResponse
from pydantic import BaseModel
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


# A body that is missing or no JSON object: the message says what to send instead.
_NOT_AN_OBJECT = frozenset({"missing", "model_attributes_type", "model_type", "dict_type"})


def validation_message(request: Request, errors: Sequence[Mapping[str, Any]]) -> str:
    """What a request FastAPI could not validate got wrong, in our words: the parameter
    or body field named (`per_page: …`, `rating: …`), a body that is not JSON with where
    it stops being JSON, a missing or non-object body with the JSON to send."""
    problems = [_problem(request, err) for err in errors]
    return "; ".join(dict.fromkeys(problems)) or "invalid request"


def _problem(request: Request, err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type")
    if kind == "json_invalid":
        at = f"at character {loc[1] + 1}" if len(loc) > 1 and isinstance(loc[1], int) else ""
        why = str((err.get("ctx") or {}).get("error", "")).lower()
        detail = ": ".join(part for part in (at, why) if part)
        return f"body: not valid JSON ({detail})" if detail else "body: not valid JSON"
    if loc == ("body",) and kind in _NOT_AN_OBJECT:
        return f"body: send {_body_example(request)} as JSON (content-type: application/json)"
    name = ".".join(str(part) for part in loc[1:]) or (str(loc[0]) if loc else "request")
    return f"{name}: {err.get('msg')}"


def _body_example(request: Request) -> str:
    """`{"rating": …}`: the fields of the route's body model, or "a JSON object"."""
    field = getattr(request.scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    for model in (annotation, *options):
        if isinstance(model, type) and issubclass(model, BaseModel) and model.model_fields:
            return "{" + ", ".join(f'"{name}": …' for name in model.model_fields) + "}"
    return "an object"


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
