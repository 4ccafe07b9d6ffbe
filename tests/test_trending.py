"""The trending score on hand-checked cases (values worked out on paper in the docstrings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from paperwire.models import Paper
from paperwire.trending import (
    TrendingItem,
    rank_tallies,
    rank_trending,
    trending_item,
    trending_score,
    window_for,
)

NOW = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("votes", "age", "window", "expected"),
    [
        (0, 0.0, "day", 1.0),  # the +1 prior
        (3, 24.0, "day", 1.0),  # 4 * 2^-2
        (7, 36.0, "day", 1.0),  # 8 * 2^-3
        (1, 12.0, "day", 1.0),  # 2 * 2^-1
        (9, 0.0, "day", 10.0),
        (1, 48.0, "week", 1.0),  # half-life 48 h
        (3, 336.0, "month", 1.0),  # 4 * 2^-(336/168)
        (0, -5.0, "day", 1.0),  # future dates count as age 0
        (-4, 0.0, "day", 1.0),  # negative votes count as 0
    ],
)
def test_score_hand_checked(votes: int, age: float, window: str, expected: float) -> None:
    assert trending_score(votes, age, window) == pytest.approx(expected)


def test_unknown_window_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="day, week or month"):
        trending_score(1, 1.0, "year")


def test_votes_beat_recency_and_decay_wins_eventually() -> None:
    items = [
        TrendingItem("2607.00001", 0, NOW - timedelta(hours=1)),  # 1 * 2^(-1/12) = 0.944
        TrendingItem("2607.00002", 5, NOW - timedelta(hours=24)),  # 6 * 0.25 = 1.5
        TrendingItem("2606.00003", 50, NOW - timedelta(hours=120)),  # 51 * 2^-10 = 0.0498
    ]
    ranked = rank_trending(items, NOW, "day")
    assert [i for i, _ in ranked] == ["2607.00002", "2607.00001", "2606.00003"]
    assert ranked[0][1] == pytest.approx(1.5)
    assert ranked[2][1] == pytest.approx(51 / 1024)
    # over a month the old, much-voted paper leads: 51 * 2^(-120/168) = 31.2
    assert rank_trending(items, NOW, "month")[0][0] == "2606.00003"


def test_day_without_votes_falls_back_to_recency_then_newest_id() -> None:
    day1 = datetime(2026, 7, 1, tzinfo=UTC)
    items = [
        TrendingItem("2606.11111", 0, day1 - timedelta(days=1)),
        TrendingItem("2607.00005", 0, day1),
        TrendingItem("2607.00009", 0, day1),
    ]
    assert [i for i, _ in rank_trending(items, NOW, "day")] == [
        "2607.00009",
        "2607.00005",
        "2606.11111",
    ]


def test_trending_item_adds_our_votes_to_hf_upvotes_and_uses_listing_day() -> None:
    paper = Paper("2607.00001", "T", "A", listing_date=date(2026, 7, 1), hf_upvotes=4)
    item = trending_item(paper, our_votes=2)
    assert item.votes == 6
    assert item.published == datetime(2026, 7, 1, tzinfo=UTC)
    assert trending_item(Paper("2607.00002", "T", "A", hf_date=date(2026, 6, 30))).votes == 0


def test_rank_tallies_measures_age_to_the_end_of_the_window() -> None:
    day = date(2026, 7, 1)
    tallies = [
        ("2607.00001", day, 0, 0),  # 24 h old at the end of the day: 1 * 2^-2 = 0.25
        ("2607.00002", day, 1, 2),  # 4 * 0.25 = 1.0
        ("2606.00003", date(2026, 6, 30), 0, 3),  # 48 h: 4 * 2^-4 = 0.25, older id
    ]
    ranked = rank_tallies(tallies, day - timedelta(days=1), day)
    assert ranked == [
        ("2607.00002", pytest.approx(1.0)),
        ("2607.00001", pytest.approx(0.25)),
        ("2606.00003", pytest.approx(0.25)),
    ]
    assert window_for(day, day) == "day"
    assert window_for(day - timedelta(days=6), day) == "week"
    assert window_for(day - timedelta(days=29), day) == "month"
