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
    2503.11731 cat:cs.CL           an arXiv id (any spelling), alone or with category and
                                   date items: a lookup of that paper (ParsedQuery.arxiv_id)

Free words are OR'd and ranked (long natural-language queries still work); phrases and
field items are required. Field items AND with each other. A word with a colon whose
prefix is not a known field (``foo:bar``) is an error, unless quoted; ``3:1`` (prefix
not a letter), URLs (``https://…``) and ``arXiv:…``/``doi:…`` identifiers are plain text.
LaTeX in the query is read as the characters it stands for (``T\\"ornberg`` is Törnberg),
and the text in NFC without invisible characters (search/index_text.py).

Pasted prose is searched, not refused: a quote without its partner (LaTeX's
````like this"``) is dropped, and in a query of PROSE_WORDS words or more an unknown
``word:`` or a known field followed by a space is text; each such repair adds a note
(ParsedQuery.notes) for the results. A ``-`` before punctuation (`` -- ``, ``-.``) or a
quoted phrase without letters or digits is punctuation, without a note: punctuation is
in no index, so read either way it matches nothing. Misuse of an operator stays an error
(``au:`` with nothing after it, a bad date or category, ``-since:``): QueryError, with a
message meant for the person who typed it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from paperwire.latex import latex_to_text
from paperwire.models import (
    ARXIV_ARCHIVES,
    CURRENT_ARCHIVES,
    InvalidRecord,
    check_id_month,
    read_arxiv_id,
)
from paperwire.search.index_text import normal_text

# Longer input is refused, on every path (the HF-compatible API's own limit; a pasted
# arXiv abstract, at most 1,920 characters, fits).
MAX_QUERY_CHARS = 2_000
PROSE_WORDS = 5  # from this many words on, a query that trips over syntax is prose

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
# Operators written short: with nothing after the colon they are a mistake, while the
# long forms (title:, author:, since: …) followed by a space are prose and searched.
SHORT_FIELDS = {"ti", "abs", "au", "cat"}
KNOWN_FIELDS = sorted({*TEXT_FIELDS, *CATEGORY_FIELDS, *DATE_FIELDS})
LITERAL_PREFIXES = {"http", "https", "ftp", "arxiv", "doi", "mailto"}

_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
# ASCII digits only: \d also matches other scripts' digits (２０２５), which int() reads.
_RELATIVE = re.compile(r"^([0-9]{1,5})([dwmy])$")
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_DANGLING_LATEX = re.compile(r"(?:\\(?:[A-Za-z]{1,2}|[^A-Za-z])?)+$")
# A command whose braced argument the item does not close (\\textbf{x, {\\em x): its
# backslash goes, or written back before "… y}" it would swallow the next items.
_OPEN_COMMAND = re.compile(r"\\([A-Za-z]+(?:\{[^{}]*\})*\{[^{}]*)$|(\{)\\(?=[A-Za-z]+[^{}]*$)")
# Math delimiters mean nothing to a search (the index drops them) but would pair up
# differently when a query is written back in another order: a query has no math.
_MATH_DELIMITER = re.compile(r"\\?\$|\\(?=[()\[\]])")
NOT_MATH = "·"
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
    # A structured filter from outside the query text (the API's `category`), ANDed with
    # `categories`: a paper must be in one of these as well.
    category_filter: tuple[str, ...] = ()
    raw: str = field(default="", compare=False)
    # The paper a query of nothing but an arXiv id names (2503.11731, arXiv:…v2, an abs or
    # pdf URL, its 10.48550 DOI, hep-th/9504118), maybe with category and date filters:
    # search looks it up instead, within the filters (engine).
    arxiv_id: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)  # repairs made to the text

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
            or self.category_filter
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


def has_word(text: str) -> bool:
    """True when `text` has a letter or digit (something the index could hold)."""
    return any(ch.isalnum() for ch in text)


Item = tuple[bool, str | None, str, bool]  # negated, field or None, value, quoted


def _self_contained(value: str) -> str:
    """`value` less a LaTeX command at its end that lost what it applied to (\\u"A ->
    \\u, which written back before " A" by format_query would read as Ă) and the
    backslash of a command whose braced argument it does not close (\\textbf{x)."""
    for _ in range(value.count("\\") + 1):  # each round that changes it drops a backslash
        tail = _DANGLING_LATEX.sub("", value)
        cleaned = latex_to_text(_OPEN_COMMAND.sub(lambda m: m.group(1) or m.group(2), tail))
        if cleaned == value:
            break
        value = cleaned
    return value


class _Reader:
    """Splits query text into items, repairing what pasted prose gets wrong (see the
    module docstring); `notes` says what was repaired."""

    def __init__(self, typed: str) -> None:
        # In NFC without invisible characters, as the index holds text (index_text).
        self.text = latex_to_text(_MATH_DELIMITER.sub(NOT_MATH, normal_text(typed)))
        self.items: list[Item] = []
        self.notes: list[str] = []

    def read(self) -> list[Item]:
        i, n = 0, len(self.text)
        while i < n:
            if self.text[i].isspace():
                i += 1
                continue
            i = self._item(i)
        return self.items

    def _note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def _item(self, i: int) -> int:
        text, n = self.text, len(self.text)
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != "-"
        if negated:
            i += 1
        name, i = self._field(i)
        quoted = i < n and text[i] == '"'
        if quoted:
            end = text.find('"', i + 1)
            if end >= 0:
                self._add(negated, name, text[i + 1 : end], True)
                return end + 1
            self._note('a quote (") without its closing partner was left out')
            if name is None and not negated:
                return i + 1  # read as a space
            i += 1
        end = i
        while end < n and not text[end].isspace() and text[end] != '"':
            end += 1
        self._add(negated, name, text[i:end], False)
        return end

    def _field(self, i: int) -> tuple[str | None, int]:
        """The field name of an item starting at `i` (None for text) and where its value
        starts; raises QueryError for a short operator with nothing after its colon."""
        match = _FIELD_PREFIX.match(self.text, i)
        if not match or _is_literal(match.group(1), self.text[match.end() : match.end() + 2]):
            return None, i
        name, end = match.group(1).lower(), match.end()
        if name not in KNOWN_FIELDS:
            if end < len(self.text) and not self.text[end].isspace():
                self._note(
                    f"{name + ':'!r} is not a field, so it was searched as a word "
                    "(fields: " + " ".join(f + ":" for f in KNOWN_FIELDS) + ")"
                )
            return None, i
        if end < len(self.text) and not self.text[end].isspace():
            return name, end
        if name in SHORT_FIELDS:
            raise QueryError(f"{match.group(0)} needs a value right after the colon")
        self._note(
            f"{match.group(0)} is followed by a space, so it was searched as a word; "
            f"write {name}:word to use it as a field"
        )
        return None, i

    def _add(self, negated: bool, name: str | None, value: str, quoted: bool) -> None:
        value = _self_contained(value)
        if name is None and (quoted or negated) and not has_word(value):
            # punctuation, not a phrase or an exclusion (" -. ", '"..."')
            for word in value.split():  # each written back alone: "-·" is no -·
                self._add(False, None, word.lstrip("-") or word, False)
            return
        self.items.append((negated, name, value, quoted))


MAX_YEARS_BACK = 300  # the furthest a relative date (7d, 3m, 1y) may reach


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` calendar months before `day`, or that month's
    last day when it is shorter (Mar 31 - 1 month = Feb 28/29; Feb 29 - 1 year = Feb 28)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def parse_date_bound(value: str, *, today: date, upper: bool) -> date:
    """``2025-06-01``, ``2025-06``, ``2025`` or ``7d``/``2w``/``3m``/``1y`` (before today;
    months and years are calendar ones, see months_before), in ASCII digits, as every date
    parameter reads them (listing.parse_day).

    For partial dates the lower bound is the first day, the upper bound the last day."""
    rel = _RELATIVE.match(value.lower())
    if rel:
        amount, unit = int(rel.group(1)), rel.group(2)
        if unit in ("m", "y"):  # calendar months and years: 1y == 12m, 3m on Mar 1 -> Dec 1
            months = amount * (12 if unit == "y" else 1)
            if months > 12 * MAX_YEARS_BACK:
                raise QueryError(f"{value!r} reaches too far back")
            return months_before(today, months)
        days = amount * (7 if unit == "w" else 1)
        if days > 365 * MAX_YEARS_BACK:
            raise QueryError(f"{value!r} reaches too far back")
        return today - timedelta(days=days)
    parts = _DATE.fullmatch(value)
    if parts is None:
        raise QueryError(
            f"cannot read date {value!r}: use YYYY-MM-DD, YYYY-MM, YYYY, or a number with "
            "d/w/m/y such as 7d, 2w, 3m, 1y"
        )
    year = int(parts.group(1))
    month, day = (int(p) if p else None for p in parts.group(2, 3))
    if year < 1:
        raise QueryError(f"{value!r} is not a real date: years begin at 0001")
    if month is not None and not 1 <= month <= 12:
        raise QueryError(f"{value!r} is not a real date: month {month:02d} is not 01-12")
    if month is None:
        return date(year, 12, 31) if upper else date(year, 1, 1)
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return date(year, month, last if upper else 1)
    if not 1 <= day <= last:
        name = calendar.month_name[month]
        raise QueryError(f"{value!r} is not a real date: {name} {year} has {last} days")
    return date(year, month, day)


def _categories(value: str, name: str = "cat:") -> list[str]:
    out = []
    for part in value.split(","):
        cat = part.strip().lower()
        if not cat:
            continue
        if not _CATEGORY.match(cat):
            raise QueryError(
                f"{name} {part!r} is not an arXiv category (like cs.CL, math.GT, hep-th)"
            )
        if cat.split(".", 1)[0] not in ARXIV_ARCHIVES:  # cat:bogus filtered every paper out
            raise QueryError(
                f"{name} {part.strip()!r} is not an arXiv category: write a class like cs.CL, "
                f"math.GT or astro-ph.CO, or an archive ({', '.join(CURRENT_ARCHIVES)})"
            )
        out.append(cat)
    if not out:
        raise QueryError(f"{name} needs a category, like cs.CL")
    return out


def pasted_arxiv_id(text: str) -> str | None:
    """The versionless arXiv id when `text` is one arXiv id in any spelling
    (models.read_arxiv_id, as every route taking a paper id reads it) with a real month,
    else None."""
    token = text.strip()
    if not token or any(c.isspace() for c in token):
        return None
    found = read_arxiv_id(token)
    try:
        if found is not None:
            check_id_month(found)
    except InvalidRecord:
        return None
    return found


def parse_query(text: str, *, today: date) -> ParsedQuery:
    """Parse `text` (see the module docstring). `today` anchors since:7d and friends.
    A query of nothing but an arXiv id, alone or with cat:, -cat:, since: and until:
    items, is that id (ParsedQuery.arxiv_id), looked up within those filters."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is too long: {len(text):,} characters, at most {MAX_QUERY_CHARS:,}; "
            "shorten it (a title or a sentence or two finds a paper)"
        )
    pasted = pasted_arxiv_id(text)
    if pasted is not None:
        return ParsedQuery(free_words=(text.strip(),), raw=text, arxiv_id=pasted)
    reader = _Reader(text)
    free: list[str] = []
    required: list[Clause] = []
    excluded: list[Clause] = []
    cats: list[str] = []
    not_cats: list[str] = []
    bounds: dict[str, date] = {}
    for negated, name, value, quoted in reader.read():
        if name is None or name in TEXT_FIELDS:
            _text_item(negated, name, value, quoted, free, excluded if negated else required)
        elif name in CATEGORY_FIELDS:
            (not_cats if negated else cats).extend(_categories(value))
        else:
            if negated:
                other = "until" if name == "since" else "since"
                raise QueryError(f"-{name}: cannot be negated; use {other}: instead")
            if name in bounds:
                raise QueryError(f"{name}: is given twice")
            bounds[name] = parse_date_bound(value, today=today, upper=name == "until")
    since, until = bounds.get("since"), bounds.get("until")
    if since and until and since > until:
        raise QueryError(f"since: {since} is after until: {until}; nothing can match")
    # An id with category and date filters (2503.11731 cat:cs.CL) is still a lookup.
    alone = len(free) == 1 and not (required or excluded)
    looked_up = pasted_arxiv_id(free[0]) if alone else None
    return ParsedQuery(
        free_words=tuple(free),
        required=tuple(required),
        excluded=tuple(excluded),
        categories=tuple(dict.fromkeys(cats)),
        excluded_categories=tuple(dict.fromkeys(not_cats)),
        since=since,
        until=until,
        raw=text,
        arxiv_id=looked_up,
        notes=tuple(reader.notes),
    )


def _text_item(
    negated: bool,
    name: str | None,
    value: str,
    quoted: bool,
    free: list[str],
    clauses: list[Clause],
) -> None:
    """Add a free word, phrase or ti:/abs:/au: item to `free` or `clauses`."""
    if name is None:
        if not value.strip():
            return
        if quoted or negated:
            clauses.append(Clause("any", value, phrase=True))
        else:
            free.append(value)
        return
    if not value.strip():
        raise QueryError(f"{name}: needs a word or a quoted phrase after it")
    clauses.append(Clause(TEXT_FIELDS[name], value, phrase=quoted))


def with_filters(
    parsed: ParsedQuery,
    *,
    category: str = "",
    since: date | None = None,
    until: date | None = None,
) -> ParsedQuery:
    """`parsed` narrowed by structured filters (an API's or a form's fields), which are
    values, never query text: `category` is one or more comma-separated arXiv
    categories (cs.CL, cs), ANDed with the query's own cat: items; the date range is
    the overlap of the query's since:/until: and these."""
    cats = tuple(dict.fromkeys(_categories(category, "category"))) if category.strip() else ()
    low = max((d for d in (parsed.since, since) if d), default=None)
    high = min((d for d in (parsed.until, until) if d), default=None)
    if low and high and low > high:
        raise QueryError(f"since {low} is after until {high}; nothing can match")
    return replace(
        parsed,
        category_filter=tuple(dict.fromkeys(parsed.category_filter + cats)),
        since=low,
        until=high,
    )


def format_query(parsed: ParsedQuery) -> str:
    """`parsed` written back in the query language: parse_query reads it as the same
    query. Structured filters (category_filter) are not query text and are left out."""
    parts = list(parsed.free_words)
    for sign, clauses in (("", parsed.required), ("-", parsed.excluded)):
        for clause in clauses:
            prefix = {"any": "", "title": "ti:", "abstract": "abs:", "authors": "au:"}
            body = f'"{clause.text}"' if clause.phrase else clause.text
            parts.append(f"{sign}{prefix[clause.field]}{body}")
    if parsed.categories:
        parts.append("cat:" + ",".join(parsed.categories))
    parts += [f"-cat:{cat}" for cat in parsed.excluded_categories]
    if parsed.since:
        parts.append(f"since:{parsed.since.isoformat()}")
    if parsed.until:
        parts.append(f"until:{parsed.until.isoformat()}")
    return " ".join(parts)
