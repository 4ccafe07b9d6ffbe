"""Trending: one pure score over votes and time, shared by the web page, the API and digests.

The formula
-----------
For a paper with ``v`` votes (our own upvotes plus Hugging Face upvotes when ingested) that
was published ``a`` hours before "now"::

    score = (v + 1) * 2 ** (-a / h)

where ``h`` is the half-life of the window: 12 h for ``day``, 48 h for ``week`` and 168 h
for ``month``. A paper's score halves every ``h`` hours, so one vote today is worth two
votes a half-life ago. The ``+ 1`` is a prior: a paper nobody voted for still has a score,
so a day without any votes falls back to recency (newer first), and a fresh paper with no
votes is not pinned below old ones by a zero. Ties (same votes and same age, e.g. papers
of one listing day without votes) are broken by the arXiv id, newest first, which is the
order of submission within a day's list. Negative ages (clock skew, future dates) count
as zero. ``published`` is the listing date (or HF date) at 00:00 UTC.

Worked example (window "day", h = 12): 3 votes, 24 h old -> 4 * 2**-2 = 1.0;
0 votes, 0 h old -> 1.0; 7 votes, 36 h old -> 8 * 2**-3 = 1.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paperwire.models import Paper, paper_day

EPOCH_DAY = date(1970, 1, 1)
HALF_LIFE_HOURS: dict[str, float] = {"day": 12.0, "week": 48.0, "month": 168.0}
WINDOW_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}


@dataclass(frozen=True, slots=True)
class TrendingItem:
    arxiv_id: str
    votes: int
    published: datetime


def half_life(window: str) -> float:
    try:
        return HALF_LIFE_HOURS[window]
    except KeyError:
        raise ValueError(f"unknown trending window {window!r}: use day, week or month") from None


def trending_score(votes: int, age_hours: float, window: str = "day") -> float:
    """``(votes + 1) * 2 ** (-age_hours / half_life(window))``; see the module docstring."""
    age = max(0.0, age_hours)
    return float((max(0, votes) + 1) * 2.0 ** (-age / half_life(window)))


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def trending_item(paper: Paper, our_votes: int = 0) -> TrendingItem:
    """Votes = our votes + HF upvotes; published = listing date (else HF date, else submitted)."""
    day = paper_day(paper) or date(1970, 1, 1)
    return TrendingItem(paper.arxiv_id, our_votes + (paper.hf_upvotes or 0), day_start(day))


def rank_trending(
    items: Iterable[TrendingItem], now: datetime, window: str = "day"
) -> list[tuple[str, float]]:
    """(arxiv_id, score) best first; ties broken by arXiv id, newest first."""
    scored = [
        (
            item.arxiv_id,
            trending_score(item.votes, (now - item.published).total_seconds() / 3600, window),
        )
        for item in items
    ]
    scored.sort(key=lambda pair: pair[0], reverse=True)
    scored.sort(key=lambda pair: pair[1], reverse=True)  # stable: id order kept within ties
    return scored


def window_for(start: date, end: date) -> str:
    """The half-life that suits a listing window: day (<= 2 days), week (<= 8), month."""
    span = (end - start).days + 1
    return "day" if span <= 2 else "week" if span <= 8 else "month"


def rank_tallies(
    tallies: Iterable[tuple[str, date, int, int]], start: date, end: date
) -> list[tuple[str, float]]:
    """Rank (arxiv_id, listing day, HF upvotes, our upvotes) of papers listed in
    [start, end], ages measured to the end of `end` (so a past window ranks stably).
    The one entry point the web pages, the API and the digest share."""
    now = day_start(end + timedelta(days=1))
    items = (TrendingItem(pid, hf + ours, day_start(day)) for pid, day, hf, ours in tallies)
    return rank_trending(items, now, window_for(start, end))


def rank_matches(
    tallies: Sequence[tuple[str, date | None, int, int]], since: date | None = None
) -> list[tuple[str, float]]:
    """Rank search matches (arxiv_id, listing day, HF upvotes, our upvotes) by
    rank_tallies over the window from `since` (else the oldest of their days) to the
    newest of their days: ages to the end of that day, the half-life of that span. A match
    without a day counts as listed on 1970-01-01."""
    if not tallies:
        return []
    dated = [(pid, day or EPOCH_DAY, hf, ours) for pid, day, hf, ours in tallies]
    days = [day for _pid, day, _hf, _ours in dated]
    end = max(days)
    return rank_tallies(dated, min(since or min(days), end), end)
