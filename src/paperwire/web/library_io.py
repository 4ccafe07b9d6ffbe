"""Routes that move a library in and out: importing a library file into a collection (form
and /api/v1), exporting a collection as BibTeX / CSL-JSON, and its RSS/Atom feed at a
secret URL (see paperwire/library_io.py for the token). Thin: read the upload within the
size limit, call the Service, render.

Uploads are refused with 413 by their Content-Length before anything is read, and again
while reading once more than the limit has arrived (a missing or false Content-Length
does not get past it)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from paperwire.bibliography import LibraryFileError
from paperwire.library import LibraryConflict, LibraryError, NotFound
from paperwire.library_io import ImportReport, collection_scope
from paperwire.models import Collection, Paper, User
from paperwire.numbers import ascii_int, is_ascii_digits
from paperwire.service import Service
from paperwire.web.auth import CSRF_FIELD, Auth
from paperwire.web.feeds import FEED_ITEMS, _export, _feed
from paperwire.web.library_api import (
    AUTH_ERRORS,
    Authorization,
    CollectionId,
    CsrfHeader,
    library_http_error,
    service_of,
)
from paperwire.web.library_api import reader as api_reader
from paperwire.web.library_pages import reader_or_login
from paperwire.web.render import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["library"], responses=AUTH_ERRORS)
FORM_SLACK = 64 * 1024  # multipart framing and the small fields around the file
DEFAULT_IMPORT_COLLECTION = "Imported"
FeedFormat = Literal["rss", "atom"]


def _too_big(limit: int) -> HTTPException:
    return HTTPException(
        413, f"The file is too large: library files may be at most {limit:,} bytes."
    )


@dataclass(slots=True)
class Upload:
    data: bytes
    filename: str = ""
    fields: dict[str, str] = field(default_factory=dict)


async def _body_within(request: Request, limit: int, file_limit: int) -> bytes:
    """The request body, or 413 (naming `file_limit`) once it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if is_ascii_digits(declared) and ascii_int(declared, limit) is None:
        raise _too_big(file_limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_big(file_limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(request: Request, limit: int) -> Upload:
    """The uploaded file: the `file` part of a multipart form (with its other fields), or
    the whole body otherwise. 413 past `limit` bytes of file."""
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    if not multipart:
        data = await _body_within(request, limit, limit)
        return Upload(data, request.query_params.get("filename", "")[:200])
    body = await _body_within(request, limit + FORM_SLACK, limit)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, replay(), max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"could not read the upload: {exc.message}") from exc
    upload = Upload(b"")
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name == "file":
                upload.data, upload.filename = await value.read(), value.filename or ""
        else:
            upload.fields[name] = value[:500]
    await form.close()
    if len(upload.data) > limit:
        raise _too_big(limit)
    return upload


def _run_import(
    service: Service, user: User, target: str | int, upload: Upload, fetch: bool
) -> ImportReport:
    if not upload.data.strip():
        raise HTTPException(400, "the file is empty: choose a BibTeX, CSL-JSON, RIS or id list")
    try:
        return service.import_library(user.id, target, upload.data, upload.filename, fetch)
    except LibraryFileError as exc:
        raise HTTPException(400, str(exc)) from exc
    except (LibraryError, LibraryConflict, NotFound) as exc:
        raise library_http_error(exc) from exc


def _form_target(fields: dict[str, str]) -> str | int:
    chosen = fields.get("collection_id", "").strip()
    if is_ascii_digits(chosen):  # else "new": a new collection
        number = ascii_int(chosen)
        if number is None:
            raise HTTPException(404, "you have no collection with that id")
        return number
    return fields.get("new_collection", "").strip() or DEFAULT_IMPORT_COLLECTION


# -- the import form ------------------------------------------------------------------------


@router.post("/library/import")
async def import_page(request: Request) -> Response:
    """Import a library file from the form on the library or a collection page."""
    service = service_of(request)
    auth: Auth = request.app.state.auth
    user = await run_in_threadpool(reader_or_login, request, "/library", False)
    if isinstance(user, Response):
        return user
    upload = await read_upload(request, service.settings.library_max_bytes)
    auth.check_csrf(request, upload.fields.get(CSRF_FIELD))
    fetch = upload.fields.get("fetch") == "on"
    target = _form_target(upload.fields)
    report = await run_in_threadpool(_run_import, service, user, target, upload, fetch)
    context = {"report": report, "filename": upload.filename, "asked_fetch": fetch}
    return render(request, "library/import_result.html", context)


# -- a collection's exports and its secret feed -------------------------------------------------


def _own_collection(service: Service, user_id: int, collection_id: int) -> Collection:
    """The reader's collection, else 404 (another reader's too, as if it did not exist)."""
    try:
        return service.library.collection(user_id, collection_id)
    except NotFound as exc:
        raise library_http_error(exc) from exc


def _all_papers(service: Service, user: User, collection_id: int, limit: int | None) -> list[Paper]:
    try:
        entries = service.library.collection_papers(user.id, collection_id, "added", limit)
    except NotFound as exc:
        raise library_http_error(exc) from exc
    return [p for _, p in entries if p is not None and not p.deleted]


def _export_collection(service: Service, user: User, collection_id: int, fmt: str) -> Response:
    collection = _own_collection(service, user.id, collection_id)
    papers = _all_papers(service, user, collection_id, None)
    stem = "".join(c if c.isalnum() else "-" for c in collection.name).strip("-") or "collection"
    response = _export(papers, fmt, f"paperwire-{stem}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/library/{collection_id}/export")
def export_page(request: Request, collection_id: CollectionId, format: str = "bibtex") -> Response:
    """The whole collection as BibTeX (format=bibtex) or CSL-JSON (format=csljson)."""
    user = reader_or_login(request, f"/library/{collection_id}", answer_json=False)
    if isinstance(user, Response):
        return user
    return _export_collection(service_of(request), user, collection_id, format)


def feed_urls(service: Service, user: User, collection_id: int) -> dict[str, str]:
    token = service.feed_tokens.token(user.id, collection_scope(collection_id))
    base = service.settings.base_url.rstrip("/")
    return {
        fmt: f"{base}/feeds/collections/{collection_id}.{fmt}?token={token}"
        for fmt in ("rss", "atom")
    }


@router.get("/library/{collection_id}/feed")
def feed_page(request: Request, collection_id: CollectionId) -> Response:
    """The collection's secret feed URLs, and the button that revokes them."""
    user = reader_or_login(request, f"/library/{collection_id}/feed", answer_json=False)
    if isinstance(user, Response):
        return user
    service = service_of(request)
    collection = _own_collection(service, user.id, collection_id)
    context = {"collection": collection, "urls": feed_urls(service, user, collection_id)}
    response = render(request, "library/feed.html", context)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.post("/library/feeds/rotate")
async def rotate_feeds(request: Request) -> Response:
    """New feed URLs for every feed of the reader; the old ones stop working."""
    service = service_of(request)
    auth: Auth = request.app.state.auth
    form = await request.form(max_files=0, max_fields=5)
    auth.check_csrf(request, str(form.get(CSRF_FIELD) or ""))
    user = await run_in_threadpool(reader_or_login, request, "/library", False)
    if isinstance(user, Response):
        return user
    await run_in_threadpool(service.feed_tokens.rotate, user.id)
    back = str(form.get("next") or "/library")
    return RedirectResponse(back if back.startswith("/library") else "/library", 303)


@router.get("/feeds/collections/{collection_id}.{fmt}")
def collection_feed(
    request: Request,
    collection_id: CollectionId,
    fmt: FeedFormat,
    token: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """A collection as RSS or Atom, its FEED_ITEMS newest added first; `token` from its
    feed page."""
    service = service_of(request)
    owner = service.feed_tokens.owner(token, collection_scope(collection_id))
    if owner is None:
        raise HTTPException(404, "There is no feed at this address (the link may have been reset).")
    user = User(id=owner, email="")
    collection = _own_collection(service, owner, collection_id)
    papers = _all_papers(service, user, collection_id, FEED_ITEMS)
    title = f"collection {collection.name}"
    more = collection.size if collection.size > FEED_ITEMS else None  # size counts withdrawn ones
    response = _feed(request, fmt, title, "/library", papers, more)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- the same through /api/v1 ---------------------------------------------------------------------


class ImportOut(BaseModel):
    format: str = Field(description="bibtex | csljson | ris | idlist")
    entries: int = Field(
        description="every entry of the file: matched + duplicates + unmatched + malformed"
    )
    matched: list[dict[str, str]] = Field(description="arxiv_id and `by` (how it was found)")
    fetched: list[str] = Field(description="fetched from arXiv for this import")
    duplicates: int = Field(description="entries naming a paper an earlier entry matched")
    unmatched: list[dict[str, Any]]
    malformed: list[dict[str, str]] = Field(description="key and reason of each broken entry")
    fetch_error: str | None
    collection: dict[str, Any]
    added: int
    already: int


class FeedUrlsOut(BaseModel):
    rss: str
    atom: str


_FILE = {"type": "string", "format": "binary"}
# The import route reads its body itself (web/library_io.read_upload): documented by hand.
IMPORT_BODY = {
    "required": True,
    "description": "The file: BibTeX, CSL-JSON, RIS or a list of arXiv ids/URLs/DOIs (the "
    "format is told from the content), or a multipart form with a `file` part.",
    "content": {
        "application/x-bibtex": {"schema": {"type": "string"}},
        "application/vnd.citationstyles.csl+json": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "string"}},
        "application/x-research-info-systems": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
        "application/octet-stream": {"schema": _FILE},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": _FILE}, "required": ["file"]}
        },
    },
}
EXPORT_ANSWER = {
    "description": "The collection as BibTeX (format=bibtex) or CSL-JSON (format=csljson).",
    "content": {
        "application/x-bibtex": {"schema": {"type": "string"}},
        "application/vnd.citationstyles.csl+json": {
            "schema": {"type": "array", "items": {"type": "object"}}
        },
    },
}


