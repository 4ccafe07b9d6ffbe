"""Snapshot files: the Kaggle ``arxiv-metadata-oai-snapshot.json`` format and the daily
listing JSONL (``arxiv_daily_cs_*.jsonl``). Plain, ``.gz`` or ``.xz``; streamed line by line."""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from paperwire.models import (
    Author,
    Flaw,
    InvalidRecord,
    Paper,
    Rejected,
    clean_categories,
    collapse_whitespace,
    read_categories,
    split_arxiv_id,
)
from paperwire.sources.categories import problem_of

SOURCE = "snapshot"
_VERSION = re.compile(r"v[0-9]{1,6}")


class ReadPosition:
    """How far a file has been read: bytes of the file on disk (compressed, if it is),
    records (non-blank lines, also those skipped on resume), and whether and where it
    turned out damaged or cut off."""

    def __init__(self) -> None:
        self.bytes = 0
        self.records = 0
        self.last_unterminated = False  # the line being handed out has no newline after it
        self.damage: str | None = None  # why reading stopped early, if it did
        self.cut_line: int | None = None  # the line number that was cut off, if any


# What gzip, zlib and lzma raise for a stream that is cut off or corrupt.
STREAM_ERRORS = (EOFError, lzma.LZMAError, gzip.BadGzipFile, zlib.error)


class _Damaged:
    """Handed from the reading thread to the consumer: the stream broke here."""

    def __init__(self, error: BaseException, at_byte: int, size: int) -> None:
        kind = "cut off" if isinstance(error, EOFError) else "damaged"
        self.reason = f"{kind} after {at_byte:,} of {size:,} bytes ({error})"


def open_binary(raw: BinaryIO) -> BinaryIO:
    """Wrap an open file in a gzip or xz reader when its magic bytes say so."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))
    return raw


def _read_chunk(handle: BinaryIO, size: int) -> tuple[bytes, BaseException | None]:
    """About `size` bytes (fewer at the end), and the error that broke the stream, if one
    did. Built from read1() calls: read() of a gzip/xz file discards everything it had
    decompressed for the call when the stream breaks (up to `size` bytes of records);
    measured the same speed on the 133 MB daily file."""
    read1 = cast(io.BufferedIOBase, handle).read1  # gzip, xz and plain files all have it
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            part = read1(size - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
    except STREAM_ERRORS as exc:
        return b"".join(parts), exc
    return b"".join(parts), None


def read_lines(
    path: Path, position: ReadPosition | None = None, chunk_size: int = 1 << 20
) -> Iterator[bytes]:
    """Lines of a plain, gzip or xz file. Decompression runs in a thread (gzip and lzma
    release the GIL), so on two cores it overlaps with parsing. `position` follows the
    bytes read from disk, for progress on compressed files.

    A compressed stream that is cut off or corrupt ends the lines early: the complete
    lines before the break are yielded, the broken one is not, and `position.damage`
    says what happened (`position.cut_line` is the line that was cut)."""
    chunks: queue.Queue[bytes | _Damaged | BaseException | None] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def produce() -> None:
        try:
            with path.open("rb") as raw, open_binary(raw) as handle:
                while not stop.is_set():
                    chunk, error = _read_chunk(handle, chunk_size)
                    if chunk:
                        chunks.put(chunk)
                    if position is not None:
                        position.bytes = raw.tell()
                    if error is not None:
                        chunks.put(_Damaged(error, raw.tell(), path.stat().st_size))
                        return
                    if not chunk:
                        break
            chunks.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            chunks.put(exc)

    worker = threading.Thread(target=produce, name=f"read {path.name}", daemon=True)
    worker.start()
    pending = b""
    count = 0
    try:
        while True:
            item = chunks.get()
            if isinstance(item, _Damaged):
                _note_damage(position, item.reason, count + 1 if pending else None)
                return
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            lines = (pending + item).split(b"\n")
            pending = lines.pop()
            count += len(lines)
            yield from lines
        if pending:
            if position is not None:
                position.last_unterminated = True
            yield pending
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)


def _note_damage(position: ReadPosition | None, reason: str, cut_line: int | None) -> None:
    if position is None:
        raise InvalidRecord(f"the file is {reason}")
    position.damage = reason
    position.cut_line = cut_line


def _text(record: dict[str, Any], key: str) -> str:
    """A string field ("" when absent or null); another type is a bad record."""
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"{key} is a JSON {type(value).__name__}, expected a string")
    return value


def _texts(record: dict[str, Any], key: str) -> list[str]:
    """A list-of-strings field (a string counts as a one-item list)."""
    value = record.get(key)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidRecord(f"{key} is not a string or a list of strings")
    return items


def _rfc2822_date(text: object) -> date | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, OverflowError):
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
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                continue
            last, first, suffix = ([p.strip() for p in parts] + ["", "", ""])[:3]
            name = " ".join(p for p in (first, last, suffix) if p)
            if name:
                out.append(Author(name))
        if out:
            return out
    raw = record.get("authors") or ""
    names = (
        raw.replace(" and ", ", ").split(",") if isinstance(raw, str) else _texts(record, "authors")
    )
    return [Author(collapse_whitespace(n)) for n in names if collapse_whitespace(n)]


def _kaggle_versions(record: dict[str, Any]) -> tuple[int | None, date | None, date | None]:
    """(latest version, first and latest version's dates) from the `versions` list."""
    versions = record.get("versions") or []
    if not isinstance(versions, list) or not all(isinstance(v, dict) for v in versions):
        raise InvalidRecord("versions is not a list of objects")
    if not versions:
        return None, None, None
    numbers = []
    for item in versions:
        label = item.get("version", "v0")
        if not isinstance(label, str) or not _VERSION.fullmatch(label):
            raise InvalidRecord(f"bad version {label!r}")
        numbers.append(int(label[1:]))
    created = [v.get("created") for v in (versions[0], versions[-1])]
    return max(numbers), _rfc2822_date(created[0]), _rfc2822_date(created[1])


def _categories(record: dict[str, Any], read: list[str] | None) -> list[str]:
    return clean_categories(_texts(record, "categories")) if read is None else read


def parse_kaggle(record: dict[str, Any], categories: list[str] | None = None) -> Paper:
    """One Kaggle-snapshot object -> Paper (pure); `categories`: its classes, when the
    caller has read them (read_categories)."""
    arxiv_id, _ = split_arxiv_id(_text(record, "id"))
    version, submitted, updated = _kaggle_versions(record)
    if updated is None:
        updated = _iso_date(_text(record, "update_date"))
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=collapse_whitespace(_text(record, "title")),
        abstract=collapse_whitespace(_text(record, "abstract")),
        authors=_kaggle_authors(record),
        categories=_categories(record, categories),
        submitted=submitted,
        updated=updated,
        comments=collapse_whitespace(_text(record, "comments")) or None,
        journal_ref=collapse_whitespace(_text(record, "journal-ref")) or None,
        doi=_text(record, "doi") or None,
        license=_text(record, "license") or None,
        sources=[SOURCE],
    )
    paper.validate()
    return paper


