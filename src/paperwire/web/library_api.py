"""/api/v1 routes of the reader's library: collections and their papers, thumbs up/down,
followed authors. Authenticated by an API token (``Authorization: Bearer pw_…``, made on
the account page) or by the site's session cookie plus the ``X-CSRF-Token`` header for
changes. Another reader's collection ids answer 404, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from paperwire.library import FOLLOWED_DAYS, Library, LibraryConflict, LibraryError, NotFound
from paperwire.models import Collection, CollectionEntry, Paper, User
from paperwire.numbers import MAX_ROW_ID
from paperwire.service import Service
from paperwire.web.auth import Auth
from paperwire.web.paper_path import PaperId
from paperwire.web.schemas import ErrorOut, PaperOut, paper_out

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Invalid input; `error` says what."},
    401: {"model": ErrorOut, "description": "No valid API token or session."},
    403: {"model": ErrorOut, "description": "Session without a valid X-CSRF-Token header."},
    404: {"model": ErrorOut, "description": "No such paper, or no such collection of yours."},
}


def _paper(paper: Paper, upvotes: int) -> PaperOut:
    """paper_out's JSON shape as the model these (pydantic-serialised) routes return."""
    return PaperOut.model_validate(paper_out(paper, upvotes))


router = APIRouter(prefix="/api/v1", tags=["library"], responses=AUTH_ERRORS)
CollectionId = Annotated[
    int, Path(ge=1, le=MAX_ROW_ID, description="id of one of your collections")
]
Authorization = Annotated[
    str | None, Header(description="Bearer <API token from the account page>")
]
CsrfHeader = Annotated[
    str | None,
    Header(alias="X-CSRF-Token", description="with a session cookie: the page's csrf_token"),
]


class CollectionOut(BaseModel):
    id: int
    name: str
    size: int = Field(description="papers in it")
    created_at: datetime
    url: str = Field(description="its page on the site")


class ItemOut(BaseModel):
    arxiv_id: str
    added_at: datetime
    note: str
    paper: PaperOut | None = Field(description="null if the paper has left this paperwire")


class CollectionItemsOut(BaseModel):
    collection: CollectionOut
    sort: str
    page: int
    items: list[ItemOut]


class NameIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ItemIn(BaseModel):
    note: str | None = Field(
        default=None, max_length=5000, description="set the note (omit: keep it)"
    )


class AddOut(BaseModel):
    collection: CollectionOut
    added: int
    already: int
    missing: list[str] = Field(description="ids not stored in this paperwire (skipped)")


class IdsIn(BaseModel):
    arxiv_ids: list[str] = Field(min_length=1, max_length=1000)


class RatingIn(BaseModel):
    rating: Literal["up", "down"] = Field(description='"down" = not interested')


class RatingOut(BaseModel):
    arxiv_id: str
    rating: int = Field(description="1 thumbs up, -1 thumbs down, 0 none")


class FollowIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="author name as on arXiv")


class FollowedPapersOut(BaseModel):
    name: str
    papers: list[PaperOut]


def service_of(request: Request) -> Service:
    """The app's Service (set up by create_app), typed."""
    service: Service = request.app.state.service
    return service


def _library(request: Request) -> Library:
    return service_of(request).library


