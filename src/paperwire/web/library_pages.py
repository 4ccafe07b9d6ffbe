"""HTML routes of the reader's library: collections, save / thumbs buttons, followed
authors, the account page (API tokens) and the per-paper links of digest emails.

A thin shell over Service.library. Every form carries the CSRF token; the buttons on paper
lists post a form and redirect back (no JavaScript needed), or answer JSON when app.js
sends them with fetch (Accept: application/json).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperwire.library import (
    FOLLOWED_DAYS,
    ITEM_SORTS,
    Library,
    LibraryConflict,
    LibraryError,
    NotFound,
)
from paperwire.models import User
from paperwire.numbers import MAX_ROW_ID
from paperwire.web import listing
from paperwire.web.auth import CSRF_FIELD, Auth, safe_next
from paperwire.web.library_api import CollectionId, library_http_error, service_of
from paperwire.web.render import render, with_query
from paperwire.web.schemas import page_count

router = APIRouter(include_in_schema=False)
PER_PAGE = 50  # papers per collection page (each carries its note form)
Csrf = Annotated[str | None, Form(alias=CSRF_FIELD)]
Next = Annotated[str, Form(alias="next")]
PaperField = Annotated[str, Form(max_length=64)]
# names and notes are checked by the library, whose messages state the real limits (100
# characters a name, 5,000 a note); the form only stops what no browser field would send
FORM_TEXT_CAP = 100_000
NameField = Annotated[str, Form(max_length=FORM_TEXT_CAP)]
ACTS = {
    "save": "saved",
    "unsave": "removed from your collections",
    "like": "liked",
    "unlike": "no longer liked",
    "dismiss": "marked not interested (hidden from your lists)",
    "undismiss": "shown again in your lists",
}


def _library(request: Request) -> Library:
    return service_of(request).library


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def reader_or_login(request: Request, back: str, answer_json: bool = True) -> User | Response:
    """The signed-in reader, else the way to sign in and come back to `back`: a redirect to
    the login page, or (answer_json, when app.js sent it with fetch) 401 JSON naming it."""
    user = _auth(request).current_user(request)
    if user is not None:
        return user
    login = with_query("/login", next=safe_next(back))
    if answer_json and _wants_json(request):
        return JSONResponse({"error": "sign in first", "login": login}, 401)
    return RedirectResponse(login, 303)


def _reader(request: Request, back: str, csrf: str | None) -> User | Response:
    """reader_or_login for a post: its CSRF token is checked first."""
    _auth(request).check_csrf(request, csrf)
    return reader_or_login(request, back)


def _back(request: Request, next_path: str, body: dict[str, Any]) -> Response:
    if _wants_json(request):
        return JSONResponse(body)
    return RedirectResponse(safe_next(next_path), 303)


# -- buttons on every paper list and the paper page ---------------------------------------


@router.post("/library/act")
def library_act(
    request: Request,
    arxiv_id: PaperField,
    do: Annotated[str, Form(max_length=16)],
    collection_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None,
    new_collection: NameField = "",
    next_path: Next = "/",
    csrf_token: Csrf = None,
) -> Response:
    """Save / unsave / like / unlike / dismiss / undismiss one paper."""
    user = _reader(request, next_path, csrf_token)
    if isinstance(user, Response):
        return user
    library = _library(request)
    if do not in ACTS:
        raise HTTPException(400, f"do must be one of {', '.join(ACTS)}")
    try:
        body = _act(library, user, arxiv_id, do, collection_id, new_collection)
    except (LibraryError, NotFound) as exc:
        raise library_http_error(exc) from exc
    return _back(request, next_path, body)


def _act(
    library: Library,
    user: User,
    arxiv_id: str,
    do: str,
    collection_id: int | None,
    new_collection: str,
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if do == "save":
        target, paper = library.save(user.id, arxiv_id, collection_id, new_collection)
        extra["collection"] = {"id": target.id, "name": target.name, "url": f"/library/{target.id}"}
        arxiv_id = paper.arxiv_id
    elif do == "unsave":
        library.unsave(user.id, arxiv_id, collection_id)
    else:
        rating = {"like": "up", "dismiss": "down"}.get(do, "none")
        arxiv_id = library.rate(user.id, arxiv_id, rating).arxiv_id
    marks = library.marks(user.id if user else None, [library.paper(arxiv_id)])
    return {
        "arxiv_id": arxiv_id,
        "done": ACTS[do],
        "saved": bool(marks.saved.get(arxiv_id)),
        "rating": marks.ratings.get(arxiv_id, 0),
        **extra,
    }


@router.post("/follow")
def follow(
    request: Request,
    follow_name: Annotated[str | None, Form(alias="follow", max_length=200)] = None,
    unfollow_name: Annotated[str | None, Form(alias="unfollow", max_length=200)] = None,
    next_path: Next = "/",
    csrf_token: Csrf = None,
) -> Response:
    """Follow (field `follow`) or unfollow (field `unfollow`) an author by name."""
    user = _reader(request, next_path, csrf_token)
    if isinstance(user, Response):
        return user
    name = follow_name or unfollow_name
    if not name:
        raise HTTPException(400, "say which author: the follow or unfollow field")
    library = _library(request)
    try:
        if follow_name:
            library.follow(user.id, follow_name)
        else:
            library.unfollow(user.id, name)
    except LibraryError as exc:
        raise library_http_error(exc) from exc
    following = bool(follow_name)
    return _back(request, next_path, {"name": " ".join(name.split()), "following": following})


# -- collections ------------------------------------------------------------------------------


@router.get("/library")
def library_page(request: Request) -> Response:
    user = reader_or_login(request, "/library")
    if isinstance(user, Response):
        return user
    library = _library(request)
    context = {"collections": library.collections(user.id), "error": None}
    return render(request, "library/index.html", context)


@router.post("/library/new")
def create_collection(
    request: Request,
    name: NameField = "",
    csrf_token: Csrf = None,
) -> Response:
    user = _reader(request, "/library", csrf_token)
    if isinstance(user, Response):
        return user
    library = _library(request)
    try:
        made = library.create_collection(user.id, name)
    except (LibraryError, LibraryConflict) as exc:
        context = {"collections": library.collections(user.id), "error": str(exc), "name": name}
        return render(request, "library/index.html", context, status_code=400)
    return RedirectResponse(f"/library/{made.id}", 303)


@router.get("/library/{collection_id}")
def collection_page(
    request: Request,
    collection_id: CollectionId,
    sort: Annotated[str, Query(max_length=16)] = "added",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    path = f"/library/{collection_id}"
    user = reader_or_login(request, path)
    if isinstance(user, Response):
        return user
    if sort not in ITEM_SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(ITEM_SORTS)}")
    library = _library(request)
    try:
        collection = library.collection(user.id, collection_id)
        offset = (page - 1) * PER_PAGE
        entries = library.collection_papers(user.id, collection_id, sort, PER_PAGE, offset)
    except NotFound as exc:
        raise library_http_error(exc) from exc
    papers = [p for _, p in entries if p is not None]
    found = listing.decorate(service_of(request), papers, user, hide_dismissed=False)
    context = {
        "collection": collection,
        "entries": entries,
        "found": found,
        "sort": sort,
        "sorts": ITEM_SORTS,
        "page": page,
        "pages": page_count(collection.size, PER_PAGE),
    }
    return render(request, "library/collection.html", context)


@router.post("/library/{collection_id}/rename")
def rename_collection(
    request: Request,
    collection_id: CollectionId,
    name: NameField = "",
    csrf_token: Csrf = None,
) -> Response:
    return _change(
        request,
        csrf_token,
        f"/library/{collection_id}",
        lambda lib, user: lib.rename_collection(user.id, collection_id, name),
    )


@router.post("/library/{collection_id}/delete")
def delete_collection(
    request: Request, collection_id: CollectionId, csrf_token: Csrf = None
) -> Response:
    return _change(
        request,
        csrf_token,
        "/library",
        lambda lib, user: lib.delete_collection(user.id, collection_id),
    )


@router.post("/library/{collection_id}/note")
def set_note(
    request: Request,
    collection_id: CollectionId,
    arxiv_id: PaperField,
    note: Annotated[str, Form(max_length=FORM_TEXT_CAP)] = "",
    next_path: Next = "",
    csrf_token: Csrf = None,
) -> Response:
    back = safe_next(next_path or f"/library/{collection_id}")
    return _change(
        request,
        csrf_token,
        back,
        lambda lib, user: lib.set_note(user.id, collection_id, arxiv_id, note),
        {"arxiv_id": arxiv_id, "note": note.strip()},
    )


@router.post("/library/{collection_id}/remove")
def remove_item(
    request: Request,
    collection_id: CollectionId,
    arxiv_id: PaperField,
    next_path: Next = "",
    csrf_token: Csrf = None,
) -> Response:
    back = safe_next(next_path or f"/library/{collection_id}")
    return _change(
        request,
        csrf_token,
        back,
        lambda lib, user: lib.remove_item(user.id, collection_id, arxiv_id),
        {"arxiv_id": arxiv_id, "removed": True},
    )


def _change(
    request: Request,
    csrf: str | None,
    back: str,
    change: Any,
    body: dict[str, Any] | None = None,
) -> Response:
    """Check CSRF and sign-in, make `change(library, user)`, go `back` (or answer JSON)."""
    user = _reader(request, back, csrf)
    if isinstance(user, Response):
        return user
    try:
        change(_library(request), user)
    except (LibraryError, LibraryConflict, NotFound) as exc:
        raise library_http_error(exc) from exc
    return _back(request, back, body or {"ok": True})


# -- followed authors -------------------------------------------------------------------------


@router.get("/following")
def following_page(request: Request, days: int = 30) -> Response:
    user = reader_or_login(request, "/following")
    if isinstance(user, Response):
        return user
    if days not in FOLLOWED_DAYS:
        raise HTTPException(400, f"days must be one of {', '.join(map(str, FOLLOWED_DAYS))}")
    library = _library(request)
    authors = library.followed_papers(user, days)
    papers = [p for _, found in authors for p in found]
    found = listing.decorate(service_of(request), papers, user, hide_dismissed=False)
    context = {"authors": authors, "found": found, "days": days, "choices": FOLLOWED_DAYS}
    return render(request, "following.html", context)


# -- account: API tokens -----------------------------------------------------------------------


@router.get("/account")
def account_page(request: Request) -> Response:
    user = reader_or_login(request, "/account")
    if isinstance(user, Response):
        return user
    return _account(request, user)


def _account(
    request: Request, user: User, secret: str | None = None, error: str | None = None
) -> Response:
    context = {"tokens": _library(request).tokens(user.id), "secret": secret, "error": error}
    return render(request, "account.html", context, status_code=400 if error else 200)


@router.post("/account/tokens")
def create_token(
    request: Request,
    name: NameField = "",
    csrf_token: Csrf = None,
) -> Response:
    user = _reader(request, "/account", csrf_token)
    if isinstance(user, Response):
        return user
    try:
        _, secret = _library(request).create_token(user.id, name)
    except LibraryError as exc:
        return _account(request, user, error=str(exc))
    response = _account(request, user, secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/revoke")
def revoke_token(
    request: Request, token_id: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf_token: Csrf = None
) -> Response:
    return _change(
        request,
        csrf_token,
        "/account",
        lambda lib, user: lib.revoke_token(user.id, token_id),
    )


# -- per-paper links from digest emails ---------------------------------------------------------


@router.get("/email-action")
def email_action_form(
    request: Request, token: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """Show what the link will do, with one button: mail scanners that open every link
    in an email must not thumb down or save anything by themselves."""
    return _email_action(request, token, done=False)


@router.post("/email-action")
def email_action(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    csrf_token: Csrf = None,
) -> Response:
    _auth(request).check_csrf(request, csrf_token)
    return _email_action(request, token, done=True)


def _email_action(request: Request, token: str, done: bool) -> Response:
    """The page of an email link: what it will do (done=False) or, applied, what it did;
    a bad or expired token is a 400 page."""
    library = _library(request)
    look = library.apply_email_action if done else library.email_action_owner
    try:
        wanted, found = look(token)
    except (LibraryError, NotFound) as exc:
        context = {"status": 400, "message": str(exc)}
        return render(request, "error.html", context, status_code=400)
    context = {"wanted": wanted, "paper": found, "token": token, "done": done}
    return render(request, "email_action.html", context)
