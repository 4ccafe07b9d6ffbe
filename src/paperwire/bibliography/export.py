"""Papers to BibTeX and to CSL-JSON. Pure functions.

Citation keys are stable: surname of the first author + year + first long title word,
ASCII, e.g. ``vaswani2017attention``; when two papers of one export share a key, the
later ones get their arXiv id appended (``vaswani2017attention_1706_03762``)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

import orjson

from paperwire.bibliography.csl_markup import csl_rich
from paperwire.bibliography.latex import latex_to_plain, text_to_bibtex
from paperwire.bibliography.names import person_name
from paperwire.models import Paper
from paperwire.numbers import is_ascii_digits

_STOP_WORDS = frozenset(
    ["a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "from", "via", "is"]
)


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", latex_to_plain(text))
    return "".join(ch for ch in plain if ch.isascii() and ch.isalnum()).lower()


def _year_of_id(arxiv_id: str) -> int | None:
    """arXiv ids start with the year and month of their first version (YYMM)."""
    digits = arxiv_id.split("/")[-1][:2]
    if not is_ascii_digits(digits):
        return None
    return (1900 if int(digits) >= 91 else 2000) + int(digits)


def paper_year(paper: Paper) -> int | None:
    """Year of the first version: submitted date, else the id's YYMM, else listing."""
    if paper.submitted:
        return paper.submitted.year
    return _year_of_id(paper.arxiv_id) or (d.year if (d := _paper_date(paper)) else None)


def _paper_date(paper: Paper) -> date | None:
    return paper.submitted or paper.listing_date or paper.updated or paper.hf_date


def split_name(name: str) -> tuple[str, str]:
    """(given, family) of a name (see names.person_name); particles stay with the family
    name ('Ludwig van Beethoven' -> ('Ludwig', 'van Beethoven')), a suffix goes to
    neither ('Hal Daumé III' -> ('Hal', 'Daumé'))."""
    parts = person_name(latex_to_plain(name))
    return parts.given, parts.family


def citation_key(paper: Paper) -> str:
    family = split_name(paper.authors[0].name)[1] if paper.authors else ""
    surname = _ascii_word(family.split()[-1] if family else "") or "anon"
    words = [_ascii_word(w) for w in re.split(r"[\s\-/:]+", latex_to_plain(paper.title))]
    word = next((w for w in words if w and w not in _STOP_WORDS), "")
    return f"{surname}{paper_year(paper) or ''}{word}"


def citation_keys(papers: list[Paper]) -> list[str]:
    keys: list[str] = []
    seen: set[str] = set()
    for paper in papers:
        key = citation_key(paper)
        if key in seen:
            key = f"{key}_{re.sub(r'[^A-Za-z0-9]', '_', paper.arxiv_id)}"
        seen.add(key)
        keys.append(key)
    return keys


def _bibtex_name(name: str) -> str:
    parts = person_name(latex_to_plain(name))
    if parts.suffix and parts.given:  # BibTeX reads a suffix only as "Last, Jr, First"
        return ", ".join(text_to_bibtex(p) for p in (parts.family, parts.suffix, parts.given))
    text = text_to_bibtex(name)
    if not text:
        return ""
    # a name containing the word "and" or a comma would be split or reordered by BibTeX
    if re.search(r"\band\b|,", text, re.IGNORECASE):
        return "{" + text + "}"
    return text


def bibtex_entry(paper: Paper, key: str) -> str:
    """One @misc entry (arXiv's own style) or @article when a journal DOI is known."""
    fields: list[tuple[str, str]] = [
        ("title", "{" + text_to_bibtex(paper.title) + "}"),
        # a blank name would read as a name of its own: " and Bo Li" is two authors
        ("author", " and ".join(n for a in paper.authors if (n := _bibtex_name(a.name)))),
    ]
    year = paper_year(paper)
    if year:
        fields.append(("year", str(year)))
    fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
    if paper.primary_category:
        fields.append(("primaryClass", paper.primary_category))
    if paper.doi:
        fields.append(("doi", text_to_bibtex(paper.doi)))
    if paper.journal_ref:
        fields.append(("journal", text_to_bibtex(paper.journal_ref)))
    fields.append(("url", paper.abs_url))
    width = max(len(name) for name, _ in fields)
    body = ",\n".join(f"  {name.ljust(width)} = {{{value}}}" for name, value in fields)
    kind = "article" if paper.journal_ref else "misc"
    return f"@{kind}{{{key},\n{body}\n}}\n"


def to_bibtex(papers: list[Paper]) -> str:
    """A .bib file for `papers`, in order."""
    return "\n".join(bibtex_entry(p, k) for p, k in zip(papers, citation_keys(papers), strict=True))


def csl_item(paper: Paper, key: str) -> dict[str, Any]:
    """A CSL-JSON item as Zotero writes arXiv preprints; titles rendered to Unicode, with
    what CSL would read as markup (a title about the <b> tag) escaped (csl_markup)."""
    authors: list[dict[str, str]] = []
    for author in paper.authors:
        parts = person_name(latex_to_plain(author.name))
        if not parts.given:
            authors.append({"literal": parts.written})
            continue
        authors.append({"family": parts.family, "given": parts.given})
        if parts.suffix:
            authors[-1]["suffix"] = parts.suffix
    item: dict[str, Any] = {
        "id": key,
        "type": "article-journal" if paper.journal_ref else "article",
        "title": csl_rich(latex_to_plain(paper.title)),
        "author": authors,
        "abstract": csl_rich(latex_to_plain(paper.abstract)),
        "URL": paper.abs_url,
        "number": f"arXiv:{paper.arxiv_id}",
        "publisher": "arXiv",
        "DOI": paper.doi or f"10.48550/arXiv.{paper.arxiv_id}",
        "archive": "arXiv",
        "archive_location": paper.arxiv_id,
    }
    if paper.submitted:
        day = paper.submitted
        item["issued"] = {"date-parts": [[day.year, day.month, day.day]]}
    elif paper_year(paper):
        item["issued"] = {"date-parts": [[paper_year(paper)]]}
    if paper.primary_category:
        item["keyword"] = ", ".join(paper.categories)
    if paper.journal_ref:
        item["container-title"] = csl_rich(latex_to_plain(paper.journal_ref))
    return item


def to_csl_json(papers: list[Paper]) -> bytes:
    """A CSL-JSON array for `papers`, in order (UTF-8 bytes)."""
    items = [csl_item(p, k) for p, k in zip(papers, citation_keys(papers), strict=True)]
    return orjson.dumps(items, option=orjson.OPT_INDENT_2)