def reader(request: Request, authorization: str | None, csrf: str | None, write: bool) -> User:
    """The API token's owner, else the session's reader (CSRF header checked on writes)."""
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        user = _library(request).token_user(secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HTTPException(401, "the API token is unknown or revoked")
        return user
    auth: Auth = request.app.state.auth
    session = auth.current_user(request)
    if session is None:
        raise HTTPException(401, "send Authorization: Bearer <API token>, or sign in")
    if write:
        auth.check_csrf(request, csrf)
    return session


def library_http_error(exc: Exception) -> HTTPException:
    """A library error as HTTP: NotFound 404, LibraryConflict 409, anything else 400."""
    if isinstance(exc, NotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, LibraryConflict):
        return HTTPException(409, str(exc))
    return HTTPException(400, str(exc))


def _collection_out(c: Collection) -> CollectionOut:
    return CollectionOut(
        id=c.id, name=c.name, size=c.size, created_at=c.created_at, url=f"/library/{c.id}"
    )


@router.get("/collections", summary="My collections", response_model=list[CollectionOut])
def list_collections(request: Request, authorization: Authorization = None) -> list[CollectionOut]:
    """Your collections, oldest first ("Saved" is made on first use)."""
    user = reader(request, authorization, None, False)
    return [_collection_out(c) for c in _library(request).collections(user.id)]


@router.post(
    "/collections",
    summary="Create a collection",
    response_model=CollectionOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "You have one of that name."}},
)
def create_collection(
    request: Request,
    body: NameIn,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> CollectionOut:
    user = reader(request, authorization, x_csrf_token, True)
    try:
        return _collection_out(_library(request).create_collection(user.id, body.name))
    except (LibraryError, LibraryConflict) as exc:
        raise library_http_error(exc) from exc


@router.get(
    "/collections/{collection_id}",
    summary="A collection's papers",
    response_model=CollectionItemsOut,
)
def collection_items(
    request: Request,
    collection_id: CollectionId,
    sort: Literal["added", "date", "title"] = "added",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 100,
    authorization: Authorization = None,
) -> CollectionItemsOut:
    """Your collection with its papers: newest added first, by paper date, or by title;
    `per_page` of them (pages: `collection.size` / `per_page`)."""
    user = reader(request, authorization, None, False)
    library = _library(request)
    try:
        collection = library.collection(user.id, collection_id)
        offset = (page - 1) * per_page
        entries = library.collection_papers(user.id, collection_id, sort, per_page, offset)
    except (LibraryError, NotFound) as exc:
        raise library_http_error(exc) from exc
    service = service_of(request)
    upvotes = service.upvotes([p for _, p in entries if p is not None])
    items = [_item_out(e, p, upvotes[p.arxiv_id] if p is not None else 0) for e, p in entries]
    return CollectionItemsOut(
        collection=_collection_out(collection), sort=sort, page=page, items=items
    )


@router.patch(
    "/collections/{collection_id}",
    summary="Rename a collection",
    response_model=CollectionOut,
    responses={409: {"model": ErrorOut, "description": "You have one of that name."}},
)
def rename_collection(
    request: Request,
    collection_id: CollectionId,
    body: NameIn,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> CollectionOut:
    user = reader(request, authorization, x_csrf_token, True)
    try:
        renamed = _library(request).rename_collection(user.id, collection_id, body.name)
    except (LibraryError, LibraryConflict, NotFound) as exc:
        raise library_http_error(exc) from exc
    return _collection_out(renamed)


@router.delete(
    "/collections/{collection_id}",
    summary="Delete a collection",
    status_code=204,
    response_class=Response,
)
def delete_collection(
    request: Request,
    collection_id: CollectionId,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> Response:
    """Delete the collection and its items (the papers stay on paperwire)."""
    return _remove(
        request,
        authorization,
        x_csrf_token,
        lambda library, user_id: library.delete_collection(user_id, collection_id),
    )


@router.post(
    "/collections/{collection_id}/items",
    summary="Add papers to a collection",
    response_model=AddOut,
)
def add_items(
    request: Request,
    collection_id: CollectionId,
    body: IdsIn,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> AddOut:
    """Add papers by arXiv id (any form: versioned, arXiv:…, abs URL). Ids not stored in
    this paperwire are skipped and listed in `missing`."""
    user = reader(request, authorization, x_csrf_token, True)
    try:
        done = _library(request).add_to_collection(user.id, collection_id, body.arxiv_ids)
    except (LibraryError, NotFound) as exc:
        raise library_http_error(exc) from exc
    return AddOut(
        collection=_collection_out(done.collection),
        added=done.added,
        already=done.already,
        missing=done.missing,
    )


@router.put(
    "/collections/{collection_id}/items/{arxiv_id:paper}",
    summary="Add one paper, or change its note",
    response_model=ItemOut,
)
def put_item(
    request: Request,
    collection_id: CollectionId,
    arxiv_id: PaperId,
    body: Annotated[ItemIn | None, Body()] = None,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> ItemOut:
    """Idempotent: adds the paper if missing; sets its note when `note` is given."""
    user = reader(request, authorization, x_csrf_token, True)
    note = body.note if body is not None else None
    try:
        paper, entry = _library(request).put_item(user.id, collection_id, arxiv_id, note)
    except (LibraryError, NotFound) as exc:
        raise library_http_error(exc) from exc
    service = service_of(request)
    return _item_out(entry, paper, service.upvotes([paper])[paper.arxiv_id])


def _item_out(entry: CollectionEntry, paper: Paper | None, upvotes: int) -> ItemOut:
    out = _paper(paper, upvotes) if paper is not None else None
    return ItemOut(arxiv_id=entry.arxiv_id, added_at=entry.added_at, note=entry.note, paper=out)


@router.delete(
    "/collections/{collection_id}/items/{arxiv_id:paper}",
    summary="Remove a paper from a collection",
    status_code=204,
    response_class=Response,
)
def delete_item(
    request: Request,
    collection_id: CollectionId,
    arxiv_id: PaperId,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> Response:
    return _remove(
        request,
        authorization,
        x_csrf_token,
        lambda library, user_id: library.remove_item(user_id, collection_id, arxiv_id),
    )


def _remove(
    request: Request,
    authorization: str | None,
    csrf: str | None,
    remove: Callable[[Library, int], object],
) -> Response:
    """`remove(library, user_id)` for the caller, 404 if it is not theirs, else 204."""
    user = reader(request, authorization, csrf, True)
    try:
        remove(_library(request), user.id)
    except NotFound as exc:
        raise library_http_error(exc) from exc
    return Response(status_code=204)


@router.get("/ratings", summary="My thumbs up/down", response_model=list[RatingOut])
def list_ratings(request: Request, authorization: Authorization = None) -> list[RatingOut]:
    """Papers you rated, newest first: 1 thumbs up, -1 thumbs down ("not interested")."""
    user = reader(request, authorization, None, False)
    rated = _library(request).ratings(user.id)
    return [RatingOut(arxiv_id=k, rating=v) for k, v in rated.items()]


@router.put("/ratings/{arxiv_id:paper}", summary="Thumbs up or down", response_model=RatingOut)
def put_rating(
    request: Request,
    arxiv_id: PaperId,
    body: RatingIn,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> RatingOut:
    """Thumbs down hides the paper from your lists on the site."""
    return _rate(request, arxiv_id, body.rating, authorization, x_csrf_token)


@router.delete("/ratings/{arxiv_id:paper}", summary="Take back a rating", response_model=RatingOut)
def delete_rating(
    request: Request,
    arxiv_id: PaperId,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> RatingOut:
    return _rate(request, arxiv_id, "none", authorization, x_csrf_token)


def _rate(
    request: Request, arxiv_id: str, rating: str, authorization: str | None, csrf: str | None
) -> RatingOut:
    user = reader(request, authorization, csrf, True)
    try:
        paper = _library(request).rate(user.id, arxiv_id, rating)
    except (LibraryError, NotFound) as exc:
        raise library_http_error(exc) from exc
    return RatingOut(arxiv_id=paper.arxiv_id, rating={"up": 1, "down": -1}.get(rating, 0))


@router.get("/follows", summary="Followed authors", response_model=list[str])
def list_follows(request: Request, authorization: Authorization = None) -> list[str]:
    """Names you follow (the same list as your email digest's, for the same address)."""
    user = reader(request, authorization, None, False)
    return _library(request).follows(user.id)


@router.post("/follows", summary="Follow an author", response_model=list[str])
def add_follow(
    request: Request,
    body: FollowIn,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> list[str]:
    """Follow a name; returns the new list. Matching is by exact normalised name."""
    return _change_follows(request, authorization, x_csrf_token, Library.follow, body.name)


@router.delete("/follows", summary="Unfollow an author", response_model=list[str])
def remove_follow(
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=200)],
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> list[str]:
    return _change_follows(request, authorization, x_csrf_token, Library.unfollow, name)


def _change_follows(
    request: Request,
    authorization: str | None,
    csrf: str | None,
    change: Callable[[Library, int, str], object],
    name: str,
) -> list[str]:
    """`change(library, user_id, name)` (follow or unfollow), then the new list."""
    user = reader(request, authorization, csrf, True)
    library = _library(request)
    try:
        change(library, user.id, name)
    except LibraryError as exc:
        raise library_http_error(exc) from exc
    return library.follows(user.id)


@router.get(
    "/follows/papers",
    summary="New papers of followed authors",
    response_model=list[FollowedPapersOut],
)
def followed_papers(
    request: Request,
    days: Annotated[int, Query(description=f"one of {FOLLOWED_DAYS}")] = 30,
    authorization: Authorization = None,
) -> list[FollowedPapersOut]:
    """Per followed name, papers listed in the last `days` days with an author of exactly
    that name (case, accents, dots and spacing ignored; namesakes are not told apart)."""
    user = reader(request, authorization, None, False)
    if days not in FOLLOWED_DAYS:
        raise HTTPException(400, f"days must be one of {', '.join(map(str, FOLLOWED_DAYS))}")
    service = service_of(request)
    out = []
    for name, papers in _library(request).followed_papers(user, days):
        counts = service.upvotes(papers)
        out.append(
            FollowedPapersOut(name=name, papers=[_paper(p, counts[p.arxiv_id]) for p in papers])
        )
    return out
