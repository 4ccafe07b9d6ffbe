"""Trending as the website ranks it: Service.trending over stored papers and real votes
(the score itself, paperwire.trending, is unit-tested in tests/test_trending.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from paperwire.config import Settings
from paperwire.service import Service
from webkit import hostile_paper

DAY = date(2025, 6, 4)


def test_votes_lift_papers_and_unvoted_fall_back_to_recency(settings: Settings) -> None:
    with Service(settings) as service:
        papers = [hostile_paper(f"2506.{n:05d}", DAY) for n in range(1, 6)]
        papers.append(hostile_paper("2506.00009", DAY - timedelta(days=1)))
        papers.append(replace(hostile_paper("2506.00010", DAY), hf_upvotes=2))
        service.store.upsert_papers(papers)
        users = [service.accounts.get_or_create_user(f"t{n}@example.org") for n in range(3)]
        for user in users:
            service.set_vote(user.id, "2506.00002", True)
        service.set_vote(users[0].id, "2506.00004", True)

        ranked, total = service.trending(DAY - timedelta(days=1), DAY)
        order = [p.arxiv_id for p, _ in ranked]
        assert total == 7
        # 3 of our votes > 2 HF upvotes > 1 vote > no votes (newest day, then newest id)
        assert order[:3] == ["2506.00002", "2506.00010", "2506.00004"]
        assert order[3:] == ["2506.00005", "2506.00003", "2506.00001", "2506.00009"]
        scores = [s for _, s in ranked]
        assert scores == sorted(scores, reverse=True)

        # a withdrawn vote is reflected at once, paging is consistent with the total
        for user in users:
            service.set_vote(user.id, "2506.00002", False)
        page2, _ = service.trending(DAY - timedelta(days=1), DAY, limit=3, offset=3)
        first, _ = service.trending(DAY - timedelta(days=1), DAY, limit=3)
        assert [p.arxiv_id for p, _ in first][:2] == ["2506.00010", "2506.00004"]
        assert not {p.arxiv_id for p, _ in first} & {p.arxiv_id for p, _ in page2}


def test_vote_counts_and_a_readers_votes_across_id_chunks(settings: Settings) -> None:
    """Counts and a reader's own votes for more ids than one IN list holds (500)."""
    with Service(settings) as service:
        papers = [hostile_paper(f"2506.{n:05d}", DAY) for n in range(1, 1201)]
        service.store.upsert_papers(papers)
        readers = [service.accounts.get_or_create_user(f"r{n}@example.org") for n in range(3)]
        voted = {"2506.00001": 3, "2506.00499": 1, "2506.00501": 2, "2506.01200": 1}
        for arxiv_id, count in voted.items():
            for reader in readers[:count]:
                service.set_vote(reader.id, arxiv_id, True)
        ids = [p.arxiv_id for p in papers] + ["2506.99999"]  # one that is not stored
        assert service.accounts.vote_counts(ids) == voted
        assert service.accounts.voted_by(readers[1].id, ids) == {"2506.00001", "2506.00501"}
        assert service.accounts.voted_by(readers[2].id, ids[:500]) == {"2506.00001"}
        assert service.accounts.vote_counts([]) == {}
        shown = service.upvotes(papers[:2])
        assert shown == {"2506.00001": 3, "2506.00002": 0}
