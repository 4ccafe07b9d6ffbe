"""Feed and export routes: RSS/Atom of the daily list, trending and any search; BibTeX and
CSL-JSON of one paper and of a search result page. Thin: pick the papers through the
Service (as the pages do), hand them to paperwire.feeds / paperwire.bibliography."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from paperwire import feeds
from paperwire.bibliography import to_bibtex, to_csl_json
from paperwire.models import Paper, category_keys
from paperwire.service import Service
from paperwire.web import listing
from paperwire.web.pages import SEARCH_PER_PAGE
from paperwire.web.paper_path import PaperId
from paperwire.web.render import with_query

router = APIRouter(include_in_schema=False)
# A ranked or open-ended list (trending, search, a collection) feeds its first FEED_ITEMS
# papers; a day's feed holds the whole day, as arXiv's own feeds do, up to DAY_FEED_ITEMS
# (a busy cs day lists ~1,000). A feed that is cut says so in its description.
FEED_ITEMS = 100
DAY_FEED_ITEMS = 5000
EXPORT_TYPES = {
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
    "csljson": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
}
_CATEGORY = re.compile(r"^[A-Za-z-]+(\.[A-Za-z-]+)?$")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _feed_format(fmt: str) -> str:
    if fmt not in feeds.FEED_TYPES:
        raise HTTPException(404, "feeds end in .rss or .atom")
    return fmt


def feed_description(info_title: str, shown: int, total: int | None) -> str:
    """What a feed is, and, when it holds only the first `shown` of `total` papers, so."""
    description = f"{info_title}, from paperwire"
    if total is not None and total > shown:
        description += f"; the first {shown:,} of {total:,} papers (the rest are on the page)"
    return description


def _feed(
    request: Request,
    fmt: str,
    info_title: str,
    page: str,
    papers: list[Paper],
    total: int | None = None,
) -> Response:
    """`papers` as a feed; `total` (when more than len(papers)) is told in its description."""
    base = request.app.state.settings.base_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    info = feeds.FeedInfo(
        title=f"paperwire · {info_title}",
        link=base + page,
        self_url=f"{base}{request.url.path}{query}",
        description=feed_description(info_title, len(papers), total),
        site_url=base,
    )
    media = feeds.FEED_TYPES[fmt] + "; charset=utf-8"
    tag = _feed_tag(fmt, info, papers)
    headers = {"Cache-Control": "public, max-age=300", "ETag": tag}
    if tag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)  # a feed reader's poll: unchanged
    build = feeds.rss if fmt == "rss" else feeds.atom
    body = build(info, papers, datetime.now(UTC))
    return Response(body, media_type=media, headers=headers)


def _feed_tag(fmt: str, info: feeds.FeedInfo, papers: list[Paper]) -> str:
    """A weak ETag of what a feed says: its header and each paper as listed (id, version,
    dates, title, abstract), not the build time every body carries."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (fmt, info.title, info.link, info.self_url, info.description):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for paper in papers:
        fields = (paper.arxiv_id, paper.version, paper.updated, paper.listing_date)
        digest.update(repr(fields).encode() + b"\0")
        digest.update(paper.title.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(paper.abstract.encode("utf-8", "surrogatepass") + b"\0")
    return f'W/"{digest.hexdigest()}"'


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header, each also as its weak form."""
    tags = {t.strip() for t in header.split(",") if t.strip()}
    return tags | {t if t.startswith("W/") else f"W/{t}" for t in tags}


@router.get("/feeds/daily.{fmt}")
def daily_feed(
    request: Request,
    fmt: str,
    category: Annotated[str, Query(max_length=64)] = "",
    day: Annotated[str | None, Query(alias="date")] = None,
) -> Response:
    """The papers of the newest listing day (or ?date=), optionally of one ?category=
    (cs.CL, or a whole archive: cs), cross-lists included: the whole day, up to
    DAY_FEED_ITEMS."""
    fmt = _feed_format(fmt)
    if category and not _CATEGORY.match(category):
        raise HTTPException(400, "category must look like cs.CL or cs")
    service = _service(request)
    try:
        chosen = listing.parse_day(day) or listing.latest_day(service)
    except listing.BadRequest as exc:
        raise HTTPException(400, str(exc)) from exc
    papers, total = _day_papers(service, chosen, category) if chosen else ([], 0)
    title = f"daily papers{' in ' + category if category else ''}"
    if chosen:
        title += f", {chosen:%B %-d, %Y}"
    page = with_query("/", date=chosen.isoformat() if chosen else None)
    return _feed(request, fmt, title, page, papers, total)


def _day_papers(service: Service, day: date, category: str) -> tuple[list[Paper], int]:
    """The first DAY_FEED_ITEMS papers of `day` (in `category`, if given), and how many
    there are."""
    if not category:
        papers = service.store.papers_listed(day, day, DAY_FEED_ITEMS)
        cut = len(papers) == DAY_FEED_ITEMS
        return papers, service.store.count_listed(day, day) if cut else len(papers)
    kept: list[Paper] = []
    total = 0
    for batch in service.store.iter_papers_listed(day, day):
        for paper in batch:
            if any(_in_category(c, category) for c in paper.categories):
                total += 1
                if len(kept) < DAY_FEED_ITEMS:
                    kept.append(paper)
    return kept, total


def _in_category(category: str, wanted: str) -> bool:
    """Whether a paper's `category` is `wanted` (a class, cs.CL, or an archive, cs), in any
    letter case, as search's cat: compares them."""
    return wanted.lower() in category_keys(category)


@router.get("/feeds/trending.{fmt}")
def trending_feed(request: Request, fmt: str, window: str = "week") -> Response:
    """Trending papers of the newest day's week (or ?window=day|week|month)."""
    fmt = _feed_format(fmt)
    service = _service(request)
    latest = listing.latest_day(service)
    papers: list[Paper] = []
    total = 0
    if latest is not None:
        try:
            span = listing.make_window(service, window, latest)
        except listing.BadRequest as exc:
            raise HTTPException(400, str(exc)) from exc
        ranked, total = service.trending(span.start, span.end, limit=FEED_ITEMS)
        papers = [p for p, _ in ranked]
    page = with_query("/trending", window=window)
    return _feed(request, fmt, f"trending papers ({window})", page, papers, total)


def _search_papers(
    service: Service, form: dict[str, str], page: int, per_page: int
) -> tuple[str, list[Paper], int]:
    """The papers of one page of the search the search page's `form` describes, and how
    many the search found."""
    q, category, since, until, sort = (form[k] for k in ("q", "category", "since", "until", "sort"))
    if sort not in listing.SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(listing.SORTS)}")
    if not (q.strip() or category.strip() or since or until):
        raise HTTPException(400, "give a search query: ?q=…")
    try:
        low, high = listing.parse_bound(since, "since"), listing.parse_bound(until, "until")
        result = listing.search(
            service, q, sort, page, per_page, category=category, since=low, until=high
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    shown = " ".join(
        part
        for part in (
            q.strip(),
            category and f"in {category}",
            since and f"since {since}",
            until and f"until {until}",
        )
        if part
    )
    return shown, [h.paper for h in result.hits], result.total


@router.get("/feeds/search.{fmt}")
def search_feed(
    request: Request,
    fmt: str,
    q: Annotated[str, Query(max_length=20_000)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    since: str = "",
    until: str = "",
    sort: str = "date",
) -> Response:
    """The first FEED_ITEMS papers matching a search (the search page's parameters),
    newest first by default."""
    fmt = _feed_format(fmt)
    form = {"q": q, "category": category, "since": since, "until": until, "sort": sort}
    query, papers, total = _search_papers(_service(request), form, 1, FEED_ITEMS)
    page = with_query("/search", **form)
    return _feed(request, fmt, f"search: {query}", page, papers, total)


# -- exports -----------------------------------------------------------------------------


def _export(papers: list[Paper], fmt: str, filename: str) -> Response:
    if fmt not in EXPORT_TYPES:
        raise HTTPException(400, f"format must be one of {', '.join(EXPORT_TYPES)}")
    media, extension = EXPORT_TYPES[fmt]
    body = to_bibtex(papers).encode() if fmt == "bibtex" else to_csl_json(papers)
    disposition = f"inline; filename*=UTF-8''{quote(filename)}.{extension}"
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


def _live_paper(request: Request, arxiv_id: str) -> Paper:
    paper = _service(request).paper(arxiv_id)
    if paper is None or paper.deleted:
        raise HTTPException(404, f"There is no paper {arxiv_id!r} here (yet).")
    return paper


@router.get("/papers/{arxiv_id:paper}.bib")
def paper_bibtex(request: Request, arxiv_id: PaperId) -> Response:
    return paper_export(request, arxiv_id, "bibtex")


@router.get("/papers/{arxiv_id:paper}.json")
def paper_csljson(request: Request, arxiv_id: PaperId) -> Response:
    return paper_export(request, arxiv_id, "csljson")


@router.get("/papers/{arxiv_id:paper}/export")
def paper_export(request: Request, arxiv_id: PaperId, format: str = "bibtex") -> Response:
    canonical = listing.canonical_id(arxiv_id)
    if canonical != arxiv_id:
        extension = EXPORT_TYPES.get(format, ("", "bib"))[1]
        return RedirectResponse(f"/papers/{canonical}.{extension}", 301)
    paper = _live_paper(request, arxiv_id)
    return _export([paper], format, arxiv_id.replace("/", "_"))


@router.get("/export/search")
def search_export(
    request: Request,
    q: Annotated[str, Query(max_length=20_000)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    since: str = "",
    until: str = "",
    sort: str = "relevance",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    format: str = "bibtex",
) -> Response:
    """One page of search results (the search page's parameters) as BibTeX or CSL-JSON."""
    service = _service(request)
    if format not in EXPORT_TYPES:
        raise HTTPException(400, f"format must be one of {', '.join(EXPORT_TYPES)}")
    form = {"q": q, "category": category, "since": since, "until": until, "sort": sort}
    _query, papers, _total = _search_papers(service, form, page, SEARCH_PER_PAGE)
    return _export(papers, format, f"paperwire-search-page{page}")
