"""Hugging Face daily papers: ``GET /api/daily_papers?date=YYYY-MM-DD`` (a JSON list).

Each item: ``paper.id`` (arXiv id), ``paper.title``, ``paper.summary``,
``paper.authors[].name``, ``paper.upvotes``, ``paper.githubRepo``, ``paper.publishedAt``
(the arXiv date), top-level ``numComments`` and ``publishedAt`` (the day it was listed on HF).
`parse_daily_papers` is pure; `fetch_daily_papers` does the HTTP.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from paperwire.models import (
    Author,
    InvalidRecord,
    Paper,
    Rejected,
    collapse_whitespace,
    split_arxiv_id,
    web_link,
)
from paperwire.sources.http import PoliteClient, SourceError

SOURCE = "hf_daily"
RAW_LIMIT = 20_000


class MalformedDailyPapers(SourceError):
    """The body is not the JSON list the daily papers API returns."""


def daily_papers_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/daily_papers"


PAGE_SIZE = 100  # items per request (the API pages with `limit` and `p`)


def daily_papers_params(day: date, page: int, page_size: int = PAGE_SIZE) -> dict[str, str]:
    return {"date": day.isoformat(), "limit": str(page_size), "p": str(page)}


def fetch_daily_papers(
    client: PoliteClient, base_url: str, day: date, page: int = 0, page_size: int = PAGE_SIZE
) -> bytes:
    """One page (numbered from 0) of the list for `day`; parse with parse_daily_papers."""
    params = daily_papers_params(day, page, page_size)
    return client.get(daily_papers_url(base_url), params).content


def parse_daily_papers(body: bytes) -> list[Paper | Rejected]:
    """Parse the JSON list; an item that cannot become a Paper is Rejected with its reason."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedDailyPapers(f"daily papers response is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # found by the parser fuzzer: "[[[[…" thousands deep
        raise MalformedDailyPapers("daily papers response is nested too deeply") from exc
    if not isinstance(data, list):
        raise MalformedDailyPapers(
            f"daily papers response is a JSON {type(data).__name__}, expected a list"
        )
    return [_parse_item(item, index) for index, item in enumerate(data)]


def _parse_item(item: Any, index: int) -> Paper | Rejected:
    raw = json.dumps(item, ensure_ascii=False)[:RAW_LIMIT]
    key = f"item {index}"
    try:
        if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
            raise InvalidRecord("item has no 'paper' object")
        paper_json: dict[str, Any] = item["paper"]
        key = str(paper_json.get("id") or key)
        return parse_item(item, paper_json)
    except InvalidRecord as exc:
        return Rejected(SOURCE, key, str(exc), raw)


def parse_item(item: dict[str, Any], paper_json: dict[str, Any]) -> Paper:
    arxiv_id, version = split_arxiv_id(str(paper_json.get("id") or ""))
    authors = paper_json.get("authors") or []
    if not isinstance(authors, list):
        raise InvalidRecord(f"{arxiv_id}: authors is not a list")
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=collapse_whitespace(_str(paper_json.get("title") or item.get("title"))),
        abstract=collapse_whitespace(_str(paper_json.get("summary") or item.get("summary"))),
        authors=[
            Author(name)
            for a in authors
            if isinstance(a, dict) and (name := collapse_whitespace(_str(a.get("name"))))
        ],
        submitted=_day(paper_json.get("publishedAt")),
        sources=[SOURCE],
        hf_upvotes=_count(paper_json.get("upvotes"), "upvotes"),
        hf_comments=_count(item.get("numComments"), "numComments"),
        # a code repository's https address (github.com in practice); anything else
        # (javascript:, data:, http:, a bare name) is no link: stored as "not said"
        hf_github=web_link(_str(paper_json.get("githubRepo")).strip(), ("https",)),
        hf_date=_day(item.get("publishedAt")),
    )
    paper.validate()
    return paper


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRecord(f"{name} is not a non-negative integer: {value!r}")
    return value


def _day(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidRecord(f"bad date {value!r}") from exc
