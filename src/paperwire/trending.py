"""Trending score: pure functions over (upvotes, age), shared by the web pages, the API and
the digest.

    score = upvotes / (age_hours + 2) ** GRAVITY            when upvotes > 0
    score = RECENCY_WEIGHT / (age_hours + 2)                when upvotes == 0

upvotes = our own votes + Hugging Face's (when ingested). Age is measured from the paper's
listing day to the end of the window being ranked, so a day's list is ranked by votes with
the newest papers winning ties. Papers without any vote fall back to recency and always rank
below papers with votes of a comparable age: RECENCY_WEIGHT is far below one vote.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

GRAVITY = 1.8
RECENCY_WEIGHT = 1e-6


def trending_score(upvotes: int, age_hours: float, gravity: float = GRAVITY) -> float:
    """Higher is more trending. Negative ages (clock skew) count as zero."""
    age = max(age_hours, 0.0) + 2.0
    if upvotes > 0:
        return float(upvotes) / float(age**gravity)
    return RECENCY_WEIGHT / age


def age_hours(day: date, now: datetime) -> float:
    """Hours from the start (UTC) of listing `day` to `now`."""
    start = datetime.combine(day, time(0, 0), tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (now - start).total_seconds() / 3600.0


def rank_trending(
    items: Iterable[tuple[str, int, float]], gravity: float = GRAVITY
) -> list[tuple[str, float]]:
    """Rank (id, upvotes, age_hours) triples: best first, ties broken by newer id."""
    scored = [(item_id, trending_score(votes, age, gravity)) for item_id, votes, age in items]
    scored.sort(key=lambda pair: pair[0], reverse=True)
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored
