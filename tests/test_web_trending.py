"""The trending score on hand-checked cases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paperwire.trending import GRAVITY, age_hours, rank_trending, trending_score


def test_score_matches_the_formula_by_hand() -> None:
    # 10 votes, 22 hours old: 10 / (22 + 2) ** 1.8
    assert trending_score(10, 22.0) == pytest.approx(10 / 24**GRAVITY)
    assert trending_score(10, 22.0) == pytest.approx(0.03278, rel=1e-3)
    # no votes: recency only, far below one vote at a week old
    assert trending_score(0, 0.0) == pytest.approx(1e-6 / 2)
    assert trending_score(0, 0.0) < trending_score(1, 7 * 24.0)


def test_more_votes_win_at_equal_age_and_newer_wins_at_equal_votes() -> None:
    assert trending_score(5, 10) > trending_score(4, 10)
    assert trending_score(5, 10) > trending_score(5, 30)
    assert trending_score(0, 1) > trending_score(0, 20)
    assert trending_score(3, -5) == trending_score(3, 0)  # clock skew counts as new


def test_decay_lets_a_fresh_paper_overtake_an_old_favourite() -> None:
    old, fresh = trending_score(40, 96), trending_score(8, 6)
    assert fresh > old  # 8/8**1.8 = 0.19 > 40/98**1.8 = 0.01


def test_rank_orders_best_first_and_breaks_ties_by_newer_id() -> None:
    ranked = rank_trending(
        [
            ("2501.00001", 3, 10.0),
            ("2501.00002", 0, 1.0),
            ("2501.00003", 3, 10.0),
            ("2501.00004", 9, 40.0),
        ]
    )
    assert [pid for pid, _ in ranked] == ["2501.00003", "2501.00001", "2501.00004", "2501.00002"]
    assert ranked[0][1] == pytest.approx(3 / 12**GRAVITY)


def test_age_hours_counts_from_the_start_of_the_listing_day() -> None:
    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    assert age_hours(date(2025, 6, 3), now) == 12.0
    assert age_hours(date(2025, 6, 1), now) == 60.0
    assert age_hours(date(2025, 6, 3), now.replace(tzinfo=None)) == 12.0
