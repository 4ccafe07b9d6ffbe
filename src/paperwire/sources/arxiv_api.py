"""arXiv query API (Atom): look-ups by id list and by search query, with paging.

`parse_feed` is pure (bytes -> page); `fetch_feed` does the HTTP through the polite client.
The API's error feed (HTTP 400, one entry titled "Error") becomes an :class:`ArxivApiError`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

from paperwire.models import (
    Author,
    InvalidRecord,
    Paper,
    Rejected,
    check_id_month,
    clean_categories,
    collapse_whitespace,
    split_arxiv_id,
)
from paperwire.sources.http import PoliteClient, SourceError
from paperwire.sources.safe_xml import SAFE_XML, element_text

SOURCE = "arxiv_api"
ATOM = "{http://www.w3.org/2005/Atom}"
AX = "{http://arxiv.org/schemas/atom}"
OS = "{http://a9.com/-/spec/opensearch/1.1/}"
PAGE_SIZE = 100  # ids per id_list request, and results per search page
RAW_LIMIT = 20_000

_PARSER = etree.XMLParser(**SAFE_XML)


class ArxivApiError(SourceError):
    """The API answered with its error feed."""


class MalformedFeed(SourceError):
    """The body is not an Atom feed (truncated, HTML, garbage)."""


class IncompleteResults(SourceError):
    """A search stopped early: the API kept sending empty pages before its announced end."""


class NotArxivIds(ValueError):
    """Some ids asked for are no arXiv ids in any spelling; nothing was sent."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        listed = ", ".join(repr(t) for t in tokens)
        super().__init__(
            f"not an arXiv id: {listed} (write 2401.00001 - YYMM.NNNNN, month 01 to 12 - or "
            "2104.12255v1, hep-th/9504118, arXiv:2401.00001, https://arxiv.org/abs/2401.00001)"
        )


@dataclass(slots=True)
class FeedPage:
    items: list[Paper | Rejected] = field(default_factory=list)
    total_results: int = 0
    start_index: int = 0
    items_per_page: int = 0


