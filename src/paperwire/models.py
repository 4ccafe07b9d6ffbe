"""Plain data records shared by every layer. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

# New-style ids (0704.0001 … 2401.00001) and old-style ids (hep-th/9504118, math.GT/0309136).
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(v(\d+))?$")
_OLD_ID = re.compile(r"^([a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(v(\d+))?$")
# A new-style versionless id with a month 01-12: what validate accepts without more checks.
_MONTHLY_ID = re.compile(r"^\d\d(?:0[1-9]|1[0-2])\.\d{4,5}$")
_VERSIONLESS_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})$")
# arXiv subject classes: "cs.CL", "hep-th", "math.GT", "q-bio.NC"; not ACM/MSC strings.
_CATEGORY = re.compile(r"([a-z-]+)(?:\.[A-Za-z-]+)?")  # group 1: the archive
_ARCHIVE_HEAD = re.compile(r"[A-Za-z-]+")


# arXiv's archives, the part of a category before the dot: today's, and retired ones that
# old papers still carry.
CURRENT_ARCHIVES = (
    "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
    "quant-ph", "stat",
)  # fmt: skip
RETIRED_ARCHIVES = (
    "acc-phys", "adap-org", "alg-geom", "ao-sci", "atom-ph", "bayes-an", "chao-dyn", "chem-ph",
    "cmp-lg", "comp-gas", "dg-ga", "funct-an", "mtrl-th", "patt-sol", "plasm-ph", "q-alg",
    "solv-int", "supr-con",
)  # fmt: skip
ARXIV_ARCHIVES = frozenset(CURRENT_ARCHIVES + RETIRED_ARCHIVES)


# Widths of the papers table's columns (store/schema.py): a longer value is no DOI, license
# or arXiv class, and PostgreSQL refuses it (the whole import batch failed).
MAX_DOI = 256
MAX_LICENSE = 256
MAX_CATEGORY = 32
MAX_COUNT = 2**31 - 1  # versions, upvotes, comments: integer columns


class InvalidRecord(ValueError):
    """A source record that cannot become a Paper; the message says why."""


def _is_category(text: str) -> bool:
    found = _CATEGORY.fullmatch(text)
    return found is not None and found.group(1) in ARXIV_ARCHIVES


def check_category(text: str) -> str:
    """`text` if it is an arXiv category: an archive (hep-th, cs) or one of its classes
    (cs.CL, math.GT, astro-ph.CO). Raises InvalidRecord saying what to write instead."""
    if not _is_category(text):
        raise InvalidRecord(
            f"{text!r} is not an arXiv category: write a class like cs.CL, math.GT or "
            f"astro-ph.CO, or an archive ({', '.join(CURRENT_ARCHIVES)})"
        )
    return text


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return (versionless id, version or None) for an arXiv identifier.

    Accepts bare ids, ``arXiv:`` prefixes, ``oai:arXiv.org:`` prefixes and abs/pdf URLs.
    Raises InvalidRecord for anything else.
    """
    text = raw.strip()
    for prefix in ("oai:arXiv.org:", "arXiv:", "arxiv:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    for marker in ("/abs/", "/pdf/"):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = text.removesuffix(".pdf")
    match = _NEW_ID.match(text) or _OLD_ID.match(text)
    if not match:
        raise InvalidRecord(f"not an arXiv identifier: {raw!r}")
    version = int(match.group(3)) if match.group(3) else None
    return match.group(1), version


# An arXiv DataCite DOI (10.48550/arXiv.2503.01234), bare or as a doi.org URL.
_ARXIV_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/)?10\.48550/arxiv\.(.+)$", re.I)
_ARXIV_HOST = re.compile(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org", re.I)


def read_arxiv_id(raw: str | None) -> str | None:
    """The versionless arXiv id `raw` names, in any spelling people paste: a bare or
    versioned id (2503.01234v2, hep-th/9504118), ``arXiv:``, an abs or pdf URL, or its
    arXiv DOI (10.48550/arXiv.2503.01234, also as a doi.org URL); None for anything else.
    The one id reader of search's lookup, the library file importers and every route
    that takes a paper id."""
    if not raw:
        return None
    text = raw.strip()
    doi = _ARXIV_DOI.match(text)
    if doi is not None:
        text = doi.group(1).rstrip(".,;)")
    elif text.lower().startswith(("10.", "https://doi.org/", "http://doi.org/")):
        return None  # another DOI: no arXiv id, whatever its suffix looks like
    for candidate in (text, text.lower()) if doi is not None else (text,):
        try:
            return split_arxiv_id(_ARXIV_HOST.sub("", candidate))[0]
        except InvalidRecord:
            continue
    return None


def canonical_arxiv_id(raw: str) -> str:
    """The versionless id `raw` names (read_arxiv_id); other text stripped but unchanged,
    so that a lookup finds nothing and the message names what was asked for."""
    return read_arxiv_id(raw) or raw.strip()


def check_id_month(arxiv_id: str) -> None:
    """Raise InvalidRecord when a new-style versionless id (YYMM.NNNNN) has no month in
    YYMM (00, or 13 to 99); old-style ids (hep-th/9504118) pass."""
    month = arxiv_id[2:4]
    if "/" not in arxiv_id and not 1 <= int(month) <= 12:
        raise InvalidRecord(
            f"{arxiv_id}: month {month} is not 01-12 (new-style arXiv ids are YYMM.NNNNN)"
        )


def category_keys(category: str) -> tuple[str, ...]:
    """What a paper's `category` is found by, as search's cat: finds it: the class and its
    archive, lower-cased (cs.CL -> cs.cl, cs; hep-th -> hep-th)."""
    lowered = category.lower()
    archive = lowered.split(".", 1)[0]
    return (lowered,) if archive == lowered else (lowered, archive)


def read_categories(raw: list[str] | str) -> tuple[list[str], list[str]]:
    """(the arXiv classes of `raw` in order, primary first; the parts that start with an
    arXiv archive but are no class, such as "cs." or "cs.CL;"). What is neither (ACM and
    MSC classes, which arXiv listings mix in, words) is left out of both."""
    items = raw.split() if isinstance(raw, str) else raw
    kept: list[str] = []
    unreadable: list[str] = []
    for item in items:
        for part in item.replace(",", " ").split():
            found = _CATEGORY.fullmatch(part)
            if found and found.group(1) in ARXIV_ARCHIVES and len(part) <= MAX_CATEGORY:
                if part not in kept:
                    kept.append(part)
            elif (head := _ARCHIVE_HEAD.match(part)) and head.group(0).lower() in ARXIV_ARCHIVES:
                unreadable.append(part)
    return kept, unreadable


def clean_categories(raw: list[str] | str) -> list[str]:
    """The arXiv subject classes of `raw` in order (see read_categories)."""
    return read_categories(raw)[0]


# C0 control characters but tab, line feed and carriage return, and DEL. PostgreSQL's text
# and jsonb refuse NUL, XML 1.0 (the RSS/Atom feeds) refuses all of them, and terminals
# and grep take text holding them for binary: nothing paperwire stores holds them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """`text` without control characters (tab and line breaks stay)."""
    if text.isprintable() or not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", text)


def collapse_whitespace(text: str | None) -> str:
    """arXiv text has hard line breaks and indentation; fold them into single spaces."""
    return " ".join(text.split()) if text else ""


MAX_LINK = 2048


def web_link(text: str | None, schemes: tuple[str, ...] = ("https", "http")) -> str | None:
    """`text` if it is an absolute web address a page may link to: a scheme of `schemes`,
    a host, no ``user:password@``, no whitespace or control characters; else None.
    ``javascript:``, ``data:``, ``//host`` and relative paths are no such links (a
    ``javascript:`` address from Hugging Face became a paper page's GitHub link)."""
    if not text or len(text) > MAX_LINK or not text.isprintable() or " " in text:
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError:
        return None
    if parts.scheme.lower() not in schemes or not parts.hostname or "@" in parts.netloc:
        return None
    return text


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    affiliation: str | None = None


@dataclass(slots=True)
class Paper:
    """One arXiv paper, versionless id as the key.

    Optional fields left as None mean "this source did not say"; on upsert they never
    erase what another source already stored.
    """

    arxiv_id: str
    title: str
    abstract: str
    authors: list[Author] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary first
    version: int | None = None
    submitted: date | None = None  # v1 date
    updated: date | None = None  # latest version date
    listing_date: date | None = None  # announce/listing date
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    sources: list[str] = field(default_factory=list)
    hf_upvotes: int | None = None
    hf_comments: int | None = None
    hf_github: str | None = None
    hf_date: date | None = None  # day it appeared on HF daily papers
    deleted: bool = False

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    def validate(self) -> None:
        """Raise InvalidRecord unless the paper is fit to store."""
        if not _MONTHLY_ID.match(self.arxiv_id):  # the usual case in one look
            if not _VERSIONLESS_ID.match(self.arxiv_id):
                raise InvalidRecord(f"not a versionless arXiv identifier: {self.arxiv_id!r}")
            check_id_month(self.arxiv_id)
        doi, license_, category = self.doi, self.license, self.primary_category
        if (
            (doi is not None and len(doi) > MAX_DOI)
            or (license_ is not None and len(license_) > MAX_LICENSE)
            or (category is not None and len(category) > MAX_CATEGORY)
        ):
            self._too_long()
        counts = (self.version, self.hf_upvotes, self.hf_comments)
        if counts != (None, None, None):
            self._check_counts()
        if not self.deleted:
            if not self.title.strip():
                raise InvalidRecord(f"{self.arxiv_id}: empty title")
            if not self.abstract.strip():
                raise InvalidRecord(f"{self.arxiv_id}: empty abstract")

    def _too_long(self) -> None:
        for name, value, limit in (
            ("doi", self.doi, MAX_DOI),
            ("license", self.license, MAX_LICENSE),
            ("primary category", self.primary_category, MAX_CATEGORY),
        ):
            if value is not None and len(value) > limit:
                raise InvalidRecord(
                    f"{self.arxiv_id}: {name} is {len(value):,} characters, at most {limit}"
                )

    def _check_counts(self) -> None:
        for name, number in (
            ("version", self.version),
            ("upvotes", self.hf_upvotes),
            ("comment count", self.hf_comments),
        ):
            if number is not None and not 0 <= number <= MAX_COUNT:
                raise InvalidRecord(f"{self.arxiv_id}: {name} {number} is not 0 to {MAX_COUNT:,}")


def paper_day(paper: Paper) -> date | None:
    """The day a paper is dated by (search filters, date sorting, trending ages, listings):
    listing date, else HF date, else v1."""
    return paper.listing_date or paper.hf_date or paper.submitted


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source record that could not be stored, kept with its reason."""

    source: str
    key: str
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Flaw:
    """A field of a source record that could not be read: the record was kept without it."""

    source: str
    key: str  # where: "file.jsonl:12 (0704.0001)", an OAI identifier
    reason: str


MAX_FLAW_WARNINGS = 20  # flawed records named one by one in a report's warnings


@dataclass(slots=True)
class IngestReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    warnings: list[str] = field(default_factory=list)  # worth telling whoever ran it
    flawed: int = 0  # records kept without a field that could not be read (see Flaw)

    def note_flaws(self, flaws: list[Flaw]) -> None:
        """Count these flawed records; name the first MAX_FLAW_WARNINGS in the warnings."""
        for flaw in flaws:
            if self.flawed < MAX_FLAW_WARNINGS:
                self.warnings.append(f"{flaw.key}: {flaw.reason}")
            self.flawed += 1

    @property
    def seen(self) -> int:
        return self.new + self.updated + self.unchanged + self.rejected + self.deleted

    def add(self, other: IngestReport) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.deleted += other.deleted
        self.flawed += other.flawed
        self.warnings.extend(other.warnings)


@dataclass(slots=True)
class Hit:
    """One search result: the paper, its fused score and HTML-safe highlighted snippets
    (``{"title": ..., "abstract": ...}`` with matches wrapped in <mark>, everything else escaped)."""

    paper: Paper
    score: float
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SearchPage:
    """One page of results plus what the reader should know about them."""

    query: str
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    sort: str = "relevance"
    mode: str = "hybrid"  # hybrid | lexical | semantic
    semantic_coverage: float = 0.0  # share of live papers embedded so far, in every mode
    notes: list[str] = field(default_factory=list)
    pages: int = 1  # pages that can be fetched: none deeper than the engine serves


# -- digest (issue 5) ----------------------------------------------------------


@dataclass(slots=True)
class Subscriber:
    """A digest subscriber and their preferences.

    status: pending (awaiting confirmation) | active | unsubscribed.
    send_time is local "HH:MM" in the IANA `timezone`; weekly digests go out on
    `weekday` (0 = Monday)."""

    id: int
    email: str
    status: str = "pending"
    frequency: str = "daily"  # daily | weekly
    send_time: str = "08:00"
    timezone: str = "UTC"
    weekday: int = 0
    categories: list[str] = field(default_factory=list)
    saved_searches: list[str] = field(default_factory=list)
    followed_authors: list[str] = field(default_factory=list)
    max_papers: int = 10
    created_at: datetime | None = None
    confirmed_at: datetime | None = None


@dataclass(slots=True)
class DigestSection:
    """Papers with the reason they are in the email ("matches your search 'x'")."""

    kind: str  # search | author | recommended | trending
    label: str  # the query, author name or category
    reason: str
    papers: list[Paper] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # arxiv_id -> why this one (if said)


@dataclass(slots=True)
class Digest:
    subscriber: Subscriber
    period: str  # "daily:2026-07-01" | "weekly:2026-07-06"
    start: date
    end: date
    sections: list[DigestSection] = field(default_factory=list)

    @property
    def paper_ids(self) -> list[str]:
        return [p.arxiv_id for s in self.sections for p in s.papers]

    @property
    def empty(self) -> bool:
        return not any(s.papers for s in self.sections)


@dataclass(slots=True)
class OutboxMessage:
    """One composed digest waiting in (or done with) the outbox."""

    id: int
    subscriber_id: int
    period: str
    recipient: str
    status: str  # composed | sending | sent | empty | retrying | failed | cancelled
    subject: str
    text_body: str
    html_body: str
    message_id: str
    attempts: int = 0
    paper_count: int = 0
    last_reply: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in reader of the website (accounts exist only by email)."""

    id: int
    email: str


# -- the reader's library and recommendations (issue 13) ------------------------------
# The library (store/library.py) produces ReaderSignals; the recommender (recommend/)
# consumes them and returns Recommendations. Neither imports the other.


@dataclass(frozen=True, slots=True)
class LibraryItem:
    """One positive signal from a reader: a saved, upvoted, thumbed-up or imported paper."""

    arxiv_id: str
    source: (
        str  # shown in explanations: a collection name ("Saved"), "upvoted", "liked", "imported"
    )
    added_at: datetime
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ReaderSignals:
    """Everything a recommender may know about one reader."""

    user_id: int
    positives: tuple[LibraryItem, ...] = ()
    negatives: tuple[str, ...] = ()  # thumbed down ("not interested")
    followed_authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # the reader's chosen arXiv classes, may be empty
    exclude: frozenset[str] = frozenset()  # never recommend: saved, dismissed, already mailed


@dataclass(frozen=True, slots=True)
class Recommendation:
    arxiv_id: str
    score: float
    reasons: tuple[str, ...]  # plain text, e.g. "close to 'X' in your Saved"


@dataclass(frozen=True, slots=True)
class Collection:
    """A reader's named collection of saved papers ("Saved" is made on first use)."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    size: int = 0


@dataclass(frozen=True, slots=True)
class CollectionEntry:
    """One paper in a collection, with when it was added and the reader's note."""

    arxiv_id: str
    added_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A reader's API token as listed on the account page (the secret itself is never
    stored: only its hash)."""

    id: int
    name: str
    prefix: str  # the first characters, so the reader can tell tokens apart
    created_at: datetime
    last_used_at: datetime | None = None
