"""Conversion between Paper records and table rows, and the merge rule for upserts."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import orjson

from paperwire.models import Author, Paper

# Fields whose value describes the paper's text/metadata at a given version.
_VERSIONED = (
    "title",
    "abstract",
    "authors",
    "categories",
    "comments",
    "journal_ref",
    "doi",
    "license",
)
_OPTIONAL = (
    "submitted",
    "updated",
    "listing_date",
    "comments",
    "journal_ref",
    "doi",
    "license",
    "hf_upvotes",
    "hf_comments",
    "hf_github",
    "hf_date",
)


def paper_to_row(paper: Paper) -> dict[str, Any]:
    row: dict[str, Any] = {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": [
            {"name": a.name, "affiliation": a.affiliation} if a.affiliation else {"name": a.name}
            for a in paper.authors
        ],
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "sources": sorted(set(paper.sources)),
        "deleted": paper.deleted,
    }
    for name in _OPTIONAL:
        row[name] = getattr(paper, name)
    row["content_hash"] = content_hash(row)
    return row


def row_to_paper(row: Any) -> Paper:
    m = row._mapping if hasattr(row, "_mapping") else row
    return Paper(
        arxiv_id=m["arxiv_id"],
        version=m["version"],
        title=m["title"],
        abstract=m["abstract"],
        authors=[Author(a["name"], a.get("affiliation")) for a in m["authors"]],
        categories=list(m["categories"]),
        sources=list(m["sources"]),
        deleted=bool(m["deleted"]),
        **{name: m[name] for name in _OPTIONAL},
    )


def content_hash(row: dict[str, Any]) -> str:
    """Stable digest of a row's content (timestamps and the hash itself excluded)."""
    payload = {k: v for k, v in row.items() if k not in ("content_hash", "modified_at")}
    blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


# Sources that copy arXiv's metadata (names only, no affiliations or categories): once an
# arXiv source has stored a paper, their title/abstract/authors only fill gaps.
SECONDARY_SOURCES = frozenset({"hf_daily"})


def _secondary_over_arxiv(stored: Paper, incoming: Paper) -> bool:
    return (
        bool(incoming.sources)
        and set(incoming.sources) <= SECONDARY_SOURCES
        and not set(stored.sources) <= SECONDARY_SOURCES
    )


def _older_by_date(stored: Paper, incoming: Paper) -> bool:
    """Without a version number (OAI arXiv format), an earlier last-updated date means an
    older record: re-harvesting history must not regress a paper to an old revision."""
    return (
        incoming.version is None
        and incoming.updated is not None
        and stored.updated is not None
        and incoming.updated < stored.updated
    )


def merge(stored: Paper, incoming: Paper) -> Paper:
    """What the store keeps when `incoming` arrives for a paper it already has.

    - A record of an older version than the stored one only fills gaps; so does a record
      from a secondary source (HF daily papers) for a paper an arXiv source already gave.
    - Fields the incoming source left empty (None) never erase stored values.
    - Sources accumulate; HF fields take the newest known value; the earliest
      listing and submission dates win (a paper is listed once, later cross-lists
      and replacements do not move it).
    """
    older = (
        (
            incoming.version is not None
            and stored.version is not None
            and incoming.version < stored.version
        )
        or _secondary_over_arxiv(stored, incoming)
        or _older_by_date(stored, incoming)
    )
    merged = replace(stored)
    if not older:
        for name in _VERSIONED:
            value = getattr(incoming, name)
            if value not in (None, "", []):
                setattr(merged, name, value)
        if incoming.version is not None:
            merged.version = incoming.version
        if incoming.updated is not None:
            merged.updated = incoming.updated
        merged.deleted = incoming.deleted
    else:
        for name in _VERSIONED:
            if getattr(merged, name) in (None, "", []):
                setattr(merged, name, getattr(incoming, name))
    for name in ("submitted", "listing_date"):
        mine, theirs = getattr(merged, name), getattr(incoming, name)
        if theirs is not None and (mine is None or theirs < mine):
            setattr(merged, name, theirs)
    if merged.updated is None:
        merged.updated = incoming.updated
    for name in ("hf_upvotes", "hf_comments", "hf_github", "hf_date"):
        if getattr(incoming, name) is not None:
            setattr(merged, name, getattr(incoming, name))
    merged.sources = sorted(set(stored.sources) | set(incoming.sources))
    return merged