def _clean_name(raw: str) -> str:
    text = raw.strip()
    return collapse_whitespace(text) if ("  " in text or "\n" in text) else text


def parse_daily_listing(record: dict[str, Any], categories: list[str] | None = None) -> Paper:
    """One object of the daily-listing JSONL (id, title, authors[], categories[], comment,
    summary, pdf, abs, listing_date) -> Paper (pure)."""
    arxiv_id, version = split_arxiv_id(_text(record, "id"))
    if not isinstance(record.get("authors") or [], list):
        raise InvalidRecord(f"{arxiv_id}: authors is not a list")
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=collapse_whitespace(_text(record, "title")),
        abstract=collapse_whitespace(_text(record, "summary")),
        authors=[Author(name) for name in map(_clean_name, _texts(record, "authors")) if name],
        categories=_categories(record, categories),
        listing_date=_iso_date(_text(record, "listing_date")),
        comments=collapse_whitespace(_text(record, "comment")) or None,
        sources=["listing"],
    )
    paper.validate()
    return paper


def _json_record(line: bytes | str) -> dict[str, Any]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise InvalidRecord("not a JSON object")
    return record


def _parse_record(record: dict[str, Any], categories: list[str] | None = None) -> Paper:
    if "summary" in record or "listing_date" in record:
        return parse_daily_listing(record, categories)
    return parse_kaggle(record, categories)


def parse_snapshot_line(line: bytes | str) -> Paper:
    """Detect the format of one JSON line and parse it."""
    return _parse_record(_json_record(line))


def read_snapshot(
    path: Path, skip: int = 0, position: ReadPosition | None = None
) -> Iterator[tuple[int, Paper | Rejected | Flaw]]:
    """Yield (line number, Paper or Rejected) for each non-blank line after `skip` lines,
    and after a Paper whose categories could not all be read, (line number, its Flaw).

    With a `position`, a file that ends early is reported there rather than raised: a
    broken compressed stream (see read_lines), or a last line with no newline after it
    that is not valid JSON (a plain file cut off mid-record)."""
    for number, line in enumerate(read_lines(path, position), start=1):
        if not line.strip():
            continue
        if position is not None:
            position.records += 1
        if number <= skip:
            continue
        try:
            record = _json_record(line)
            written = _texts(record, "categories")
            kept, unreadable = read_categories(written)
            paper = _parse_record(record, kept)
        except InvalidRecord as exc:
            if position is not None and position.last_unterminated and line.lstrip()[:1] == b"{":
                position.records -= 1
                _note_damage(position, f"cut off in line {number:,} ({exc})", number)
                return
            raw = line.decode("utf-8", errors="replace")
            yield number, Rejected(SOURCE, f"{path.name}:{number}", str(exc), raw)
            continue
        yield number, paper
        problem = problem_of(written, kept, unreadable)
        if problem is not None:
            yield number, Flaw(SOURCE, f"{path.name}:{number} ({paper.arxiv_id})", problem)


def mtime_key(path: Path) -> str:
    """Checkpoint key for a snapshot file: name, size and modification time."""
    stat = path.stat()
    stamp = datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds")
    return f"snapshot:{path.resolve()}:{stat.st_size}:{stamp}"
