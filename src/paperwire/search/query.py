"""The search query language, parsed into a typed ParsedQuery (pure, no index access).

Syntax (whitespace separates items; everything is case-insensitive except phrase text)::

    diffusion transformer          free words: ranked by BM25, a paper needs at least one
    "exact phrase"                 the words in this order, in title or abstract
    ti:word  ti:"a phrase"         only in the title       (also title:)
    abs:word abs:"a phrase"        only in the abstract    (also abstract:)
    au:smi  au:"yann lecun"        author: one bare word is a prefix of any name word
                                   (au:smi -> Smith, Smirnov); a quoted name must match
                                   its words in order (also author:)
    cat:cs.CL cat:cs.CL,cs.CV      category; several cat: items are OR'd (any of them);
                                   a bare archive (cat:cs, cat:math) matches all its classes
                                   (also category:)
    since:2025-06-01 since:2025-06 since:2025   on or after (listing date)
    since:7d since:2w since:3m since:1y         relative to today
    until:2025-12-31 ...                        on or before (same forms)
    -word  -"phrase"  -au:x -cat:x  exclude papers matching the item

Free words are OR'd and ranked (long natural-language queries still work); phrases and
field items are required. Field items AND with each other. A word with a colon whose
prefix is not a known field (``foo:bar``) is an error, unless quoted; ``3:1`` (prefix
not a letter), URLs (``https://…``) and ``arXiv:…``/``doi:…`` identifiers are plain text. Malformed input raises :class:`QueryError` with a message
meant for the person who typed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

MAX_QUERY_CHARS = 20_000  # longer input is refused (10 KB queries are fine)

TEXT_FIELDS = {
    "ti": "title",
    "title": "title",
    "abs": "abstract",
    "abstract": "abstract",
    "au": "authors",
    "author": "authors",
    "authors": "authors",
}
CATEGORY_FIELDS = {"cat", "category"}
DATE_FIELDS = {"since", "until"}
KNOWN_FIELDS = sorted({*TEXT_FIELDS, *CATEGORY_FIELDS, *DATE_FIELDS})
LITERAL_PREFIXES = {"http", "https", "ftp", "arxiv", "doi", "mailto"}

_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_RELATIVE = re.compile(r"^(\d{1,5})([dwmy])$")
_CATEGORY = re.compile(r"^[a-z-]+(\.[a-z-]+)?$")


class QueryError(ValueError):
    """The query cannot be understood; str(error) tells the user what to fix."""


@dataclass(frozen=True, slots=True)
class Clause:
    """One required or excluded item.

    field: "any" (title or abstract), "title", "abstract" or "authors".
    text: the words as typed (tokenised later by the index's own analyzer).
    phrase: the words must be adjacent and in order (quoted, or several words).
    """

    field: str
    text: str
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    free_words: tuple[str, ...] = ()
    required: tuple[Clause, ...] = ()
    excluded: tuple[Clause, ...] = ()
    categories: tuple[str, ...] = ()  # lowercased, OR'd
    excluded_categories: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    raw: str = field(default="", compare=False)

    @property
    def has_text(self) -> bool:
        """True when the query ranks by text (free words or required text items)."""
        return bool(self.free_words or self.required)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.required
            or self.excluded
            or self.categories
            or self.excluded_categories
            or self.since
            or self.until
        )

    @property
    def is_empty(self) -> bool:
        return not self.has_text and not self.has_filters

    @property
    def semantic_text(self) -> str:
        """What a sentence-embedding model should read: free words and required title /
        abstract text, in the order typed (field syntax and exclusions removed)."""
        parts = list(self.free_words)
        parts += [c.text for c in self.required if c.field in ("any", "title", "abstract")]
        return " ".join(parts)


def _is_literal(name: str, following: str) -> bool:
    """URLs and identifiers (https://…, arXiv:2401.00001, doi:10.…) are text, not fields."""
    return following == "//" or name.lower() in LITERAL_PREFIXES


def _split_items(text: str) -> list[tuple[bool, str | None, str, bool]]:
    """Split into (negated, field or None, value, quoted) items; raise on a lone quote."""
    items: list[tuple[bool, str | None, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        name: str | None = None
        match = _FIELD_PREFIX.match(text, i)
        if match and not _is_literal(match.group(1), text[match.end() : match.end() + 2]):
            dangling = match.end() >= n or text[match.end()].isspace()
            if not dangling:
                name = match.group(1).lower()
                i = match.end()
            elif match.group(1).lower() in KNOWN_FIELDS:
                raise QueryError(f"{match.group(0)} needs a value right after the colon")
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError(
                    f'unbalanced quote at character {i + 1}: close the phrase with another "'
                )
            items.append((negated, name, text[i + 1 : end], True))
            i = end + 1
            continue
        end = i
        while end < n and not text[end].isspace() and text[end] != '"':
            end += 1
        items.append((negated, name, text[i:end], False))
        i = end
    return items


def parse_date_bound(value: str, *, today: date, upper: bool) -> date:
    """``2025-06-01``, ``2025-06``, ``2025`` or ``7d``/``2w``/``3m``/``1y`` (before today).

    For partial dates the lower bound is the first day, the upper bound the last day."""
    rel = _RELATIVE.match(value.lower())
    if rel:
        amount, unit = int(rel.group(1)), rel.group(2)
        days = amount * {"d": 1, "w": 7, "m": 30, "y": 365}[unit]
        if days > 365 * 300:
            raise QueryError(f"{value!r} reaches too far back")
        return today - timedelta(days=days)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
        if re.fullmatch(r"\d{4}-\d{2}", value):
            year, month = int(value[:4]), int(value[5:])
            first = date(year, month, 1)
            if not upper:
                return first
            following = date(year + month // 12, month % 12 + 1, 1)
            return following - timedelta(days=1)
        if re.fullmatch(r"\d{4}", value):
            return date(int(value), 12, 31) if upper else date(int(value), 1, 1)
    except ValueError as exc:
        raise QueryError(f"{value!r} is not a real date ({exc})") from exc
    raise QueryError(
        f"cannot read date {value!r}: use YYYY-MM-DD, YYYY-MM, YYYY, or a number with "
        "d/w/m/y such as 7d, 2w, 3m, 1y"
    )


def _categories(value: str) -> list[str]:
    out = []
    for part in value.split(","):
        cat = part.strip().lower()
        if not cat:
            continue
        if not _CATEGORY.match(cat):
            raise QueryError(f"{part!r} is not an arXiv category (like cs.CL, math.GT, hep-th)")
        out.append(cat)
    if not out:
        raise QueryError("cat: needs a category, like cat:cs.CL")
    return out


def parse_query(text: str, *, today: date) -> ParsedQuery:
    """Parse `text` (see the module docstring). `today` anchors since:7d and friends."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query is too long ({len(text):,} characters; at most {MAX_QUERY_CHARS:,})"
        )
    free: list[str] = []
    required: list[Clause] = []
    excluded: list[Clause] = []
    cats: list[str] = []
    not_cats: list[str] = []
    bounds: dict[str, date] = {}
    for negated, name, value, quoted in _split_items(text):
        if name is None:
            if not value.strip():
                continue
            if quoted or negated:
                target = excluded if negated else required
                target.append(Clause("any", value, phrase=True))
            else:
                free.append(value)
        elif name in TEXT_FIELDS:
            if not value.strip():
                raise QueryError(f"{name}: needs a word or a quoted phrase after it")
            clause = Clause(TEXT_FIELDS[name], value, phrase=quoted)
            (excluded if negated else required).append(clause)
        elif name in CATEGORY_FIELDS:
            (not_cats if negated else cats).extend(_categories(value))
        elif name in DATE_FIELDS:
            if negated:
                raise QueryError(
                    f"-{name}: cannot be negated; use {'until' if name == 'since' else 'since'}: instead"
                )
            if name in bounds:
                raise QueryError(f"{name}: is given twice")
            bounds[name] = parse_date_bound(value, today=today, upper=name == "until")
        else:
            raise QueryError(
                f"unknown field {name + ':'!r}; known fields: "
                + ", ".join(f + ":" for f in KNOWN_FIELDS)
                + f'. To search for the text itself, put it in quotes: "{name}:{value}"'
            )
    since, until = bounds.get("since"), bounds.get("until")
    if since and until and since > until:
        raise QueryError(f"since: {since} is after until: {until}; nothing can match")
    return ParsedQuery(
        free_words=tuple(free),
        required=tuple(required),
        excluded=tuple(excluded),
        categories=tuple(dict.fromkeys(cats)),
        excluded_categories=tuple(dict.fromkeys(not_cats)),
        since=since,
        until=until,
        raw=text,
    )
