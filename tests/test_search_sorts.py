"""Search's other orders over real listing days: newest first (day, then arXiv id, as the
daily list orders a day) and trending (the listing's trending score over the matches,
our votes included), each paged as slices of one order."""

from __future__ import annotations

import itertools
import lzma
from datetime import date
from pathlib import Path

import pytest

from conftest import DAILY_FILE
from paperwire.config import Settings
from paperwire.search import result_pages
from paperwire.service import Service

DAY = date(2025, 3, 18)


def imported(settings: Settings, tmp_path: Path, count: int) -> Service:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        lines = list(itertools.islice(handle, count))
    path = tmp_path / "daily.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    service = Service(settings)
    service.import_snapshot(path)
    return service


def ids(service: Service, query: str, **options: object) -> list[str]:
    return [h.paper.arxiv_id for h in service.search(query, **options).hits]  # type: ignore[arg-type]


def paged(service: Service, query: str, pages: int, per_page: int, **options: object) -> list[str]:
    out: list[str] = []
    for page in range(1, pages + 1):
        out += ids(service, query, page=page, per_page=per_page, **options)
    return out


def test_newest_first_orders_a_day_as_the_daily_list_and_pages_agree(
    settings: Settings, tmp_path: Path
) -> None:
    with imported(settings, tmp_path, 1200) as service:
        daily = service.listed(service.window("day", DAY), per_page=100)
        found = ids(service, "until:2025-03-18", per_page=100, mode="lexical")
        assert found == [p.arxiv_id for p in daily.papers]
        assert found[0] > found[1] > found[-1]

        one = service.search("learning", sort="date", per_page=150, mode="lexical")
        order = [(h.paper.listing_date, h.paper.arxiv_id) for h in one.hits]
        assert len(order) == 150 and one.total > 150
        assert order == sorted(order, reverse=True)
        assert len({d for d, _ in order}) > 1  # the pages cross listing days
        # pages of 7 start and end inside days: together they are the same 147
        assert paged(service, "learning", 21, 7, sort="date", mode="lexical") == [
            i for _, i in order[:147]
        ]


def test_trending_ranks_matches_by_votes_and_decay_newest_first_without_votes(
    settings: Settings, tmp_path: Path
) -> None:
    with imported(settings, tmp_path, 1200) as service:
        options = {"sort": "trending", "mode": "lexical"}
        by_date = ids(service, "learning", sort="date", per_page=40, mode="lexical")
        assert ids(service, "learning", per_page=40, **options) == by_date  # no votes

        # 8 of our votes lift a paper of an older day above the newest unvoted ones
        dated = service.search("learning", sort="date", per_page=200, mode="lexical").hits
        newest_day = dated[0].paper.listing_date
        older = next(h.paper for h in dated if h.paper.listing_date != newest_day)
        users = [service.accounts.get_or_create_user(f"v{n}@example.org") for n in range(8)]
        for user in users:
            service.set_vote(user.id, older.arxiv_id, True)
        result = service.search("learning", per_page=5, **options)  # type: ignore[arg-type]
        assert result.hits[0].paper.arxiv_id == older.arxiv_id
        assert result.sort == "trending"
        first = paged(service, "learning", 4, 10, **options)
        assert first == ids(service, "learning", per_page=40, **options)
        assert first[0] == older.arxiv_id and len(set(first)) == 40


def test_trending_past_its_candidates_goes_on_newest_first_without_repeats(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(result_pages, "TRENDING_DEPTH", 6)
    with imported(settings, tmp_path, 600) as service:
        found = service.search("", sort="date", per_page=60, mode="lexical")
        stored = [h.paper for h in found.hits]
        user = service.accounts.get_or_create_user("v@example.org")
        service.set_vote(user.id, stored[-1].arxiv_id, True)  # an old paper, one vote
        options = {"sort": "trending", "mode": "lexical"}
        whole = ids(service, "", per_page=60, **options)
        assert paged(service, "", 12, 5, **options) == whole
        assert len(set(whole)) == 60 and stored[-1].arxiv_id in whole[:7]
        rest = whole[7:]
        assert rest == [p.arxiv_id for p in stored if p.arxiv_id in set(rest)]
