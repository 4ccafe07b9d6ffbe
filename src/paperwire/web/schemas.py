"""JSON shapes of the API: Hugging Face-compatible ones (camelCase, as huggingface_hub reads
them) and paperwire's own under /api/v1.

The models document the responses in the OpenAPI schema. The routes build the same shapes
as plain dicts (hf_item, paper_out, ...) and send them with JSONBody: validating output we
built ourselves would cost more than the search behind it. tests/test_web_api.py checks
every route's body against its model, field for field."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from paperwire.models import Hit, Paper, web_link


def hf_datetime(day: date | None) -> str | None:
    """Dates as HF writes them: 2025-03-18T00:00:00.000Z."""
    return f"{day.isoformat()}T00:00:00.000Z" if day else None


class HfAuthor(BaseModel):
    name: str
    hidden: bool = False


class HfPaper(BaseModel):
    """The `paper` object of HF's API (what `HfApi.paper_info` returns)."""

    id: str = Field(description="arXiv id without version")
    title: str
    summary: str = Field(description="the abstract")
    authors: list[HfAuthor]
    publishedAt: str | None = Field(description="first submission (or listing) date")
    submittedOnDailyAt: str | None = Field(description="listing date")
    upvotes: int = Field(description="paperwire upvotes plus Hugging Face upvotes")
    numComments: int = 0
    githubRepo: str | None = None
    discussionId: str | None = None
    categories: list[str] = Field(default_factory=list, description="paperwire extension")
    arxivUrl: str = Field(description="paperwire extension")


class HfDailyItem(BaseModel):
    """One entry of /api/daily_papers and /api/papers/search."""

    paper: HfPaper
    title: str
    summary: str
    publishedAt: str | None
    numComments: int = 0
    thumbnail: str | None = None
    isAuthorParticipating: bool = False


def hf_paper(paper: Paper, upvotes: int) -> dict[str, Any]:
    """The HfPaper shape as plain JSON values (field for field, in the model's order)."""
    listed = paper.listing_date or paper.hf_date
    return {
        "id": paper.arxiv_id,
        "title": paper.title,
        "summary": paper.abstract,
        "authors": [{"name": a.name, "hidden": False} for a in paper.authors],
        "publishedAt": hf_datetime(paper.submitted or listed),
        "submittedOnDailyAt": hf_datetime(listed),
        "upvotes": upvotes,
        "numComments": paper.hf_comments or 0,
        "githubRepo": web_link(paper.hf_github),
        "discussionId": None,
        "categories": list(paper.categories),
        "arxivUrl": paper.abs_url,
    }


def hf_item(paper: Paper, upvotes: int) -> dict[str, Any]:
    """The HfDailyItem shape as plain JSON values."""
    body = hf_paper(paper, upvotes)
    return {
        "paper": body,
        "title": paper.title,
        "summary": paper.abstract,
        "publishedAt": body["submittedOnDailyAt"],
        "numComments": body["numComments"],
        "thumbnail": None,
        "isAuthorParticipating": False,
    }


# -- /api/v1 -------------------------------------------------------------------


class PaperOut(BaseModel):
    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    version: int | None
    submitted: date | None
    updated: date | None
    listing_date: date | None
    comments: str | None
    journal_ref: str | None
    doi: str | None
    upvotes: int = Field(description="paperwire upvotes plus Hugging Face upvotes")
    hf_comments: int | None
    github: str | None
    abs_url: str
    pdf_url: str
    url: str = Field(description="paperwire page of the paper")


class HitOut(BaseModel):
    paper: PaperOut
    score: float
    highlights: dict[str, str] = Field(
        default_factory=dict, description="HTML-escaped snippets with matches in <mark>"
    )


class SearchOut(BaseModel):
    query: str
    total: int
    page: int
    per_page: int
    pages: int
    sort: str
    mode: str
    semantic_coverage: float = Field(
        description="share of stored papers with vectors (meaning-based search covers "
        "them), in every mode; 0.0 when semantic search is not installed"
    )
    notes: list[str]
    results: list[HitOut]


class PaperListOut(BaseModel):
    start: date
    end: date
    total: int
    page: int
    per_page: int
    pages: int
    sort: str
    notes: list[str] = Field(
        default_factory=list, description="why the page is empty (nothing when it is not)"
    )
    results: list[PaperOut]
    scores: dict[str, float] = Field(default_factory=dict, description="trending scores")


class VoteOut(BaseModel):
    arxiv_id: str
    voted: bool
    upvotes: int


class ErrorOut(BaseModel):
    error: str


def paper_out(paper: Paper, upvotes: int) -> dict[str, Any]:
    """The PaperOut shape as plain JSON values (dates stay dates: orjson writes ISO)."""
    return {
        "arxiv_id": paper.arxiv_id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": [a.name for a in paper.authors],
        "categories": list(paper.categories),
        "version": paper.version,
        "submitted": paper.submitted,
        "updated": paper.updated,
        "listing_date": paper.listing_date,
        "comments": paper.comments,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "upvotes": upvotes,
        "hf_comments": paper.hf_comments,
        "github": web_link(paper.hf_github),
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
        "url": f"/papers/{paper.arxiv_id}",
    }


def hit_out(hit: Hit, upvotes: int) -> dict[str, Any]:
    """The HitOut shape as plain JSON values."""
    return {
        "paper": paper_out(hit.paper, upvotes),
        "score": float(hit.score),
        "highlights": dict(hit.highlights),
    }


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


class JSONBody(Response):
    """A JSON response encoded by orjson (dates as ISO strings, UTF-8, no validation)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
