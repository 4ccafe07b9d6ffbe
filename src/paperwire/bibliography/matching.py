"""Matching parsed references to stored papers: by arXiv id, then DOI, then normalised
title; references with an arXiv id that is not stored may be fetched (the caller says
how). Pure over a Lookup, so the store and the network stay outside."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from paperwire.bibliography.entries import LibraryEntry, Malformed, ParsedLibrary
from paperwire.bibliography.latex import title_key

BY_ID, BY_DOI, BY_TITLE, FETCHED = "arXiv id", "DOI", "title", "fetched from arXiv"


class Lookup(Protocol):
    def live_ids(self, ids: Sequence[str]) -> set[str]: ...
    def ids_by_doi(self, dois: Sequence[str]) -> dict[str, list[str]]: ...
    def ids_by_title_key(self, keys: Sequence[str]) -> dict[str, list[str]]: ...


# given arXiv ids not stored: fetch them; returns (ids now stored, error message or None)
Fetcher = Callable[[list[str]], tuple[set[str], str | None]]


@dataclass(slots=True)
class LibraryMatch:
    """What an uploaded library file matched. `matched` holds each paper once, in the
    order of the file (fetched papers included); `how` says by what each was found.
    `entries` counts every entry of the file: matched + duplicates + unmatched + malformed."""

    format: str
    entries: int = 0
    matched: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    unmatched: list[LibraryEntry] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    how: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0  # entries naming a paper an earlier entry already matched
    fetch_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (for the CLI's --json and the API)."""
        return {
            "format": self.format,
            "entries": self.entries,
            "matched": [{"arxiv_id": i, "by": self.how[i]} for i in self.matched],
            "fetched": list(self.fetched),
            "duplicates": self.duplicates,
            "unmatched": [asdict(e) for e in self.unmatched],
            "malformed": [asdict(m) for m in self.malformed],
            "fetch_error": self.fetch_error,
        }


def _pick(candidates: list[str], entry: LibraryEntry) -> str:
    """Of papers sharing a title key, the one whose id's year fits the entry's year."""
    if entry.year and len(candidates) > 1:
        short = f"{entry.year % 100:02d}"
        for candidate in candidates:
            if candidate[:2] == short or candidate.split("/")[-1][:2] == short:
                return candidate
    return candidates[0]


def _resolve(entries: list[LibraryEntry], lookup: Lookup) -> list[tuple[str, str] | None]:
    """(arxiv id, how) per entry, or None; stored papers only."""
    stored = lookup.live_ids([e.arxiv_id for e in entries if e.arxiv_id])
    found: list[tuple[str, str] | None] = [
        (e.arxiv_id, BY_ID) if e.arxiv_id in stored else None for e in entries
    ]
    open_doi = [e.doi for e, f in zip(entries, found, strict=True) if f is None and e.doi]
    by_doi = lookup.ids_by_doi(open_doi) if open_doi else {}
    for n, entry in enumerate(entries):
        if found[n] is None and entry.doi in by_doi:
            found[n] = (by_doi[entry.doi][0], BY_DOI)
    keys = [title_key(e.title) if e.title else "" for e in entries]
    open_titles = [k for k, f in zip(keys, found, strict=True) if f is None and k]
    by_title = lookup.ids_by_title_key(open_titles) if open_titles else {}
    for n, entry in enumerate(entries):
        if found[n] is None and keys[n] in by_title:
            found[n] = (_pick(by_title[keys[n]], entry), BY_TITLE)
    return found


def match_library(
    parsed: ParsedLibrary, lookup: Lookup, fetch: Fetcher | None = None
) -> LibraryMatch:
    entries = parsed.entries
    malformed = list(parsed.malformed)  # counted too: they are entries of the file
    result = LibraryMatch(parsed.format, len(entries) + len(malformed), malformed=malformed)
    found = _resolve(entries, lookup)
    missing = [e.arxiv_id for e, f in zip(entries, found, strict=True) if f is None and e.arxiv_id]
    if fetch is not None and missing:
        fetched, result.fetch_error = fetch(list(dict.fromkeys(missing)))
        for n, entry in enumerate(entries):
            if found[n] is None and entry.arxiv_id in fetched:
                found[n] = (entry.arxiv_id, FETCHED)
    for entry, hit in zip(entries, found, strict=True):
        if hit is None:
            result.unmatched.append(entry)
        elif hit[0] in result.how:
            result.duplicates += 1
        else:
            result.matched.append(hit[0])
            result.how[hit[0]] = hit[1]
            if hit[1] == FETCHED:
                result.fetched.append(hit[0])
    return result
