"""What a reader's library file holds once parsed, and how identifiers are read from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperwire.models import InvalidRecord, check_id_month, read_arxiv_id

ARXIV_DOI_PREFIX = "10.48550/arxiv."
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}]+)", re.IGNORECASE)
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv(?:\.org)?(?:/abs/|/pdf/|:\s*|\s+)|^)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One reference from an uploaded file. `key` says where it was: a BibTeX key and
    line, a CSL id, a RIS record number or a line number."""

    key: str
    arxiv_id: str | None = None
    doi: str | None = None
    title: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    key: str
    reason: str


@dataclass(slots=True)
class ParsedLibrary:
    format: str  # bibtex | csljson | ris | idlist
    entries: list[LibraryEntry] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)


class LibraryFileError(ValueError):
    """The whole file cannot be read (too big, not text, unknown format)."""


def normalise_doi(raw: str | None) -> str | None:
    """'https://doi.org/10.1000/XYZ.' -> '10.1000/xyz' (DOIs are case-insensitive)."""
    if not raw:
        return None
    found = _DOI.search(raw.strip())
    if not found:
        return None
    return found.group(1).rstrip(".,;)").lower()


def arxiv_id_from_doi(doi: str | None) -> str | None:
    """The arXiv id of an arXiv DataCite DOI (10.48550/arXiv.2401.00001), else None."""
    if doi and doi.startswith(ARXIV_DOI_PREFIX):
        return arxiv_id(doi)
    return None


def arxiv_id(raw: str | None) -> str | None:
    """The versionless arXiv id in an id, ``arXiv:`` id, abs/pdf URL or arXiv DOI
    (models.read_arxiv_id); None for anything else, a new-style id without a month
    (9999.99999) included, as the arXiv API client would refuse it."""
    return None if arxiv_id_problem(raw) else read_arxiv_id(raw)


def arxiv_id_problem(raw: str | None) -> str | None:
    """Why a token spelled like an arXiv id is none (its YYMM has no month), else None."""
    found = read_arxiv_id(raw)
    if found is None:
        return None
    try:
        check_id_month(found)
    except InvalidRecord as exc:
        return f"not an arXiv id: {exc}"
    return None


def arxiv_id_in_text(text: str | None) -> str | None:
    """An arXiv id mentioned in free text ('arXiv:2401.00001', 'arXiv preprint 2401.00001',
    an arxiv.org URL), or None."""
    if not text:
        return None
    for match in _ARXIV_IN_TEXT.finditer(text):
        found = arxiv_id(match.group(1))
        if found:
            return found
    return None


def year_of(raw: object) -> int | None:
    found = re.search(r"\b(1[6-9]\d\d|2\d\d\d)\b", str(raw or ""))
    return int(found.group(1)) if found else None
