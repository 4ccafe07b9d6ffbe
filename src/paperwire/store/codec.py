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


def merge(stored: Paper, incoming: Paper) -> Paper:
    """What the store keeps when `incoming` arrives for a paper it already has.

    - A record of an older version than the stored one only fills gaps.
    - Fields the incoming source left empty (None) never erase stored values.
    - Sources accumulate; HF fields take the newest known value; the earliest
      listing and submission dates win (a paper is listed once, later cross-lists
      and replacements do not move it).
    """
    older = (
        incoming.version is not None
        and stored.version is not None
        and incoming.version < stored.version
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
