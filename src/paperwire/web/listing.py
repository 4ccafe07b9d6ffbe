"""What the pages and the API list: date windows, daily/trending pages, search with a fallback."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from paperwire.models import Hit, InvalidRecord, Paper, SearchPage, User, split_arxiv_id
from paperwire.service import Service

VIEWS = ("day", "week", "month")
SORTS = ("relevance", "date", "trending")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadRequest(ValueError):
    """Input that cannot be served; the message says what is wrong."""


@dataclass(slots=True)
class Window:
    view: str
    anchor: date
    start: date
    end: date
    prev: date | None = None
    next: date | None = None

    @property
    def label(self) -> str:
        if self.view == "day":
            return self.anchor.strftime("%A, %B %-d, %Y")
        if self.view == "week":
            year, week, _ = self.anchor.isocalendar()
            return f"Week {week}, {year} · {self.start:%b %-d} – {self.end:%b %-d}"
        return self.anchor.strftime("%B %Y")


# Days a route accepts: every window around them (a month, a week on) is a real date.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_day(text: str | None, name: str = "date") -> date | None:
    """The one date check of every route's date parameters (pages and API alike)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest(f"{name} must be a date like 2025-06-30, not {text!r}")
    return day


def parse_week(text: str) -> date:
    match = _WEEK.match(text)
    try:
        if not match:
            raise ValueError
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        if not FIRST_DAY <= monday <= LAST_DAY:
            raise ValueError
        return monday
    except ValueError as exc:
        raise BadRequest(f"week must look like 2025-W09, not {text!r}") from exc


def parse_month(text: str) -> date:
    match = _MONTH.match(text)
    try:
        if not match:
            raise ValueError
        first = date(int(match.group(1)), int(match.group(2)), 1)
        if not FIRST_DAY <= first <= LAST_DAY:
            raise ValueError
        return first
    except ValueError as exc:
        raise BadRequest(f"month must look like 2025-02, not {text!r}") from exc


def latest_day(service: Service) -> date | None:
    """The newest listing day in the store; None when the store is empty."""
    latest = service.store.latest_listing_date()
    if latest is None and service.store.count_papers() > 0:
        return date.today()
    return latest


def make_window(service: Service, view: str, anchor: date) -> Window:
    if view not in VIEWS:
        raise BadRequest(f"view must be one of {', '.join(VIEWS)}, not {view!r}")
    if view == "day":
        prev, nxt = service.accounts.neighbour_days(anchor)
        return Window(view, anchor, anchor, anchor, prev, nxt)
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        end = start + timedelta(days=6)
        return Window(view, start, start, end, start - timedelta(days=7), end + timedelta(days=1))
    start = anchor.replace(day=1)
    end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    prev = (start - timedelta(days=1)).replace(day=1)
    return Window(view, start, start, end, prev, end + timedelta(days=1))


@dataclass(slots=True)
class Listing:
    """One page of papers with what the cards show."""

    papers: list[Paper]
    total: int
    upvotes: dict[str, int] = field(default_factory=dict)
    voted: set[str] = field(default_factory=set)
    scores: dict[str, float] = field(default_factory=dict)


def decorate(service: Service, papers: list[Paper], user: User | None) -> Listing:
    ids = [p.arxiv_id for p in papers]
    voted = service.accounts.voted_by(user.id, ids) if user else set()
    return Listing(papers, len(papers), service.upvotes(papers), voted)


def daily(
    service: Service, window: Window, sort: str, page: int, per_page: int, user: User | None
) -> Listing:
    """Papers of the window, newest first (sort="date") or by trending score."""
    offset = (page - 1) * per_page
    if sort == "trending":
        ranked, total = service.trending(window.start, window.end, limit=per_page, offset=offset)
        listing = decorate(service, [p for p, _ in ranked], user)
        listing.scores = {p.arxiv_id: s for p, s in ranked}
    else:
        papers = service.store.papers_listed(window.start, window.end, per_page, offset)
        listing = decorate(service, papers, user)
        total = service.accounts.count_listed(window.start, window.end)
    listing.total = total
    return listing


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
    """`2503.01234v2`, `arXiv:2503.01234` or an abs URL -> `2503.01234`; other text unchanged."""
    try:
        return split_arxiv_id(raw)[0]
    except InvalidRecord:
        return raw


def cast_vote(service: Service, user: User, arxiv_id: str, up: bool) -> tuple[Paper, int] | None:
    """Set the user's vote on a paper; (paper, new upvote count), or None if no such paper."""
    paper = service.paper(canonical_id(arxiv_id))
    if paper is None or paper.deleted:
        return None
    arxiv_id = paper.arxiv_id
    service.set_vote(user.id, arxiv_id, up)
    return paper, service.upvotes([paper])[arxiv_id]
