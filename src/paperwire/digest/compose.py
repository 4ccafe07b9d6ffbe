"""Who gets what: a subscriber's digest from one period's candidate papers. Pure.

Sections, in this order, each explained to the reader:
1. each saved search: "matches your search 'diffusion policy'"
2. each followed author: "new from followed author Yann LeCun"
3. trending in each of the subscriber's categories ("trending in cs.CL"), or trending
   across everything when they chose no categories.
A paper appears once (in the first section that claims it), never if it was already sent
to this subscriber, and the whole digest holds at most `max_papers` papers.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from paperwire.digest.schedule import Period
from paperwire.models import Digest, DigestSection, Paper, Subscriber


def normalize_name(name: str) -> str:
    """Author names compared without accents, case, dots or extra spaces."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace(".", " ")
    return " ".join(text.split())


@dataclass(slots=True)
class CandidatePool:
    """Everything composing needs for one period window, computed once per window."""

    start: date
    end: date
    papers: dict[str, Paper]  # listed in [start, end]
    trending: list[str]  # ids in `papers`, best first
    search_hits: dict[str, list[str]] = field(default_factory=dict)  # query -> ids, best first
    by_author: dict[str, list[str]] = field(default_factory=dict)  # normalized name -> ids
    by_category: dict[str, list[str]] = field(default_factory=dict)  # category -> trending ids

    @classmethod
    def build(
        cls, start: date, end: date, papers: Sequence[Paper], trending: Sequence[str]
    ) -> CandidatePool:
        by_id = {p.arxiv_id: p for p in papers}
        by_author: dict[str, list[str]] = {}
        for paper in papers:
            for author in paper.authors:
                by_author.setdefault(normalize_name(author.name), []).append(paper.arxiv_id)
        ranked = [i for i in trending if i in by_id]
        by_category: dict[str, list[str]] = {}
        for arxiv_id in ranked:
            for category in by_id[arxiv_id].categories:
                by_category.setdefault(category, []).append(arxiv_id)
        return cls(start, end, by_id, ranked, {}, by_author, by_category)


_WORD = re.compile(r"\w+")


def match_locally(query: str, papers: Sequence[Paper]) -> list[str]:
    """Fallback saved-search matcher when no search engine is installed: every word of the
    query (field filters like cat:x ignored) must occur in title or abstract; ranked by
    how often they occur, title hits counting double."""
    words = [w.lower() for w in _WORD.findall(re.sub(r"\b\w+:\S+", " ", query))]
    if not words:
        return []
    scored: list[tuple[float, str]] = []
    for paper in papers:
        title = _WORD.findall(paper.title.lower())
        body = _WORD.findall(paper.abstract.lower())
        if all(w in title or w in body for w in words):
            score = sum(2 * title.count(w) + body.count(w) for w in words)
            scored.append((score, paper.arxiv_id))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [arxiv_id for _, arxiv_id in scored]


def compose_digest(
    subscriber: Subscriber, period: Period, pool: CandidatePool, already_sent: set[str]
) -> Digest:
    digest = Digest(subscriber, period.key, period.start, period.end)
    taken = set(already_sent)
    budget = max(1, subscriber.max_papers)

    def take(ids: Sequence[str], limit: int) -> list[Paper]:
        chosen: list[Paper] = []
        for arxiv_id in ids:
            if len(chosen) >= limit:
                break
            if arxiv_id in taken or arxiv_id not in pool.papers:
                continue
            taken.add(arxiv_id)
            chosen.append(pool.papers[arxiv_id])
        return chosen

    def add(kind: str, label: str, reason: str, ids: Sequence[str], limit: int) -> None:
        nonlocal budget
        papers = take(ids, min(limit, budget))
        budget -= len(papers)
        if papers:
            digest.sections.append(DigestSection(kind, label, reason, papers))

    for query in subscriber.saved_searches:
        add(
            "search",
            query,
            f"matches your search '{query}'",
            pool.search_hits.get(query, []),
            budget,
        )
    for name in subscriber.followed_authors:
        ids = pool.by_author.get(normalize_name(name), [])
        add("author", name, f"new from followed author {name}", ids, budget)
    categories = subscriber.categories
    if not categories:
        add("trending", "", "trending on paperwire", pool.trending, budget)
    for index, category in enumerate(categories):
        share = math.ceil(budget / (len(categories) - index)) if budget else 0
        ids = pool.by_category.get(category, [])
        add("trending", category, f"trending in {category}", ids, share)
    return digest
