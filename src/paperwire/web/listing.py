"""What the pages and the API list: the core's day/week/month listings (paperwire.listing,
through the Service) adapted to a signed-in reader, and search with a fallback."""

from __future__ import annotations

from datetime import date
from typing import Any

from paperwire.listing import (
    VIEWS,
    Listing,
    ListingError,
    Window,
    empty_page_note,
    parse_bound,
    parse_day,
    parse_month,
    parse_week,
)
from paperwire.models import Hit, Paper, SearchPage, User, read_arxiv_id
from paperwire.service import Service

__all__ = [
    "VIEWS",
    "Listing",
    "Window",
    "empty_page_note",
    "parse_bound",
    "parse_day",
    "parse_month",
    "parse_week",
]

SORTS = ("relevance", "date", "trending")
BadRequest = ListingError  # input that cannot be served; the message says what is wrong


def latest_day(service: Service) -> date | None:
    """The newest listing day in the store; None when the store is empty."""
    return service.latest_day()


def make_window(service: Service, view: str, anchor: date) -> Window:
    return service.window(view, anchor)


def decorate(
    service: Service, papers: list[Paper], user: User | None, hide_dismissed: bool = True
) -> Listing:
    """What the cards show for `papers`; without those the reader marked "not interested"
    unless `hide_dismissed` is off (a paper's own page)."""
    return service.cards(papers, user.id if user else None, hide_dismissed=hide_dismissed)


def daily(
    service: Service, window: Window, sort: str, page: int, per_page: int, user: User | None
) -> Listing:
    """Papers of the window, newest first (sort="date") or by trending score."""
    return service.listed(window, sort, page, per_page, user.id if user else None)


def search(
    service: Service,
    query: str,
    sort: str,
    page: int,
    per_page: int,
    mode: str = "hybrid",
    **filters: Any,
) -> SearchPage:
    """One page of search results, narrowed by structured `filters` (category, since,
    until: see Service.search). Raises ValueError (QueryError) with a readable message
    on malformed queries."""
    return service.search(query, sort=sort, page=page, per_page=per_page, mode=mode, **filters)


def similar(service: Service, arxiv_id: str, k: int = 6) -> list[Hit]:
    """Similar papers; none when the paper or the index cannot say."""
    try:
        return service.similar(arxiv_id, k=k)
    except (LookupError, ValueError):
        return []


def canonical_id(raw: str) -> str:
    """`2503.01234v2`, `arXiv:2503.01234`, an abs URL or its arXiv DOI -> `2503.01234`
    (models.read_arxiv_id, as search's id lookup reads them); other text unchanged."""
    return read_arxiv_id(raw) or raw


def cast_vote(service: Service, user: User, arxiv_id: str, up: bool) -> tuple[Paper, int] | None:
    """Set the user's vote on a paper; (paper, new upvote count), or None if no such paper."""
    paper = service.paper(canonical_id(arxiv_id))
    if paper is None or paper.deleted:
        return None
    arxiv_id = paper.arxiv_id
    service.set_vote(user.id, arxiv_id, up)
    return paper, service.upvotes([paper])[arxiv_id]
