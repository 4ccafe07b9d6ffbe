"""Conversion between Paper records and table rows, and the merge rule for upserts."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import replace
from datetime import date
from typing import Any

import orjson

from paperwire.models import Author, Paper, clean_text

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


# Column order of an encoded row: the papers table's columns minus modified_at.
ENCODED_COLUMNS = (
    "arxiv_id",
    "version",
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "submitted",
    "updated",
    "listing_date",
    "comments",
    "journal_ref",
    "doi",
    "license",
    "sources",
    "hf_upvotes",
    "hf_comments",
    "hf_github",
    "hf_date",
    "deleted",
    "content_hash",
)
EncodedRow = tuple[Any, ...]


def _clean(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def encode_paper(paper: Paper) -> EncodedRow:
    """A Paper as the tuple the database driver stores (ENCODED_COLUMNS order).

    JSON columns are JSON text, dates ISO text: exactly what SQLAlchemy's JSON and Date
    types store on SQLite, and text PostgreSQL casts on insert. The last element is a
    digest of all the others, used to tell unchanged records from updates.
    """
    authors = [
        {"name": a.name, "affiliation": a.affiliation} if a.affiliation else {"name": a.name}
        for a in paper.authors
    ]
    values = (
        paper.arxiv_id,
        paper.version,
        paper.title,
        paper.abstract,
        orjson.dumps(authors).decode(),
        orjson.dumps(paper.categories).decode(),
        paper.categories[0] if paper.categories else None,
        _iso(paper.submitted),
        _iso(paper.updated),
        _iso(paper.listing_date),
        paper.comments,
        paper.journal_ref,
        paper.doi,
        paper.license,
        orjson.dumps(sorted(set(paper.sources))).decode(),
        paper.hf_upvotes,
        paper.hf_comments,
        paper.hf_github,
        _iso(paper.hf_date),
        paper.deleted,
    )
    dumped = orjson.dumps(values)
    # No stored text holds control characters (models.clean_text); found by one look at
    # the row's JSON, so clean rows cost only that look (~1 µs).
    if b"\\u00" in dumped or b"\x7f" in dumped:  # JSON writes control characters as \u00XX
        values = _without_controls(values)
        dumped = orjson.dumps(values)
    # Stored text is in NFC (é, not e + a combining accent), so one paper imported in
    # either form is one row and one content hash; orjson writes non-ASCII as it is.
    if not dumped.isascii() and (composed := _composed(values)) != values:
        values = composed
        dumped = orjson.dumps(values)
    digest = hashlib.blake2b(dumped, digest_size=16).hexdigest()
    return (*values, digest)


# Positions in an encoded row of the free-text columns, and of the authors' JSON.
_TEXT_COLUMNS = tuple(
    ENCODED_COLUMNS.index(c)
    for c in (*_VERSIONED, "hf_github")
    if c not in ("authors", "categories")
)
_AUTHORS = ENCODED_COLUMNS.index("authors")


def _without_controls(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """`values` (an encoded row but its digest) with control characters taken out of
    every text: found by one look at the row's JSON, so clean rows cost nothing more."""
    out = list(values)
    for n in _TEXT_COLUMNS:
        out[n] = _clean(out[n])
    authors = [{k: clean_text(v) for k, v in a.items()} for a in orjson.loads(out[_AUTHORS])]
    out[_AUTHORS] = orjson.dumps(authors).decode()
    return tuple(out)


def _composed(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """`values` with every text in NFC (the same objects when they are). The JSON columns
    are normalised as text, which gives the JSON of their normalised strings: the
    characters of JSON's syntax (quotes, brackets, commas, colons, backslashes) compose
    with none."""
    return tuple(unicodedata.normalize("NFC", v) if isinstance(v, str) else v for v in values)


def content_hash(paper: Paper) -> str:
    """The digest the store keeps for `paper` (papers.content_hash): equal for a paper
    read back from the store and the row it came from."""
    return str(encode_paper(paper)[-1])


def decode_paper(row: EncodedRow) -> Paper:
    """Inverse of encode_paper."""
    (arxiv_id, version, title, abstract, authors, categories, _primary, submitted, updated,
     listing_date, comments, journal_ref, doi, license_, sources, hf_upvotes, hf_comments,
     hf_github, hf_date, deleted, _digest) = row  # fmt: skip
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=[Author(a["name"], a.get("affiliation")) for a in orjson.loads(authors)],
        categories=orjson.loads(categories),
        submitted=_from_iso(submitted),
        updated=_from_iso(updated),
        listing_date=_from_iso(listing_date),
        comments=comments,
        journal_ref=journal_ref,
        doi=doi,
        license=license_,
        sources=orjson.loads(sources),
        hf_upvotes=hf_upvotes,
        hf_comments=hf_comments,
        hf_github=hf_github,
        hf_date=_from_iso(hf_date),
        deleted=bool(deleted),
    )


def row_to_paper(row: Any) -> Paper:
    """A Paper from a SQLAlchemy result row of the papers table (typed values)."""
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
