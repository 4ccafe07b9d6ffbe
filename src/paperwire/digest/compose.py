"""Who gets what: a subscriber's digest from one period's candidate papers. Pure.

Sections, in this order, each explained to the reader:
1. each saved search: "matches your search 'diffusion policy'"
2. each followed author: "new from followed author Yann LeCun"
3. recommended for you (readers whose address has an account with a library), each paper
   with its own reason ("close to 'X' in your Saved")
4. trending in each of the subscriber's categories ("trending in cs.CL"), or trending
   across everything when they chose no categories.
A paper appears once (in the first section that claims it), never if it was already sent
to this subscriber, and the whole digest holds at most `max_papers` papers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from paperwire.digest.schedule import Period
from paperwire.models import Digest, DigestSection, Paper, Subscriber, category_keys
from paperwire.names import author_key


def add_follows(subscriber: Subscriber, names: Sequence[str]) -> None:
    """Append to the subscriber's followed authors those of `names` not followed yet
    (compared by author_key): one list per address, website and digest alike."""
    known = {author_key(n) for n in subscriber.followed_authors}
    for name in names:
        key = author_key(name)
        if key not in known:
            known.add(key)
            subscriber.followed_authors.append(name)


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
    _words: WordIndex | None = None

    def match(self, query: str) -> list[str]:
        """Local saved-search match over this window's papers (index built once)."""
        if self._words is None:
            self._words = build_word_index(list(self.papers.values()))
        return match_in_index(query, self._words)

    @classmethod
    def build(
        cls, start: date, end: date, papers: Sequence[Paper], trending: Sequence[str]
    ) -> CandidatePool:
        by_id = {p.arxiv_id: p for p in papers}
        by_author: dict[str, list[str]] = {}
        for paper in papers:
            for author in paper.authors:
                by_author.setdefault(author_key(author.name), []).append(paper.arxiv_id)
        ranked = [i for i in trending if i in by_id]
        by_category: dict[str, list[str]] = {}
        for arxiv_id in ranked:  # by class and by archive, lower-cased (models.category_keys)
            keys = {
                key for category in by_id[arxiv_id].categories for key in category_keys(category)
            }
            for key in keys:
                by_category.setdefault(key, []).append(arxiv_id)
        return cls(start, end, by_id, ranked, {}, by_author, by_category)


_WORD = re.compile(r"\w+")
_FILTER = re.compile(r"\b\w+:\S+")
WordIndex = dict[str, dict[str, int]]  # word -> {arxiv_id: 2 * title count + abstract count}


def build_word_index(papers: Sequence[Paper]) -> WordIndex:
    index: WordIndex = {}
    for paper in papers:
        counts: dict[str, int] = {}
        for word in _WORD.findall(paper.title.lower()):
            counts[word] = counts.get(word, 0) + 2
        for word in _WORD.findall(paper.abstract.lower()):
            counts[word] = counts.get(word, 0) + 1
        for word, count in counts.items():
            index.setdefault(word, {})[paper.arxiv_id] = count
    return index


def match_in_index(query: str, index: WordIndex) -> list[str]:
    """Fallback saved-search matcher when no search engine is installed: every word of the
    query (field filters like cat:x ignored) must occur in title or abstract; ranked by
    how often they occur, title hits counting double; ties by id."""
    words = sorted({w.lower() for w in _WORD.findall(_FILTER.sub(" ", query))})
    if not words:
        return []
    postings = [index.get(w, {}) for w in words]
    postings.sort(key=len)
    ids = set(postings[0])
    for posting in postings[1:]:
        ids &= posting.keys()
    scored = sorted(ids, key=lambda i: (-sum(p[i] for p in postings), i))
    return scored


def match_locally(query: str, papers: Sequence[Paper]) -> list[str]:
    return match_in_index(query, build_word_index(papers))


def compose_digest(
    subscriber: Subscriber,
    period: Period,
    pool: CandidatePool,
    already_sent: set[str],
    recommended: Sequence[tuple[str, str]] = (),
) -> Digest:
    """Fill the sections fairly: first each section gets an equal share of `max_papers`
    (in order, rounding up), then what is left goes to the sections that have more.
    `recommended`: (arxiv id, why) best first, from the reader's recommender."""
    wanted: list[tuple[DigestSection, list[str]]] = []
    for query in subscriber.saved_searches:
        section = DigestSection("search", query, f"matches your search '{query}'")
        wanted.append((section, pool.search_hits.get(query, [])))
    for name in subscriber.followed_authors:
        section = DigestSection("author", name, f"new from followed author {name}")
        wanted.append((section, pool.by_author.get(author_key(name), [])))
    if recommended:
        section = DigestSection("recommended", "", "recommended for you")
        section.notes = dict(reversed(recommended))  # the first reason of a repeated id
        wanted.append((section, [i for i, _ in recommended]))
    if not subscriber.categories:
        wanted.append((DigestSection("trending", "", "trending on paperwire"), pool.trending))
    for category in subscriber.categories:
        section = DigestSection("trending", category, f"trending in {category}")
        wanted.append((section, pool.by_category.get(category.lower(), [])))

    taken = set(already_sent)
    budget = max(1, subscriber.max_papers)
    cursors = [0] * len(wanted)

    def take(index: int, limit: int) -> int:
        section, ids = wanted[index]
        added = 0
        while added < limit and cursors[index] < len(ids):
            arxiv_id = ids[cursors[index]]
            cursors[index] += 1
            if arxiv_id in taken or arxiv_id not in pool.papers:
                continue
            taken.add(arxiv_id)
            section.papers.append(pool.papers[arxiv_id])
            added += 1
        return added

    for index in range(len(wanted)):
        budget -= take(index, math.ceil(budget / (len(wanted) - index)))
    for index in range(len(wanted)):
        budget -= take(index, budget)
    digest = Digest(subscriber, period.key, period.start, period.end)
    for section, _ in wanted:
        section.notes = {
            p.arxiv_id: section.notes[p.arxiv_id]
            for p in section.papers
            if p.arxiv_id in section.notes
        }
    digest.sections = [section for section, _ in wanted if section.papers]
    return digest
