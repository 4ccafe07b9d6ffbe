"""The reader's "For you": the page (a window of 7, 30 or 90 days ending at the newest
listing day; each card says why), /api/v1/recommendations, and a secret-URL RSS/Atom feed
(the same token scheme as a collection's feed). A thin shell over Service.for_you."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperwire.library_io import FOR_YOU_DAYS, FOR_YOU_SCOPE
from paperwire.service import Service
from paperwire.web import listing
from paperwire.web.feeds import _feed
from paperwire.web.library_api import AUTH_ERRORS, Authorization, service_of
from paperwire.web.library_api import reader as api_reader
from paperwire.web.library_pages import reader_or_login
from paperwire.web.render import render
from paperwire.web.schemas import PaperOut, paper_out

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["library"], responses=AUTH_ERRORS)
PAGE_ITEMS = 50
FEED_DAYS = 30


def _days(days: int) -> int:
    if days not in FOR_YOU_DAYS:
        raise HTTPException(400, f"days must be one of {', '.join(map(str, FOR_YOU_DAYS))}")
    return days


def for_you_feed_urls(service: Service, user_id: int) -> dict[str, str]:
    token = service.feed_tokens.token(user_id, FOR_YOU_SCOPE)
    base = service.settings.base_url.rstrip("/")
    return {fmt: f"{base}/feeds/for-you.{fmt}?token={token}" for fmt in ("rss", "atom")}


@router.get("/for-you")
def for_you_page(request: Request, days: int = 30) -> Response:
    user = reader_or_login(request, "/for-you", answer_json=False)
    if isinstance(user, Response):
        return user
    service = service_of(request)
    picked = service.recommended(user.id, _days(days), PAGE_ITEMS)
    papers = [p for _, p in picked.items]
    found = listing.decorate(service, papers, user)
    context = {
        "picked": picked,
        "why": {r.arxiv_id: r.reasons for r, _ in picked.items},
        "found": found,
        "days": days,
        "has_library": not picked.items and bool(service.reader_signals(user.id).positives),
        "choices": FOR_YOU_DAYS,
        "feeds": for_you_feed_urls(service, user.id),
    }
    response = render(request, "for_you.html", context)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/feeds/for-you.{fmt}")
def for_you_feed(
    request: Request,
    fmt: Literal["rss", "atom"],
    token: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The reader's recommendations of the last 30 days as RSS or Atom; `token` from the
    "For you" page."""
    service = service_of(request)
    owner = service.feed_tokens.owner(token, FOR_YOU_SCOPE)
    if owner is None:
        raise HTTPException(404, "There is no feed at this address (the link may have been reset).")
    picked = service.recommended(owner, FEED_DAYS, PAGE_ITEMS)
    response = _feed(request, fmt, "recommended for you", "/for-you", [p for _, p in picked.items])
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class RecommendationOut(BaseModel):
    arxiv_id: str
    score: float
    reasons: list[str] = Field(description="why, in plain words")
    paper: PaperOut


class RecommendationsOut(BaseModel):
    since: str | None = Field(description="first listing day of the window (ISO date)")
    until: str | None = Field(description="the newest listing day")
    items: list[RecommendationOut]


@api_router.get(
    "/recommendations",
    summary="Papers recommended for me",
    response_model=RecommendationsOut,
)
def recommendations_api(
    request: Request,
    days: Annotated[int, Query(description=f"one of {FOR_YOU_DAYS}")] = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    authorization: Authorization = None,
) -> RecommendationsOut:
    """Papers listed in the last `days` days (to the newest listing day) ranked for you,
    each with its reasons; never one you saved or marked not interested."""
    user = api_reader(request, authorization, None, False)
    service = service_of(request)
    picked = service.recommended(user.id, _days(days), limit)
    votes = service.upvotes([p for _, p in picked.items])
    return RecommendationsOut(
        since=picked.since.isoformat() if picked.since else None,
        until=picked.until.isoformat() if picked.until else None,
        items=[
            RecommendationOut(
                arxiv_id=r.arxiv_id,
                score=r.score,
                reasons=list(r.reasons),
                paper=PaperOut.model_validate(paper_out(p, votes[p.arxiv_id])),
            )
            for r, p in picked.items
        ],
    )
