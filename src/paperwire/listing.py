"""Listings: the papers of a day, week or month, the neighbouring listing days, paging and
trending order. One core that the CLI (`paperwire daily`), the API, the pages and the
digests share through the Service; the shells only parse, call and render.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from paperwire.library import LibraryMarks
from paperwire.models import Paper
from paperwire.search.query import QueryError, parse_date_bound
from paperwire.store import Store
from paperwire.trending import rank_tallies

VIEWS = ("day", "week", "month")
LISTING_SORTS = ("date", "trending")
# ASCII digits only, as parse_day and search's since:/until: read them: \d also matches
# other scripts' digits (２０２５), which int() reads.
_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{1,2})$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


class ListingError(ValueError):
    """A window or page that cannot be listed; the message says what is wrong."""


@dataclass(slots=True)
class Window:
    """The days [start, end] of a day, week or month view, with the anchors of the
    previous and next windows: the nearest listing days with papers outside it."""

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


@dataclass(slots=True)
class Listing:
    """One page of papers with what a card shows: upvotes (ours + HF), the reader's own
    votes and library marks and, in trending order, the scores."""

    papers: list[Paper]
    total: int
    upvotes: dict[str, int] = field(default_factory=dict)
    voted: set[str] = field(default_factory=set)
    scores: dict[str, float] = field(default_factory=dict)
    marks: LibraryMarks = field(default_factory=LibraryMarks)  # saved / rated / followed
    hidden: int = 0  # papers of this page the reader marked "not interested"


def empty_page_note(
    window: Window, total: int, page: int, per_page: int, latest: date | None
) -> str:
    """Why a page of `window`'s listing holds no papers: the page is past the last one,
    the window is after the newest listing day, it is a weekend day, or arXiv (or this
    store) has no listing for it."""
    if total > 0:
        pages = -(-total // per_page)
        return (
            f"page {page:,} is past the papers: {total:,} paper(s) make {pages:,} "
            f"page(s) of {per_page}"
        )
    if latest is not None and window.start > latest:
        return f"{window.label} is after the latest listing day, {latest:%A, %B %-d, %Y}"
    if window.view == "day" and window.anchor.weekday() >= 5:
        return "arXiv does not announce papers on weekends"
    where = "on this day" if window.view == "day" else f"in this {window.view}"
    return f"no papers are listed {where} (an arXiv holiday, or days not imported here)"


# Days a route accepts: every window around them (a month, a week on) is a real date.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_day(text: str | None, name: str = "date") -> date | None:
    """The one date check of every route's date parameters (pages, API and CLI alike)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise ListingError(f"{name} must be a date like 2025-06-30, not {text!r}")
    return day


def parse_bound(text: str | None, name: str) -> date | None:
    """A `since` or `until` filter field (`name`), in every form the query language's
    since:/until: take, read by the same parser: 2025-06-01, 2025-06, 2025 (since: the
    first day, until: the last), or 7d, 2w, 3m, 1y before today (UTC, as a query's)."""
    if not text or not text.strip():
        return None
    try:
        today = datetime.now(UTC).date()
        day = parse_date_bound(text.strip(), today=today, upper=name == "until")
    except QueryError as exc:
        raise ListingError(f"{name}: {exc}") from None
    # as the query's since:/until: are taken: a bound past every paper leaves none out
    return min(max(day, FIRST_DAY), LAST_DAY)


def parse_week(text: str) -> date:
    """`2025-W09` -> the Monday of that ISO week."""
    return _parse(_WEEK, text, lambda y, w: date.fromisocalendar(y, w, 1), "week", "2025-W09")


def parse_month(text: str) -> date:
    """`2025-02` -> the first of that month."""
    return _parse(_MONTH, text, lambda y, m: date(y, m, 1), "month", "2025-02")


def _parse(
    pattern: re.Pattern[str], text: str, make: Callable[[int, int], date], name: str, like: str
) -> date:
    match = pattern.match(text)
    try:
        if not match:
            raise ValueError
        made = make(int(match.group(1)), int(match.group(2)))
        if not FIRST_DAY <= made <= LAST_DAY:
            raise ValueError
        return made
    except ValueError as exc:
        raise ListingError(f"{name} must look like {like}, not {text!r}") from exc


def latest_day(store: Store) -> date | None:
    """The newest listing day in the store; None when the store is empty."""
    latest = store.latest_listing_date()
    if latest is None and store.count_papers() > 0:
        return date.today()
    return latest


def make_window(store: Store, view: str, anchor: date) -> Window:
    """The day, week (Monday to Sunday) or month around `anchor`. Its `prev` and `next`
    are the nearest listing days with papers before and after it (None where there is
    none), so paging skips empty days, weeks and months and stops at the data's ends."""
    if view not in VIEWS:
        raise ListingError(f"view must be one of {', '.join(VIEWS)}, not {view!r}")
    if view == "day":
        prev, nxt = store.neighbour_days(anchor)
        return Window(view, anchor, anchor, anchor, prev, nxt)
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        end = start + timedelta(days=6)
    else:
        start = anchor.replace(day=1)
        end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    return Window(view, start, start, end, store.neighbour_days(start)[0],
                  store.neighbour_days(end)[1])  # fmt: skip


def check_sort(sort: str) -> str:
    if sort not in LISTING_SORTS:
        raise ListingError(f"sort must be one of {', '.join(LISTING_SORTS)}, not {sort!r}")
    return sort


def ranked_window(store: Store, start: date, end: date) -> list[tuple[str, float]]:
    """(arxiv_id, trending score) of the live papers listed in [start, end], best first:
    the one way tallies are built and ranked, for the web and the digests alike."""
    return rank_tallies(store.vote_tallies(start, end), start, end)
