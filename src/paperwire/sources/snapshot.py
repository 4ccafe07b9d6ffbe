"""Snapshot files: the Kaggle ``arxiv-metadata-oai-snapshot.json`` format and the daily
listing JSONL (``arxiv_daily_cs_*.jsonl``). Plain, ``.gz`` or ``.xz``; streamed line by line."""

from __future__ import annotations

import gzip
import io
import json
import lzma
from collections.abc import Iterator
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from paperwire.models import (
    Author,
    InvalidRecord,
    Paper,
    Rejected,
    clean_categories,
    collapse_whitespace,
    split_arxiv_id,
)

SOURCE = "snapshot"


def open_text(path: Path) -> IO[str]:
    """Open a plain, gzip or xz file for reading text, by its magic bytes."""
    with path.open("rb") as probe:
        head = probe.read(6)
    if head.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rt", encoding="utf-8")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rt", encoding="utf-8")
    return io.open(path, encoding="utf-8")  # noqa: UP020 - explicit text mode


def _rfc2822_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError):
        return None


def _iso_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise InvalidRecord(f"bad date {text!r}") from exc


def _kaggle_authors(record: dict[str, Any]) -> list[Author]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        out = []
        for parts in parsed:
            if not isinstance(parts, list) or not parts:
                continue
            last = parts[0].strip()
            first = parts[1].strip() if len(parts) > 1 else ""
            suffix = parts[2].strip() if len(parts) > 2 else ""
            name = " ".join(p for p in (first, last, suffix) if p)
            if name:
                out.append(Author(name))
        if out:
            return out
    raw = record.get("authors") or ""
    names = raw.replace(" and ", ", ").split(",") if isinstance(raw, str) else raw
    return [Author(collapse_whitespace(n)) for n in names if collapse_whitespace(n)]


def parse_kaggle(record: dict[str, Any]) -> Paper:
    """One Kaggle-snapshot object -> Paper (pure)."""
    arxiv_id, _ = split_arxiv_id(str(record.get("id", "")))
    versions = record.get("versions") or []
    version = None
    submitted = updated = None
    if versions:
        numbers = [int(str(v.get("version", "v0"))[1:] or 0) for v in versions]
        version = max(numbers)
        submitted = _rfc2822_date(versions[0].get("created"))
        updated = _rfc2822_date(versions[-1].get("created"))
    if updated is None:
        updated = _iso_date(record.get("update_date"))
    categories = clean_categories(record.get("categories") or "")
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=collapse_whitespace(record.get("title")),
        abstract=collapse_whitespace(record.get("abstract")),
        authors=_kaggle_authors(record),
        categories=categories,
        submitted=submitted,
        updated=updated,
        comments=collapse_whitespace(record.get("comments")) or None,
        journal_ref=collapse_whitespace(record.get("journal-ref")) or None,
        doi=(record.get("doi") or None),
        license=(record.get("license") or None),
        sources=[SOURCE],
    )
    paper.validate()
    return paper


def parse_daily_listing(record: dict[str, Any]) -> Paper:
    """One object of the daily-listing JSONL (id, title, authors[], categories[], comment,
    summary, pdf, abs, listing_date) -> Paper (pure)."""
    arxiv_id, version = split_arxiv_id(str(record.get("id", "")))
    authors = record.get("authors") or []
    if not isinstance(authors, list):
        raise InvalidRecord(f"{arxiv_id}: authors is not a list")
    categories = record.get("categories") or []
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=collapse_whitespace(record.get("title")),
        abstract=collapse_whitespace(record.get("summary")),
        authors=[Author(collapse_whitespace(str(a))) for a in authors if str(a).strip()],
        categories=clean_categories(categories),
        listing_date=_iso_date(record.get("listing_date")),
        comments=collapse_whitespace(record.get("comment")) or None,
        sources=["listing"],
    )
    paper.validate()
    return paper


def parse_snapshot_line(line: str) -> Paper:
    """Detect the format of one JSON line and parse it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise InvalidRecord("not a JSON object")
    if "summary" in record or "listing_date" in record:
        return parse_daily_listing(record)
    return parse_kaggle(record)


def read_snapshot(path: Path, skip: int = 0) -> Iterator[tuple[int, Paper | Rejected]]:
    """Yield (line number, Paper or Rejected) for each non-blank line after `skip` lines."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number <= skip or not line.strip():
                continue
            try:
                yield number, parse_snapshot_line(line)
            except InvalidRecord as exc:
                yield number, Rejected(SOURCE, f"{path.name}:{number}", str(exc), line)


def mtime_key(path: Path) -> str:
    """Checkpoint key for a snapshot file: name, size and modification time."""
    stat = path.stat()
    stamp = datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds")
    return f"snapshot:{path.resolve()}:{stat.st_size}:{stamp}"
