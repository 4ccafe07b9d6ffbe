"""The lexical index's orders other than relevance: newest first, and the candidates
trending ranks. Both read only fast fields of the documents they return.

Newest first is listing day descending, then arXiv id descending (the daily list's order).
tantivy orders by one fast field, so a page is fetched by `day` and the days it spans are
put in id order: a day wholly inside the page is sorted here, and the page's first and
last days (which may run on past the page) are fetched again by their `key` (the id as a
number, lexical_docs.id_key) among that day's matches, at their place in it. That is one
count and at most two small searches more than ordering by day alone, and each page is a
slice of one order, so pages never overlap or skip a paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import tantivy

from paperwire.search.lexical_docs import EPOCH

Hit = tuple[int, tantivy.DocAddress]  # (sort key, address)


def _and(*queries: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def _days(schema: tantivy.Schema, low: int | None, high: int | None) -> tantivy.Query:
    days = tantivy.Query.range_query(schema, "day", tantivy.FieldType.Integer, low, high)
    return tantivy.Query.const_score_query(days, 0.0)


def _by(
    searcher: tantivy.Searcher, query: tantivy.Query, field: str, limit: int, offset: int
) -> list[Hit]:
    found = searcher.search(
        query, max(limit, 1), count=False, offset=offset, order_by_field=field,
        order=tantivy.Order.Desc,
    )  # fmt: skip
    return [(int(key), address) for key, address in found.hits][:limit]


def newest_first(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    query: tantivy.Query,
    limit: int,
    offset: int,
    count: bool = True,
) -> tuple[list[Hit], int]:
    """Matches of `query` at [offset, offset + limit) by day, then id, both descending:
    (day, address) pairs and the number of matches (0 without `count`)."""
    window = searcher.search(
        query, max(limit, 1), count=count, offset=offset, order_by_field="day",
        order=tantivy.Order.Desc,
    )  # fmt: skip
    total = int(getattr(window, "count", None) or 0)
    hits = [(int(day), address) for day, address in window.hits][:limit]
    if len(hits) < 2:
        return hits, total
    runs: list[list[tantivy.DocAddress]] = []
    days: list[int] = []
    for day, address in hits:
        if days and days[-1] == day:
            runs[-1].append(address)
        else:
            days.append(day)
            runs.append([address])
    ordered: list[Hit] = []
    for i, (day, run) in enumerate(zip(days, runs, strict=True)):
        if i == 0 and (len(days) == 1 or offset > 0):
            # the first day may have begun before the page: its place among the matches
            before = 0
            if offset:
                newer = searcher.search(_and(query, _days(schema, day + 1, None)), 1)
                before = getattr(newer, "count", None) or 0  # missing from tantivy's stubs
            of_day = _and(query, _days(schema, day, day))
            keyed = _by(searcher, of_day, "key", len(run), offset - int(before))
        elif i == len(days) - 1:  # the last day may run on past the page: its first ids
            keyed = _by(searcher, _and(query, _days(schema, day, day)), "key", len(run), 0)
        else:  # wholly inside the page
            keys = searcher.fast_field_values("key", run)
            order = sorted(range(len(run)), key=lambda n: -int(keys[n] or 0))
            keyed = [(0, run[n]) for n in order]
        ordered += [(day, address) for _key, address in keyed]
    return ordered, total


def day_of(number: int) -> date | None:
    """The date of a document's `day` (None for papers without any date)."""
    return EPOCH + timedelta(days=number) if number >= 0 else None


def _place(address: tantivy.DocAddress) -> tuple[int, int]:
    return address.segment_ord, address.doc


def trending_candidates(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    query: tantivy.Query,
    depth: int,
    voted: Sequence[str],
) -> tuple[list[tantivy.DocAddress], list[tantivy.DocAddress], int]:
    """The matches trending ranks: the `depth` newest (in newest-first order) and, not
    among them, the `depth` with most Hugging Face upvotes (any) and those of `voted`
    (papers with our own votes) that match; returns (newest, others, number of matches).
    Every other match is older than the newest and has fewer votes than those."""
    newest, total = newest_first(searcher, schema, query, depth, 0)
    seen = {_place(a) for _day, a in newest}
    others: list[tantivy.DocAddress] = []
    if total > len(newest):
        extra = [a for up, a in _by(searcher, query, "upvotes", depth, 0) if up > 0]
        if voted:
            members = tantivy.Query.term_set_query(schema, "arxiv_id", list(voted))
            found = searcher.search(_and(query, members), len(voted), count=False)
            extra += [a for _score, a in found.hits]
        for address in extra:
            if _place(address) not in seen:
                seen.add(_place(address))
                others.append(address)
    return [a for _day, a in newest], others, total
