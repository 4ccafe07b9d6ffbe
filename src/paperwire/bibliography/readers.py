"""Reading a reader's library file: BibTeX, CSL-JSON (Zotero), RIS, or a plain list of
arXiv ids/URLs/DOIs. Pure: bytes in, ParsedLibrary out. One bad entry is reported as
Malformed and never stops the rest. No XML is read anywhere here."""

from __future__ import annotations

import codecs
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import Any

from bibtexparser.entrypoint import parse_string
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

from paperwire.bibliography.csl_markup import csl_plain
from paperwire.bibliography.entries import (
    LibraryEntry,
    LibraryFileError,
    Malformed,
    ParsedLibrary,
    arxiv_id,
    arxiv_id_from_doi,
    arxiv_id_in_text,
    arxiv_id_problem,
    normalise_doi,
    year_of,
)
from paperwire.bibliography.latex import latex_to_plain
from paperwire.bibliography.names import person_name

FORMATS = ("bibtex", "csljson", "ris", "idlist")
_EXTENSIONS = {
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".json": "csljson",
    ".csljson": "csljson",
    ".ris": "ris",
    ".txt": "idlist",
}
_BIBTEX_START = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_NO_ID = "no title, arXiv id or DOI"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# CSL-JSON is an object or a list (of objects, or nested: refused later as too deep);
# "[1] Vaswani et al., arXiv:1706.03762", a numbered reference list, is no JSON
_JSON_START = re.compile(r"\s*(?:\{|\[\s*(?:[{\[\]]|$))")
_ENTRY_LINE = re.compile(r"^\s*@", re.MULTILINE)
# bibtexparser logs each broken block; we report them as Malformed instead
logging.getLogger("bibtexparser").addHandler(logging.NullHandler())