def parse_feed(body: bytes) -> FeedPage:
    """Parse one Atom response. Raises ArxivApiError for the error feed, MalformedFeed for
    anything that is not a complete Atom feed."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedFeed(f"malformed or truncated Atom feed: {exc}") from exc
    if root.tag != f"{ATOM}feed":
        raise MalformedFeed(f"not an Atom feed (root element {root.tag!r})")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        if collapse_whitespace(_text(entry, f"{ATOM}title")) == "Error" and "/api/errors" in (
            _text(entry, f"{ATOM}id") or ""
        ):
            detail = collapse_whitespace(_text(entry, f"{ATOM}summary")) or "unknown error"
            raise ArxivApiError(f"arXiv API error: {detail}")
    return FeedPage(
        items=[parse_entry(e) for e in entries],
        total_results=_int(_text(root, f"{OS}totalResults")),
        start_index=_int(_text(root, f"{OS}startIndex")),
        items_per_page=_int(_text(root, f"{OS}itemsPerPage")),
    )


def parse_entry(entry: Any) -> Paper | Rejected:
    """One Atom <entry> -> Paper, or Rejected with the reason."""
    raw_id = collapse_whitespace(_text(entry, f"{ATOM}id"))
    try:
        arxiv_id, version = split_arxiv_id(raw_id)
        published = _date(_text(entry, f"{ATOM}published"))
        primary = entry.find(f"{AX}primary_category")
        terms = [primary.get("term", "")] if primary is not None else []
        terms += [c.get("term", "") for c in entry.iterfind(f"{ATOM}category")]
        paper = Paper(
            arxiv_id=arxiv_id,
            version=version,
            title=collapse_whitespace(_text(entry, f"{ATOM}title")),
            abstract=collapse_whitespace(_text(entry, f"{ATOM}summary")),
            authors=[a for a in map(_author, entry.iterfind(f"{ATOM}author")) if a.name],
            categories=clean_categories(terms),
            submitted=published,
            updated=_date(_text(entry, f"{ATOM}updated")) or published,
            comments=collapse_whitespace(_text(entry, f"{AX}comment")) or None,
            journal_ref=collapse_whitespace(_text(entry, f"{AX}journal_ref")) or None,
            doi=collapse_whitespace(_text(entry, f"{AX}doi")) or None,
            sources=[SOURCE],
        )
        paper.validate()
        return paper
    except InvalidRecord as exc:
        raw = etree.tostring(entry, encoding="unicode")[:RAW_LIMIT]
        return Rejected(SOURCE, raw_id or "(no id)", str(exc), raw)


def _author(element: Any) -> Author:
    affiliations = [
        text
        for a in element.iterfind(f"{AX}affiliation")
        if (text := collapse_whitespace(element_text(a)))
    ]
    return Author(
        collapse_whitespace(_text(element, f"{ATOM}name")), "; ".join(affiliations) or None
    )


def _text(element: Any, path: str) -> str | None:
    found = element.find(path)
    return element_text(found) if found is not None else None


def _int(text: str | None) -> int:
    try:
        return int((text or "0").strip())
    except ValueError:
        return 0


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError as exc:
        raise InvalidRecord(f"bad date {text!r}") from exc


# -- fetching -----------------------------------------------------------------


def fetch_feed(client: PoliteClient, api_url: str, params: dict[str, str]) -> FeedPage:
    """One API request, parsed. HTTP 400 carries the error feed, so it is parsed too."""
    response = client.get(api_url, params, ok_status=(200, 400))
    page = parse_feed(response.content)
    if response.status_code == 400:
        raise ArxivApiError(f"arXiv API refused the request (HTTP 400) for {params}")
    return page


def request_ids(raw: Iterable[str]) -> list[str]:
    """The ids to ask the API for, from any accepted spelling (arXiv:…, oai:…, abs/pdf URL):
    bare, keeping a version (2104.12255v1), each once. Raises NotArxivIds naming every
    token that is no arXiv id."""
    wanted: list[str] = []
    bad: list[str] = []
    for token in raw:
        try:
            arxiv_id, version = split_arxiv_id(token)
            check_id_month(arxiv_id)
        except InvalidRecord:
            bad.append(token)
            continue
        wanted.append(f"{arxiv_id}v{version}" if version else arxiv_id)
    if bad:
        raise NotArxivIds(bad)
    return list(dict.fromkeys(wanted))


def not_returned(asked: Sequence[str], items: Sequence[Paper | Rejected]) -> list[str]:
    """The ids of `asked` (as request_ids spells them) that no returned item answers."""
    returned = {_same_paper(p.arxiv_id) for p in items if isinstance(p, Paper)}
    for item in items:
        if isinstance(item, Rejected):
            with contextlib.suppress(InvalidRecord):
                returned.add(_same_paper(split_arxiv_id(item.key)[0]))
    return [i for i in asked if _same_paper(split_arxiv_id(i)[0]) not in returned]


def _same_paper(arxiv_id: str) -> str:
    """math.GT/0309136 and math/0309136 are one paper (arXiv's own id drops the class)."""
    return re.sub(r"\.[A-Z]{2}/", "/", arxiv_id)


def id_list_params(ids: Sequence[str], start: int = 0) -> dict[str, str]:
    return {
        "search_query": "",
        "id_list": ",".join(ids),
        "start": str(start),
        "max_results": str(PAGE_SIZE),
    }


def search_params(query: str, start: int, page_size: int) -> dict[str, str]:
    return {
        "search_query": query,
        "id_list": "",
        "start": str(start),
        "max_results": str(page_size),
    }


def fetch_ids(
    client: PoliteClient, api_url: str, ids: Sequence[str]
) -> Iterator[list[Paper | Rejected]]:
    """Look up `ids` (any accepted spelling) PAGE_SIZE at a time; one list per request."""
    for start in range(0, len(ids), PAGE_SIZE):
        yield fetch_feed(client, api_url, id_list_params(ids[start : start + PAGE_SIZE])).items


def search(
    client: PoliteClient, api_url: str, query: str, max_results: int, page_size: int = PAGE_SIZE
) -> Iterator[list[Paper | Rejected]]:
    """Up to `max_results` results of `query`, one list per page (never more than asked,
    whatever the server sends). An empty page before the end the feed announces (the API
    sends such pages now and then) is asked for again, http_retries times; then
    IncompleteResults says how many of how many were fetched."""
    start = 0
    empty = 0
    while start < max_results:
        size = min(page_size, max_results - start)
        page = fetch_feed(client, api_url, search_params(query, start, size))
        items = page.items[:size]
        if not items:
            if start >= page.total_results:
                return
            empty += 1
            if empty > client.settings.http_retries:
                wanted = min(max_results, page.total_results)
                raise IncompleteResults(
                    f"the arXiv API sent an empty page at start={start} {empty} times in a "
                    f"row though it reports {page.total_results:,} results; stopped with "
                    f"{start:,} of the {wanted:,} asked for fetched and stored — try again "
                    "later"
                )
            continue
        empty = 0
        yield items
        start += len(items)
        if start >= page.total_results:
            return
