"""JSON routes: Hugging Face-compatible under /api, paperwire's own under /api/v1.

Every route is `async def`: its work is short and CPU-bound, so it runs on the event loop
rather than hopping to a thread that would only wait for the GIL the loop holds. Votes too:
in a thread, a vote's transaction waited for the GIL while holding SQLite's write lock, and
under load (bench_load.py) votes took seconds. Each route builds its body as plain dicts
(web/schemas.py) and sends it with JSONBody; `response_model` only documents it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request
from starlette.responses import Response

from paperwire.models import Paper, User
from paperwire.search.engine import MAX_RESULTS
from paperwire.search.query import MAX_QUERY_CHARS
from paperwire.service import Service
from paperwire.web import listing
from paperwire.web.library_api import Authorization, reader
from paperwire.web.paper_path import PaperId
from paperwire.web.schemas import (
    ErrorOut,
    HfDailyItem,
    HfPaper,
    JSONBody,
    PaperListOut,
    PaperOut,
    SearchOut,
    VoteOut,
    hf_item,
    hf_paper,
    hit_out,
    page_count,
    paper_out,
)

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Invalid parameters; `error` says which."},
    404: {"model": ErrorOut, "description": "No such paper."},
}
router = APIRouter(responses=ERRORS)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _found(service: Service, arxiv_id: str) -> Paper:
    paper = service.paper(listing.canonical_id(arxiv_id))
    if paper is None or paper.deleted:
        raise HTTPException(404, f"paper {arxiv_id!r} is not in this paperwire")
    return paper


def _hf_window(
    service: Service, day: str | None, week: str | None, month: str | None
) -> listing.Window:
    try:
        if day:
            return listing.make_window(service, "day", listing.parse_day(day) or date.today())
        if week:
            return listing.make_window(service, "week", listing.parse_week(week))
        if month:
            return listing.make_window(service, "month", listing.parse_month(month))
    except listing.BadRequest as exc:
        raise HTTPException(400, str(exc)) from exc
    latest = listing.latest_day(service) or date.today()
    return listing.make_window(service, "day", latest)


# -- Hugging Face-compatible ---------------------------------------------------


@router.get(
    "/api/daily_papers",
    summary="Daily papers (Hugging Face-compatible)",
    response_model=list[HfDailyItem],
    tags=["huggingface"],
)
async def daily_papers(
    request: Request,
    date: Annotated[str | None, Query(description="YYYY-MM-DD; default the latest day")] = None,
    week: Annotated[str | None, Query(description="ISO week, YYYY-Www")] = None,
    month: Annotated[str | None, Query(description="YYYY-MM")] = None,
    submitter: Annotated[str | None, Query(description="HF username (none here)")] = None,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    p: Annotated[int, Query(ge=0, le=10_000, description="page, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """Papers of a day, week or month, as Hugging Face's daily papers API returns them."""
    service = _service(request)
    if submitter:
        return JSONBody([])  # papers here are not submitted by HF users
    window = _hf_window(service, date, week, month)
    order = "trending" if sort == "trending" else "date"
    found = listing.daily(service, window, order, p + 1, limit, None)
    return JSONBody([hf_item(paper, found.upvotes[paper.arxiv_id]) for paper in found.papers])


@router.get(
    "/api/papers/search",
    summary="Search papers (Hugging Face-compatible)",
    response_model=list[HfDailyItem],
    tags=["huggingface"],
)
async def hf_search(
    request: Request,
    q: Annotated[
        str, Query(description=f"search text, at most {MAX_QUERY_CHARS:,} characters")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=120)] = 50,
) -> Response:
    """Search papers, as Hugging Face's paper search API returns them."""
    service = _service(request)
    if not q.strip():
        return JSONBody([])
    try:
        found = listing.search(service, q, "relevance", 1, limit)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    papers = [hit.paper for hit in found.hits]
    counts = service.upvotes(papers)
    return JSONBody([hf_item(paper, counts[paper.arxiv_id]) for paper in papers])


@router.get(
    "/api/papers/{arxiv_id:paper}",
    summary="One paper (Hugging Face-compatible)",
    response_model=HfPaper,
    tags=["huggingface"],
)
async def hf_paper_info(request: Request, arxiv_id: PaperId) -> Response:
    """One paper, as Hugging Face's paper API returns it."""
    service = _service(request)
    paper = _found(service, arxiv_id)
    return JSONBody(hf_paper(paper, service.upvotes([paper])[paper.arxiv_id]))


# -- paperwire's own -----------------------------------------------------------


BOUNDS = "YYYY-MM-DD, YYYY-MM, YYYY, or 7d/2w/3m/1y ago, as since:/until: in q"