def decode(data: bytes, max_bytes: int) -> str:
    """The file as text (UTF-8, or UTF-16/UTF-32 after their byte-order mark, as Windows
    writes them; else cp1252); LibraryFileError if it is too big or binary."""
    if len(data) > max_bytes:
        raise LibraryFileError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    for bom, encoding in _BOMS:  # UTF-32 first: its little-endian BOM starts like UTF-16's
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise LibraryFileError(
                    f"the file starts as {encoding.upper()} but is not: {exc.reason} "
                    f"at byte {exc.start + len(bom):,}"
                ) from exc
    if b"\x00" in data:
        raise LibraryFileError("this is not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_format(text: str, filename: str = "") -> str:
    """bibtex | csljson | ris | idlist, from the content first, then the file name."""
    return _sniff(text, filename)[0]


def _sniff(text: str, filename: str) -> tuple[str, bool]:
    """The format, and whether the content (not the name) chose it: a JSON start, an
    @entry{, a TY tag, or a line holding an arXiv id, arXiv URL or DOI (an id list named
    .bib or .json was read as that and gave nothing)."""
    if _JSON_START.match(text):
        return "csljson", True
    if _BIBTEX_START.search(text[:200_000]):
        return "bibtex", True
    if re.search(r"^TY  - ", text[:200_000], re.MULTILINE):
        return "ris", True
    if _holds_ids(text):
        return "idlist", True
    return _EXTENSIONS.get(PurePath(filename).suffix.lower(), "idlist"), False


def _holds_ids(text: str, lines: int = 2000) -> bool:
    """Whether a line among the first `lines` that are not blank or comments holds an
    arXiv id, arXiv URL or DOI, as the id-list reader reads one."""
    read = (line.strip() for line in text[:200_000].splitlines())
    wanted = (line for line in read if line and not line.startswith(("#", "%", "//")))
    return any(_from_line(line, "") for line in itertools.islice(wanted, lines))


_FORMAT_NAMES = {"bibtex": "BibTeX", "csljson": "CSL-JSON", "ris": "RIS", "idlist": "an id list"}


def parse_library(data: bytes, filename: str = "", max_bytes: int = 5_000_000) -> ParsedLibrary:
    """Parse an uploaded library file of any supported format (sniffed). LibraryFileError
    when only the file name chose the format and the file holds nothing of it."""
    text = decode(data, max_bytes)
    fmt, by_content = _sniff(text, filename)
    try:
        parsed = READERS[fmt](text)
    except LibraryFileError as exc:
        if by_content or not text.strip():
            raise
        raise LibraryFileError(f"{_named_but_not(fmt, filename)} ({exc})") from exc
    if not by_content and text.strip() and not (parsed.entries or parsed.malformed):
        raise LibraryFileError(_named_but_not(fmt, filename))
    return parsed


def _named_but_not(fmt: str, filename: str) -> str:
    name = _FORMAT_NAMES[fmt]
    return (
        f"no entries found in {PurePath(filename).name}: read as {name} for its name, but "
        f"nothing in it is {name}, nor an arXiv id or DOI; choose a BibTeX, CSL-JSON or "
        "RIS file, or a list of arXiv ids or DOIs, one per line"
    )


def _entry_or_malformed(
    parsed: ParsedLibrary, key: str, entry: LibraryEntry | None, reason: str = _NO_ID
) -> None:
    if entry is None or not (entry.arxiv_id or entry.doi or entry.title):
        parsed.malformed.append(Malformed(key, reason))
    else:
        parsed.entries.append(entry)


def _make_entry(
    key: str,
    ids: Iterable[str | None],
    doi: str | None,
    title: str | None,
    authors: Iterable[str],
    year: int | None,
    texts: Iterable[str | None] = (),
) -> LibraryEntry:
    """An entry from its fields: the first arXiv id found among `ids` (ids or URLs), the
    DOI (an arXiv DOI also gives the id), then arXiv ids mentioned in `texts`."""
    doi = normalise_doi(doi)
    found = next((i for i in map(arxiv_id, ids) if i), None) or arxiv_id_from_doi(doi)
    found = found or next((i for i in map(arxiv_id_in_text, texts) if i), None)
    clean_title = " ".join(latex_to_plain(title).split()) if title else None
    return LibraryEntry(
        key=key,
        arxiv_id=found,
        doi=doi,
        title=clean_title or None,
        authors=tuple(a for a in (" ".join(latex_to_plain(n).split()) for n in authors) if a),
        year=year,
    )


# -- BibTeX ----------------------------------------------------------------------------


def _bibtex_value(value: Any) -> str:
    """A field value without its delimiters (values of duplicate-key blocks keep them)."""
    text = str(value).strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        depth = 0
        for pos, ch in enumerate(text):
            depth += (ch == "{") - (ch == "}")
            if depth == 0:
                return text[1:-1] if pos == len(text) - 1 else text
    return text


def _split_names(text: str) -> list[str]:
    """BibTeX author lists split on ' and ' outside braces ('{Mallory and Co}' is one)."""
    names, depth, start = [], 0, 0
    for match in re.finditer(r"[{}]|\s+and\s+", text):
        token = match.group(0)
        if token in "{}":
            depth += 1 if token == "{" else -1
        elif depth == 0:
            names.append(text[start : match.start()])
            start = match.end()
    names.append(text[start:])
    return [n.strip() for n in names if n.strip()]


def _first_last(name: str) -> str:
    """'Vaswani, Ashish' -> 'Ashish Vaswani', 'King, Jr., Martin Luther' -> 'Martin Luther
    King Jr.' (names.person_name, on the LaTeX rendered: the split takes the ``~`` of
    ``Nguy\\~{e}n`` for a space); a braced name stays as it is."""
    if name.startswith("{") and name.endswith("}"):
        return name
    return person_name(latex_to_plain(name)).written


def _from_bibtex_entry(entry: Entry) -> LibraryEntry:
    fields = {f.key.lower(): _bibtex_value(f.value) for f in entry.fields}
    eprint = fields.get("eprint")
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower()
    ids = [eprint if prefix == "arxiv" else None, fields.get("arxivid"), fields.get("arxiv")]
    ids.append(fields.get("url"))
    authors = [_first_last(n) for n in _split_names(fields.get("author", ""))]
    return _make_entry(
        f"{entry.key} (line {(entry.start_line or 0) + 1})",
        ids,
        fields.get("doi"),
        fields.get("title"),
        authors,
        year_of(fields.get("year") or fields.get("date")),
        (fields.get(f) for f in ("journal", "note", "howpublished", "pages", "number")),
    )


def _failed_key(block: ParsingFailedBlock) -> str:
    head = re.match(r"\s*@\s*\w+\s*[{(]\s*([^,\s]*)", block.raw or "")
    name = head.group(1) if head and head.group(1) else "(no key)"
    return f"{name} (line {(block.start_line or 0) + 1})"


def _bibtex_blocks(text: str) -> tuple[list[Entry], list[ParsingFailedBlock]]:
    """Entries and failed blocks. Should the parser give up on the whole text (it raises
    on states it calls its own bugs), each @-block is parsed alone, so the rest survive."""
    try:
        library = parse_string(text)
        return list(library.entries), list(library.failed_blocks)
    except Exception:
        starts = [m.start() for m in _ENTRY_LINE.finditer(text)] + [len(text)]
        entries: list[Entry] = []
        failed: list[ParsingFailedBlock] = []
        for begin, end in itertools.pairwise(starts):
            line = text.count("\n", 0, begin)
            try:
                part = parse_string("\n" * line + text[begin:end])
            except Exception as exc:
                failed.append(ParsingFailedBlock(exc, line, text[begin:end]))
                continue
            entries.extend(part.entries)
            failed.extend(part.failed_blocks)
        return entries, failed


def _failure_reason(block: ParsingFailedBlock) -> str:
    error = block.error
    reason = getattr(error, "abort_reason", None) or str(error or "") or type(error).__name__
    return " ".join(str(reason).split())[:300] or "cannot parse this entry"


def read_bibtex(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("bibtex")
    entries, failed = _bibtex_blocks(text)
    found: list[tuple[int, str, LibraryEntry | None, str]] = []
    for entry in entries:
        item = _from_bibtex_entry(entry)
        found.append((entry.start_line or 0, item.key, item, _NO_ID))
    for block in failed:
        line = block.start_line or 0
        if isinstance(block, DuplicateBlockKeyBlock) and isinstance(
            block.ignore_error_block, Entry
        ):  # a repeated key is still a reference: keep it
            item = _from_bibtex_entry(block.ignore_error_block)
            found.append((line, item.key, item, _NO_ID))
        else:
            found.append((line, _failed_key(block), None, _failure_reason(block)))
    for _line, key, result, reason in sorted(found, key=lambda f: f[0]):
        _entry_or_malformed(parsed, key, result, reason)
    return parsed


# -- CSL-JSON (Zotero "Better CSL JSON" / CSL JSON export) -----------------------------


def _csl_text(value: Any) -> str | None:
    """A CSL field that must be text: a string, else absent (a number, list or object in
    its place says nothing certain: 2606.1 may have been 2606.10000)."""
    return value if isinstance(value, str) else None


def _csl_texts(value: Any) -> list[str]:
    """The strings of a field that may hold one or a list of them (URL, arxiv)."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


_CSL_NAME_PARTS = ("given", "dropping-particle", "non-dropping-particle", "family", "suffix")


def _csl_name(person: Any) -> str:
    """A CSL name in reading order: its parts ("given" … "suffix"), a "literal" as it is,
    and a plain string (not CSL, but written) or a lone "family" holding the whole name
    ('Smith, John') split as names are (names.person_name)."""
    if isinstance(person, str):
        return person_name(person).written
    if not isinstance(person, dict):
        return ""
    if _csl_text(person.get("literal")):
        return str(person["literal"])
    parts = {k: person[k] for k in _CSL_NAME_PARTS if _csl_text(person.get(k))}
    if set(parts) == {"family"}:
        return person_name(parts["family"]).written
    return " ".join(parts.values())


def _csl_authors(value: Any) -> list[str]:
    """Names of a CSL author list; a lone string or object is read as one name."""
    people = value if isinstance(value, list) else [value]
    return [_csl_name(p) for p in people if p]


def _csl_year(issued: Any) -> int | None:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return _csl_year(parts[0][0])
        return _csl_year(issued.get("raw") or issued.get("literal"))
    return year_of(issued) if isinstance(issued, str | int) else None


def _csl_key(item: dict[str, Any]) -> str:
    found = item.get("id")
    return str(found)[:200] if isinstance(found, str | int) else ""


def _from_csl_item(item: dict[str, Any], number: int) -> LibraryEntry:
    text_fields = ("number", "note", "container-title", "archive_location", "source", "extra")
    title = _csl_text(item.get("title"))
    return _make_entry(
        f"{_csl_key(item) or '(no id)'} (item {number})",
        [*_csl_texts(item.get("arxiv")), *_csl_texts(item.get("URL")), _csl_key(item)],
        _csl_text(item.get("DOI")),
        csl_plain(title) if title else None,
        _csl_authors(item.get("author")),
        _csl_year(item.get("issued")),
        (t for f in text_fields for t in _csl_texts(item.get(f))),
    )


def _json_int(digits: str) -> int | float:
    """JSON integers as Python ints, but one too long for int() (over 4,300 digits) as
    infinity: a number no text field takes, instead of a ValueError for the whole file."""
    return int(digits) if len(digits) <= 4000 else float(digits)


def read_csljson(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("csljson")
    try:
        data = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise LibraryFileError(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:  # "[[[[…" thousands deep
        raise LibraryFileError("not valid CSL-JSON: lists or objects nested too deeply") from exc
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list):
        raise LibraryFileError("CSL-JSON must be a list of items")
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            parsed.malformed.append(Malformed(f"item {number}", "not a JSON object"))
            continue
        entry = _from_csl_item(item, number)
        _entry_or_malformed(parsed, entry.key, entry)
    return parsed


# -- RIS -------------------------------------------------------------------------------


def _ris_records(text: str) -> Iterable[tuple[int, list[tuple[str, str]], str]]:
    """(line, tags, problem) per record; a record starts at TY and ends at ER or at the
    next TY (then the problem says so); stray lines between records are skipped."""
    tags: list[tuple[str, str]] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        match = _RIS_TAG.match(line.rstrip())
        if match is None:
            if tags and line.strip():  # a continuation of the previous value
                tags[-1] = (tags[-1][0], f"{tags[-1][1]} {line.strip()}")
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if tags:
                yield start, tags, "record has no ER line"
            tags, start = [("TY", value)], number
        elif tag == "ER":
            if tags:
                yield start, tags, ""
            tags = []
        elif tags:
            tags.append((tag, value))
    if tags:
        yield start, tags, "record has no ER line"


def _ris_name(text: str) -> str:
    """RIS writes 'Last, First, Suffix' ('King, Martin Luther, Jr.'); BibTeX's order
    of the three is 'Last, Suffix, First'."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 3:
        text = f"{parts[0]}, {parts[2]}, {parts[1]}"
    return person_name(text).written


def _from_ris(tags: list[tuple[str, str]], key: str) -> LibraryEntry:
    def first(*names: str) -> str | None:
        return next((v for t, v in tags if t in names and v), None)

    def every(*names: str) -> list[str]:
        return [v for t, v in tags if t in names and v]

    names = [_ris_name(a) for a in every("AU", "A1")]
    return _make_entry(
        key,
        every("UR", "L1", "L2", "LK"),
        first("DO", "DI"),
        first("TI", "T1", "CT", "BT"),
        names,
        year_of(first("PY", "Y1", "DA")),
        every("N1", "JO", "JF", "T2", "M1", "VL", "SN", "AN", "ID"),
    )


def read_ris(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("ris")
    for line, tags, problem in _ris_records(text):
        key = f"record at line {line}"
        entry = _from_ris(tags, key)
        if problem and not (entry.title or entry.arxiv_id or entry.doi):
            parsed.malformed.append(Malformed(key, problem))
        else:
            _entry_or_malformed(parsed, key, entry)
    return parsed


# -- a plain list of ids, URLs and DOIs -------------------------------------------------


def _tokens(line: str) -> list[str]:
    return [token.strip("<>()[]\"'") for token in re.split(r"[\s,;]+", line)]


def _from_line(line: str, key: str) -> LibraryEntry | None:
    for token in _tokens(line):
        found = arxiv_id(token)
        if found:
            return LibraryEntry(key, arxiv_id=found)
        doi = normalise_doi(token) if "10." in token else None
        if doi:
            return LibraryEntry(key, arxiv_id=arxiv_id_from_doi(doi), doi=doi)
    return None


def read_idlist(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("idlist")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "%", "//")):
            continue
        key = f"line {number}"
        problem = next(filter(None, map(arxiv_id_problem, _tokens(line))), None)
        reason = problem or f"not an arXiv id, arXiv URL or DOI: {line[:80]!r}"
        _entry_or_malformed(parsed, key, _from_line(line, key), reason)
    return parsed


READERS: dict[str, Callable[[str], ParsedLibrary]] = {
    "bibtex": read_bibtex,
    "csljson": read_csljson,
    "ris": read_ris,
    "idlist": read_idlist,
}
