"""Snapshot files: the Kaggle ``arxiv-metadata-oai-snapshot.json`` format and the daily
listing JSONL (``arxiv_daily_cs_*.jsonl``). Plain, ``.gz`` or ``.xz``; streamed line by line."""

from __future__ import annotations

import contextlib
import gzip
import lzma
import queue
import threading
from collections.abc import Iterator
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

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


class ReadPosition:
    """How many bytes of the file on disk (compressed, if it is) have been read."""

    def __init__(self) -> None:
        self.bytes = 0


def open_binary(raw: BinaryIO) -> BinaryIO:
    """Wrap an open file in a gzip or xz reader when its magic bytes say so."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))
    return raw


def read_lines(
    path: Path, position: ReadPosition | None = None, chunk_size: int = 1 << 20
) -> Iterator[bytes]:
    """Lines of a plain, gzip or xz file. Decompression runs in a thread (gzip and lzma
    release the GIL), so on two cores it overlaps with parsing. `position` follows the
    bytes read from disk, for progress on compressed files."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def produce() -> None:
        try:
            with path.open("rb") as raw, open_binary(raw) as handle:
                while not stop.is_set():
                    chunk = handle.read(chunk_size)
                    if not chunk:
                        break
                    chunks.put(chunk)
                    if position is not None:
                        position.bytes = raw.tell()
            chunks.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            chunks.put(exc)

    worker = threading.Thread(target=produce, name=f"read {path.name}", daemon=True)
    worker.start()
    pending = b""
    try:
        while True:
            item = chunks.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            lines = (pending + item).split(b"\n")
            pending = lines.pop()
            yield from lines
        if pending:
            yield pending
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)


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


def _clean_name(raw: object) -> str:
    text = str(raw).strip()
    return collapse_whitespace(text) if ("  " in text or "\n" in text) else text


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
        authors=[Author(name) for name in map(_clean_name, authors) if name],
        categories=clean_categories(categories),
        listing_date=_iso_date(record.get("listing_date")),
        comments=collapse_whitespace(record.get("comment")) or None,
        sources=["listing"],
    )
    paper.validate()
    return paper


def parse_snapshot_line(line: bytes | str) -> Paper:
    """Detect the format of one JSON line and parse it."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise InvalidRecord("not a JSON object")
    if "summary" in record or "listing_date" in record:
        return parse_daily_listing(record)
    return parse_kaggle(record)


def read_snapshot(
    path: Path, skip: int = 0, position: ReadPosition | None = None
) -> Iterator[tuple[int, Paper | Rejected]]:
    """Yield (line number, Paper or Rejected) for each non-blank line after `skip` lines."""
    for number, line in enumerate(read_lines(path, position), start=1):
        if number <= skip or not line.strip():
            continue
        try:
            yield number, parse_snapshot_line(line)
        except InvalidRecord as exc:
            raw = line.decode("utf-8", errors="replace")
            yield number, Rejected(SOURCE, f"{path.name}:{number}", str(exc), raw)


def mtime_key(path: Path) -> str:
    """Checkpoint key for a snapshot file: name, size and modification time."""
    stat = path.stat()
    stamp = datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds")
    return f"snapshot:{path.resolve()}:{stat.st_size}:{stamp}"