@router.get("/api/v1/search", summary="Search", response_model=SearchOut, tags=["paperwire"])
async def search(
    request: Request,
    q: Annotated[
        str,
        Query(description=f"query language (see /search), at most {MAX_QUERY_CHARS:,} characters"),
    ] = "",
    category: Annotated[
        str, Query(max_length=64, description="arXiv category filter: cs.CL, cs, or cs.CL,cs.CV")
    ] = "",
    since: Annotated[str | None, Query(description=f"listed on or after: {BOUNDS}")] = None,
    until: Annotated[str | None, Query(description=f"listed on or before: {BOUNDS}")] = None,
    sort: Literal["relevance", "date", "trending"] = "relevance",
    mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
    page: Annotated[
        int, Query(ge=1, le=MAX_RESULTS, description="up to `pages` of the answer")
    ] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Search with paperwire's query language plus optional filters (structured values,
    never added to the query text). `pages` counts the pages that can be fetched: none
    goes deeper than result 10,000 (a note says so when the results are more)."""
    service = _service(request)
    if not (q.strip() or category.strip() or since or until):
        raise HTTPException(400, "q is empty: type some words, a phrase or a filter like cat:cs.CL")
    try:
        low, high = listing.parse_bound(since, "since"), listing.parse_bound(until, "until")
        found = listing.search(
            service, q, sort, page, per_page, mode, category=category, since=low, until=high
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    counts = service.upvotes([h.paper for h in found.hits])
    return JSONBody(
        {
            "query": found.query,
            "total": found.total,
            "page": found.page,
            "per_page": found.per_page,
            "pages": found.pages,
            "sort": found.sort,
            "mode": found.mode,
            "semantic_coverage": float(found.semantic_coverage),
            "notes": list(found.notes),
            "results": [hit_out(h, counts[h.paper.arxiv_id]) for h in found.hits],
        }
    )


@router.get(
    "/api/v1/daily", summary="Daily papers", response_model=PaperListOut, tags=["paperwire"]
)
async def daily(
    request: Request,
    date: Annotated[str | None, Query(description="YYYY-MM-DD; default the latest day")] = None,
    view: Literal["day", "week", "month"] = "day",
    sort: Literal["date", "trending"] = "date",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """Papers listed on a day, or in the week or month around it."""
    return _paper_list(request, date, view, sort, page, per_page)


@router.get(
    "/api/v1/trending", summary="Trending papers", response_model=PaperListOut, tags=["paperwire"]
)
async def trending(
    request: Request,
    window: Literal["day", "week", "month"] = "week",
    date: Annotated[str | None, Query(description="a day inside the window")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """Papers of the window ranked by trending score (upvotes with time decay)."""
    return _paper_list(request, date, window, "trending", page, per_page)


def _paper_list(
    request: Request, day: str | None, view: str, sort: str, page: int, per_page: int
) -> Response:
    service = _service(request)
    latest = listing.latest_day(service)
    try:
        anchor = listing.parse_day(day) or latest or date.today()
        window = listing.make_window(service, view, anchor)
    except listing.BadRequest as exc:
        raise HTTPException(400, str(exc)) from exc
    found = listing.daily(service, window, sort, page, per_page, None)
    empty = not found.papers
    notes = [listing.empty_page_note(window, found.total, page, per_page, latest)] if empty else []
    return JSONBody(
        {
            "start": window.start,
            "end": window.end,
            "total": found.total,
            "page": page,
            "per_page": per_page,
            "pages": page_count(found.total, per_page),
            "sort": sort,
            "notes": notes,
            "results": [paper_out(p, found.upvotes[p.arxiv_id]) for p in found.papers],
            "scores": {k: float(v) for k, v in found.scores.items()},
        }
    )


@router.get(
    "/api/v1/papers/{arxiv_id:paper}/similar",
    summary="Similar papers",
    response_model=list[PaperOut],
    tags=["paperwire"],
)
async def similar(
    request: Request, arxiv_id: PaperId, k: Annotated[int, Query(ge=1, le=50)] = 10
) -> Response:
    """Papers most similar to this one (empty when semantic search is not set up)."""
    service = _service(request)
    paper = _found(service, arxiv_id)
    papers = [h.paper for h in listing.similar(service, paper.arxiv_id, k)]
    counts = service.upvotes(papers)
    return JSONBody([paper_out(p, counts[p.arxiv_id]) for p in papers])


@router.get(
    "/api/v1/papers/{arxiv_id:paper}",
    summary="One paper",
    response_model=PaperOut,
    tags=["paperwire"],
)
async def paper(request: Request, arxiv_id: PaperId) -> Response:
    """One paper with its upvote count."""
    service = _service(request)
    found = _found(service, arxiv_id)
    return JSONBody(paper_out(found, service.upvotes([found])[found.arxiv_id]))


@router.get(
    "/api/v1/votes",
    summary="My upvotes",
    response_model=list[str],
    tags=["paperwire"],
    responses={401: {"model": ErrorOut}},
)
async def my_votes(request: Request, authorization: Authorization = None) -> Response:
    """arXiv ids the reader (API token or session) has upvoted, newest first."""
    user = reader(request, authorization, None, False)
    return JSONBody(_service(request).votes_of(user.id))


CsrfHeader = Annotated[
    str | None, Header(alias="X-CSRF-Token", description="the page's csrf_token value")
]


@router.put(
    "/api/v1/votes/{arxiv_id:paper}",
    summary="Upvote",
    response_model=VoteOut,
    tags=["paperwire"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)
async def upvote(
    request: Request,
    arxiv_id: PaperId,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> Response:
    """Upvote a paper as the reader: API token, or session with the CSRF header
    (idempotent)."""
    return _vote(request, arxiv_id, True, reader(request, authorization, x_csrf_token, True))


@router.delete(
    "/api/v1/votes/{arxiv_id:paper}",
    summary="Withdraw an upvote",
    response_model=VoteOut,
    tags=["paperwire"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)
async def unvote(
    request: Request,
    arxiv_id: PaperId,
    authorization: Authorization = None,
    x_csrf_token: CsrfHeader = None,
) -> Response:
    """Withdraw the reader's upvote: API token, or session with the CSRF header
    (idempotent)."""
    return _vote(request, arxiv_id, False, reader(request, authorization, x_csrf_token, True))


def _vote(request: Request, arxiv_id: str, up: bool, user: User) -> Response:
    done = listing.cast_vote(_service(request), user, arxiv_id, up)
    if done is None:
        raise HTTPException(404, f"paper {arxiv_id!r} is not in this paperwire")
    return JSONBody({"arxiv_id": done[0].arxiv_id, "voted": up, "upvotes": done[1]})
