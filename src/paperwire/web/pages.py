"""HTML routes: daily papers, trending, search, paper pages, sign-in, votes, API docs.

Pages and votes are `async def` (no thread hop; see web/api.py); sign-in and sign-out stay
`def`, in the thread pool."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperwire.mail import MAIL_DOWN, DeliveryError
from paperwire.search.engine import MAX_RESULTS, MODES
from paperwire.service import Service
from paperwire.web import listing
from paperwire.web.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Auth,
    LoginError,
    normalise_email,
    safe_next,
)
from paperwire.web.paper_path import PaperId
from paperwire.web.render import render, with_query
from paperwire.web.schemas import page_count

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
PER_PAGE = 50
SEARCH_PER_PAGE = 20
SEARCH_MODES = MODES  # hybrid (default), lexical, semantic: as the API takes them


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


def _bad(exc: Exception) -> HTTPException:
    return HTTPException(400, str(exc))


@router.get("/")
async def home(
    request: Request,
    day: Annotated[str | None, Query(alias="date")] = None,
    view: str = "day",
    sort: str = "date",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    service = _service(request)
    latest = listing.latest_day(service)
    if latest is None:
        return render(request, "first_run.html", {"data_dir": service.settings.data_dir})
    if sort not in ("date", "trending"):
        raise HTTPException(400, "sort must be 'date' or 'trending'")
    try:
        chosen = listing.parse_day(day) or latest  # the reader's day, kept across views
        window = listing.make_window(service, view, chosen)
    except listing.BadRequest as exc:
        raise _bad(exc) from exc
    user = _auth(request).current_user(request)
    found = listing.daily(service, window, sort, page, PER_PAGE, user)
    return render(
        request,
        "home.html",
        {
            "window": window,
            "day": chosen,
            "found": found,
            "sort": sort,
            "page": page,
            "latest": latest,
            "pages": page_count(found.total, PER_PAGE),
            "nav": _window_links(window, sort, latest, chosen),
            "empty_note": _empty_note(window, found, page, latest),
        },
    )


def _empty_note(window: listing.Window, found: listing.Listing, page: int, latest: date) -> str:
    """Why the page shows no papers (nothing when it shows some)."""
    if found.papers:
        return ""
    note = listing.empty_page_note(window, found.total, page, PER_PAGE, latest)
    return note[:1].upper() + note[1:]


def _window_links(window: listing.Window, sort: str, latest: date, day: date) -> dict[str, Any]:
    """Previous/next window and the day/week/month views of the reader's `day` (a month's
    anchor is its 1st, often a day without papers: the Day link went there)."""

    def link(anchor: date | None, view: str) -> str | None:
        if anchor is None:
            return None
        return with_query("/", date=anchor.isoformat(), view=view, sort=sort)

    nxt = window.next if window.next and window.next <= latest else None
    return {
        "prev": link(window.prev, window.view),
        "next": link(nxt, window.view),
        "views": {v: link(day, v) for v in listing.VIEWS},
    }


@router.get("/trending")
async def trending(
    request: Request,
    window: str = "week",
    day: Annotated[str | None, Query(alias="date")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    service = _service(request)
    latest = listing.latest_day(service)
    if latest is None:
        return render(request, "first_run.html", {"data_dir": service.settings.data_dir})
    try:
        span = listing.make_window(service, window, listing.parse_day(day) or latest)
    except listing.BadRequest as exc:
        raise _bad(exc) from exc
    user = _auth(request).current_user(request)
    found = listing.daily(service, span, "trending", page, PER_PAGE, user)
    return render(
        request,
        "trending.html",
        {
            "window": span,
            "found": found,
            "page": page,
            "pages": page_count(found.total, PER_PAGE),
            "day": day or "",
            "empty_note": _empty_note(span, found, page, latest),
        },
    )


@router.get("/search")
async def search_page(
    request: Request,
    q: str = "",  # the query parser refuses more than MAX_QUERY_CHARS, with a message
    category: Annotated[str, Query(max_length=64)] = "",
    since: str = "",
    until: str = "",
    sort: str = "relevance",
    page: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 1,
    mode: str = "hybrid",
) -> Response:
    service = _service(request)
    form = {
        "q": q,
        "category": category,
        "since": since,
        "until": until,
        "sort": sort,
        "mode": mode,
    }
    context: dict[str, Any] = {"form": form, "result": None, "error": None, "page": page}
    if sort not in listing.SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(listing.SORTS)}")
    if mode not in SEARCH_MODES:
        raise HTTPException(400, f"mode must be one of {', '.join(SEARCH_MODES)}")
    if q.strip() or category.strip() or since or until:
        try:
            low, high = listing.parse_bound(since, "since"), listing.parse_bound(until, "until")
            result = listing.search(
                service,
                q,
                sort,
                page,
                SEARCH_PER_PAGE,
                mode=mode,
                category=category,
                since=low,
                until=high,
            )
        except ValueError as exc:
            context["error"] = str(exc)
        else:
            user = _auth(request).current_user(request)
            found = listing.decorate(service, [h.paper for h in result.hits], user)
            shown = {p.arxiv_id for p in found.papers}
            result.hits = [h for h in result.hits if h.paper.arxiv_id in shown]
            context.update(result=result, found=found, pages=result.pages)
    status = 400 if context["error"] else 200
    return render(request, "search.html", context, status_code=status)


@router.get("/papers/{arxiv_id:paper}")
async def paper_page(request: Request, arxiv_id: PaperId) -> Response:
    service = _service(request)
    canonical = listing.canonical_id(arxiv_id)
    if canonical != arxiv_id:
        return RedirectResponse(f"/papers/{canonical}", 301)
    paper = service.paper(arxiv_id)
    if paper is None or paper.deleted:
        raise HTTPException(404, f"There is no paper {arxiv_id!r} here (yet).")
    user = _auth(request).current_user(request)
    found = listing.decorate(service, [paper], user, hide_dismissed=False)
    similar, _ = service.library.visible(
        user, [h.paper for h in listing.similar(service, paper.arxiv_id)]
    )
    collections = service.library.collections(user.id) if user else []
    return render(
        request,
        "paper.html",
        {"paper": paper, "found": found, "similar": similar, "collections": collections},
    )


@router.post("/vote")
async def vote(
    request: Request,
    arxiv_id: Annotated[str, Form(max_length=64)],
    action: Annotated[str, Form()] = "up",
    next_path: Annotated[str, Form(alias="next")] = "/",
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    auth = _auth(request)
    auth.check_csrf(request, csrf_token)
    wants_json = "application/json" in request.headers.get("accept", "")
    user = auth.current_user(request)
    if user is None:
        login = with_query("/login", next=safe_next(next_path))
        if wants_json:
            return JSONResponse({"error": "sign in to vote", "login": login}, 401)
        return RedirectResponse(login, 303)
    done = listing.cast_vote(_service(request), user, arxiv_id, action == "up")
    if done is None:
        raise HTTPException(404, f"There is no paper {arxiv_id!r} here.")
    if wants_json:
        return JSONResponse(
            {"arxiv_id": done[0].arxiv_id, "voted": action == "up", "upvotes": done[1]}
        )
    return RedirectResponse(safe_next(next_path), 303)


# -- sign-in -------------------------------------------------------------------


@router.get("/login")
async def login_form(
    request: Request, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    return render(request, "login.html", {"next": safe_next(next_path), "error": None})


@router.post("/login")
def login_send(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    next_path: Annotated[str, Form(alias="next")] = "/",
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    auth = _auth(request)
    auth.check_csrf(request, csrf_token)
    try:
        address = normalise_email(email)
    except ValueError as exc:
        ctx = {"next": safe_next(next_path), "error": str(exc), "email": email}
        return render(request, "login.html", ctx, status_code=400)
    try:  # the same answer for every address: sent (or limited), or mail is down
        auth.mail_login_link(address, next_path)
    except DeliveryError as exc:
        log.error("could not send a sign-in email: %s", exc.reply)
        ctx = {"next": safe_next(next_path), "error": MAIL_DOWN, "email": address}
        return render(request, "login.html", ctx, status_code=503)
    return render(request, "login_sent.html", {"email": address})


@router.get("/login/verify")
def login_confirm(
    request: Request,
    token: Annotated[str, Query(max_length=2000)] = "",
    next_path: Annotated[str, Query(alias="next")] = "/",
) -> Response:
    try:
        email = _auth(request).check_unused_login_token(token)
    except LoginError as exc:
        return render(request, "login.html", {"next": "/", "error": str(exc)}, status_code=400)
    return render(
        request,
        "login_confirm.html",
        {"email": email, "token": token, "next": safe_next(next_path)},
    )


@router.post("/login/verify")
def login_finish(
    request: Request,
    token: Annotated[str, Form(max_length=2000)],
    next_path: Annotated[str, Form(alias="next")] = "/",
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    auth = _auth(request)
    auth.check_csrf(request, csrf_token)
    try:
        user = auth.consume_login_token(token)
    except LoginError as exc:
        return render(request, "login.html", {"next": "/", "error": str(exc)}, status_code=400)
    value, max_age = auth.start_session(user)
    response = RedirectResponse(safe_next(next_path), 303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=auth.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
def logout(
    request: Request, csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None
) -> Response:
    auth = _auth(request)
    auth.check_csrf(request, csrf_token)
    auth.end_session(request)
    response = RedirectResponse("/", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    """The API reference, rendered from the OpenAPI document (no external assets)."""
    spec = request.app.openapi()
    return render(request, "docs.html", {"spec": spec})