@api_router.post(
    "/collections/{collection_id}/import",
    summary="Import a library file into a collection",
    response_model=ImportOut,
    responses={413: {"description": "The file is larger than library_max_bytes."}},
    openapi_extra={"requestBody": IMPORT_BODY},
)
async def import_api(
    request: Request,
    collection_id: CollectionId,
    fetch: bool = False,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> ImportOut:
    """The body is the file (BibTeX, CSL-JSON, RIS or a list of arXiv ids/URLs/DOIs), or a
    multipart form with a `file` part. With `fetch=true`, papers known by arXiv id but not
    stored here are fetched from the arXiv API first (slow: seconds per 100 papers)."""
    service = service_of(request)
    user = await run_in_threadpool(api_reader, request, authorization, x_csrf_token, True)
    # another reader's collection: 404 before the upload is read
    await run_in_threadpool(_own_collection, service, user.id, collection_id)
    upload = await read_upload(request, service.settings.library_max_bytes)
    report = await run_in_threadpool(_run_import, service, user, collection_id, upload, fetch)
    return ImportOut.model_validate(report.as_dict())


@api_router.get(
    "/collections/{collection_id}/export",
    summary="Export a collection as BibTeX or CSL-JSON",
    response_class=Response,
    responses={200: EXPORT_ANSWER},
)
def export_api(
    request: Request,
    collection_id: CollectionId,
    format: Literal["bibtex", "csljson"] = "bibtex",
    authorization: Authorization = None,
) -> Response:
    user = api_reader(request, authorization, None, False)
    return _export_collection(service_of(request), user, collection_id, format)


@api_router.get(
    "/collections/{collection_id}/feed",
    summary="Secret RSS/Atom URLs of a collection",
    response_model=FeedUrlsOut,
)
def feed_api(
    request: Request, collection_id: CollectionId, authorization: Authorization = None
) -> Response:
    """Feed readers cannot sign in: these URLs carry a token. Keep them private; the
    library page's "reset feed links" makes new ones and stops the old."""
    user = api_reader(request, authorization, None, False)
    service = service_of(request)
    _own_collection(service, user.id, collection_id)
    return JSONResponse(
        feed_urls(service, user, collection_id), headers={"Cache-Control": "no-store"}
    )
