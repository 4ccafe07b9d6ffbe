"""Feed and export routes: RSS/Atom of the daily list, trending and any search; BibTeX and
CSL-JSON of one paper and of a search result page. Thin: pick the papers through the
Service (as the pages do), hand them to paperwire.feeds / paperwire.bibliography."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
from paperwire.web.render import with_query

router = APIRouter(include_in_schema=False)
FEED_ITEMS = 100  # papers per feed
DAILY_ITEMS = 5000  # at most this many papers of one day are read before the category filter
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


def _feed(request: Request, fmt: str, info_title: str, page: str, papers: list[Paper]) -> Response:
    base = request.app.state.settings.base_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    info = feeds.FeedInfo(
        title=f"paperwire · {info_title}",
        link=base + page,
        self_url=f"{base}{request.url.path}{query}",
        description=f"{info_title}, from paperwire",
        site_url=base,
    )
    build = feeds.rss if fmt == "rss" else feeds.atom
    body = build(info, papers, datetime.now(UTC))
    media = feeds.FEED_TYPES[fmt] + "; charset=utf-8"
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=300"})


@router.get("/feeds/daily.{fmt}")
def daily_feed(
    request: Request,
    fmt: str,
    category: Annotated[str, Query(max_length=64)] = "",
    day: Annotated[str | None, Query(alias="date")] = None,
) -> Response:
    """The papers of the newest listing day (or ?date=), optionally of one ?category=
    (cs.CL, or a whole archive: cs), cross-lists included."""
    fmt = _feed_format(fmt)
    if category and not _CATEGORY.match(category):
        raise HTTPException(400, "category must look like cs.CL or cs")
    service = _service(request)
    try:
        chosen = listing.parse_day(day) or listing.latest_day(service)
    except listing.BadRequest as exc:
        raise HTTPException(400, str(exc)) from exc
    papers = service.store.papers_listed(chosen, chosen, DAILY_ITEMS) if chosen else []
    if category:
        papers = [p for p in papers if any(_in_category(c, category) for c in p.categories)]
    title = f"daily papers{' in ' + category if category else ''}"
    if chosen:
        title += f", {chosen:%B %-d, %Y}"
    page = with_query("/", date=chosen.isoformat() if chosen else None)
    return _feed(request, fmt, title, page, papers[:FEED_ITEMS])


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
    if latest is not None:
        try:
            span = listing.make_window(service, window, latest)
        except listing.BadRequest as exc:
            raise HTTPException(400, str(exc)) from exc
        papers = [p for p, _ in service.trending(span.start, span.end, limit=FEED_ITEMS)[0]]
    page = with_query("/trending", window=window)
    return _feed(request, fmt, f"trending papers ({window})", page, papers)


def _search_papers(
    service: Service, form: dict[str, str], page: int, per_page: int
) -> tuple[str, list[Paper]]:
    """The papers of one page of the search the search page's `form` describes."""
    q, category, since, until, sort = (form[k] for k in ("q", "category", "since", "until", "sort"))
    if sort not in listing.SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(listing.SORTS)}")
    if not (q.strip() or category.strip() or since or until):
        raise HTTPException(400, "give a search query: ?q=…")
    try:
        low, high = listing.parse_day(since, "since"), listing.parse_day(until, "until")
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
    return shown, [h.paper for h in result.hits]


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
    """Papers matching a search (the search page's parameters), newest first by default."""
    fmt = _feed_format(fmt)
    form = {"q": q, "category": category, "since": since, "until": until, "sort": sort}
    query, papers = _search_papers(_service(request), form, 1, FEED_ITEMS)
    return _feed(request, fmt, f"search: {query}", with_query("/search", **form), papers)


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


@router.get("/papers/{arxiv_id:path}.bib")
def paper_bibtex(request: Request, arxiv_id: str) -> Response:
    return paper_export(request, arxiv_id, "bibtex")


@router.get("/papers/{arxiv_id:path}.json")
def paper_csljson(request: Request, arxiv_id: str) -> Response:
    return paper_export(request, arxiv_id, "csljson")


@router.get("/papers/{arxiv_id:path}/export")
def paper_export(request: Request, arxiv_id: str, format: str = "bibtex") -> Response:
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
    _query, papers = _search_papers(service, form, page, SEARCH_PER_PAGE)
    return _export(papers, format, f"paperwire-search-page{page}")
