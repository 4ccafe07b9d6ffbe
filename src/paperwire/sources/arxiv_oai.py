"""arXiv OAI-PMH: ``ListRecords`` with ``metadataPrefix=arXiv``.

`parse_list_records` is pure (bytes -> page); `fetch_page` does the HTTP through the polite
client. The harvest loop with its checkpoint lives in :mod:`paperwire.harvest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

from paperwire.models import (
    Author,
    Flaw,
    InvalidRecord,
    Paper,
    Rejected,
    clean_categories,
    collapse_whitespace,
    split_arxiv_id,
)
from paperwire.numbers import ascii_int
from paperwire.sources.categories import category_problem
from paperwire.sources.http import PoliteClient, SourceError
from paperwire.sources.safe_xml import SAFE_XML, element_text

SOURCE = "arxiv_oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
RAW_LIMIT = 20_000
# A first version whose OAI datestamp is this close to its submission date was stamped when
# it was announced: the datestamp is its listing date. Later datestamps (replacements,
# metadata fixes) say nothing about when it was listed.
ANNOUNCE_WINDOW_DAYS = 14

_PARSER = etree.XMLParser(**SAFE_XML)


class MalformedResponse(SourceError):
    """The body is not the XML we expect (truncated, HTML error page, garbage)."""


class OaiError(SourceError):
    """The OAI-PMH server answered with an <error code=…> other than noRecordsMatch."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        self.code = code
        self.detail = message
        hint = hint or {
            "badResumptionToken": "the saved resumption token is no longer valid (arXiv "
            "tokens expire); start this harvest again with --restart",
            "badArgument": "check --since/--until (YYYY-MM-DD) and --set",
            "noSetHierarchy": "this server has no sets; drop --set",
            "cannotDisseminateFormat": "the server does not offer metadataPrefix=arXiv",
        }.get(code, "check the OAI base URL and parameters")
        super().__init__(f"OAI-PMH error {code}: {message or '(no message)'} — {hint}")


@dataclass(slots=True)
class OaiPage:
    """One ListRecords response: its records and the token for the next page (None: done)."""

    items: list[Paper | Rejected] = field(default_factory=list)
    flaws: list[Flaw] = field(default_factory=list)  # of papers in items, kept as they are
    token: str | None = None
    complete_list_size: int | None = None


def list_records_params(
    since: date | None, until: date | None, set_spec: str | None
) -> dict[str, str]:
    """Query parameters of the first ListRecords request of a harvest."""
    params = {"verb": "ListRecords", "metadataPrefix": "arXiv"}
    if since is not None:
        params["from"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    if set_spec:
        params["set"] = set_spec
    return params


def fetch_page(client: PoliteClient, base_url: str, params: dict[str, str]) -> bytes:
    """One ListRecords request; the raw body (parse with parse_list_records)."""
    return client.get(base_url, params).content


def resume_params(token: str) -> dict[str, str]:
    return {"verb": "ListRecords", "resumptionToken": token}


# -- parsing (pure) -----------------------------------------------------------


def parse_list_records(body: bytes) -> OaiPage:
    """Parse a ListRecords (or GetRecord) response.

    A record that cannot become a Paper is returned as Rejected; the rest of the page goes on.
    Raises MalformedResponse for a body that is not complete OAI-PMH XML, OaiError for an
    OAI error other than noRecordsMatch (which means an empty page).
    """
    root = _parse_xml(body)
    if root.tag != f"{OAI}OAI-PMH":
        raise MalformedResponse(f"not an OAI-PMH response (root element {root.tag!r})")
    errors = root.findall(f"{OAI}error")
    if errors:
        code = errors[0].get("code", "")
        if code == "noRecordsMatch":
            return OaiPage()
        raise OaiError(code, collapse_whitespace(errors[0].text))
    container = root.find(f"{OAI}ListRecords")
    if container is None:
        container = root.find(f"{OAI}GetRecord")
    if container is None:
        raise MalformedResponse("OAI-PMH response has neither ListRecords nor GetRecord")
    page = OaiPage()
    for record in container.iterfind(f"{OAI}record"):
        page.items.append(parse_record(record))
        flaw = _category_flaw(record, page.items[-1])
        if flaw is not None:
            page.flaws.append(flaw)
    token = container.find(f"{OAI}resumptionToken")
    if token is not None:
        page.token = (token.text or "").strip() or None
        size = token.get("completeListSize")
        page.complete_list_size = ascii_int(size, maximum=2**62) if size else None
    return page


def _category_flaw(record: Any, item: Paper | Rejected) -> Flaw | None:
    """The Flaw of a stored (not deleted) paper whose <categories> could not all be read."""
    if not isinstance(item, Paper) or item.deleted:
        return None
    written = _text(record, f"{OAI}metadata/{ARXIV}arXiv/{ARXIV}categories") or ""
    problem = category_problem(written)
    return None if problem is None else Flaw(SOURCE, _record_key(record), problem)


def _record_key(record: Any) -> str:
    """A record's OAI identifier (what rejects and flaws are named by)."""
    header = record.find(f"{OAI}header")
    identifier = _text(header, f"{OAI}identifier") if header is not None else None
    return identifier or "(no identifier)"


def _parse_xml(body: bytes) -> Any:
    if not body.strip():
        raise MalformedResponse("empty response body")
    try:
        return etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedResponse(f"malformed or truncated XML: {exc}") from exc


def parse_record(record: Any) -> Paper | Rejected:
    """One <record> element -> Paper (deleted ones too) or Rejected with the reason."""
    header = record.find(f"{OAI}header")
    key = _record_key(record)
    identifier = None if key == "(no identifier)" else key
    try:
        if header is None or not identifier:
            raise InvalidRecord("record without header identifier")
        if header.get("status") == "deleted":
            arxiv_id, _ = split_arxiv_id(identifier)
            return Paper(arxiv_id, title="", abstract="", deleted=True, sources=[SOURCE])
        meta = record.find(f"{OAI}metadata/{ARXIV}arXiv")
        if meta is None:
            raise InvalidRecord(f"{identifier}: no arXiv metadata in record")
        paper = _paper_from_arxiv_format(meta)
        paper.listing_date = listing_date(paper, _date(_text(header, f"{OAI}datestamp")))
        return paper
    except InvalidRecord as exc:
        raw = etree.tostring(record, encoding="unicode")[:RAW_LIMIT]
        return Rejected(SOURCE, key, str(exc), raw)


def listing_date(paper: Paper, datestamp: date | None) -> date | None:
    """The announce date of a new submission (see ANNOUNCE_WINDOW_DAYS), else None."""
    if datestamp is None or paper.submitted is None or paper.updated != paper.submitted:
        return None
    if 0 <= (datestamp - paper.submitted).days <= ANNOUNCE_WINDOW_DAYS:
        return datestamp
    return None


def _children(element: Any) -> dict[str, str]:
    """{local tag name: text} of an element's children in one pass (first one wins);
    much faster than one namespaced find() per field."""
    out: dict[str, str] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(ARXIV):
            out.setdefault(tag[len(ARXIV) :], element_text(child))
    return out


def _paper_from_arxiv_format(meta: Any) -> Paper:
    fields = _children(meta)
    arxiv_id, version = split_arxiv_id(fields.get("id", ""))
    submitted = _date(fields.get("created"))
    authors = meta.find(f"{ARXIV}authors")
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=collapse_whitespace(fields.get("title")),
        abstract=collapse_whitespace(fields.get("abstract")),
        authors=[] if authors is None else [a for a in map(_author, authors) if a.name],
        categories=clean_categories(fields.get("categories", "")),
        submitted=submitted,
        updated=_date(fields.get("updated")) or submitted,
        comments=collapse_whitespace(fields.get("comments")) or None,
        journal_ref=collapse_whitespace(fields.get("journal-ref")) or None,
        doi=collapse_whitespace(fields.get("doi")) or None,
        license=collapse_whitespace(fields.get("license")) or None,
        sources=[SOURCE],
    )
    paper.validate()
    return paper


def _author(element: Any) -> Author:
    names: dict[str, str] = {}
    affiliations: list[str] = []
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        text = collapse_whitespace(element_text(child))
        if tag == f"{ARXIV}affiliation":
            if text:
                affiliations.append(text)
        elif tag.startswith(ARXIV):
            names.setdefault(tag[len(ARXIV) :], text)
    parts = (names.get("forenames"), names.get("keyname"), names.get("suffix"))
    return Author(" ".join(p for p in parts if p), "; ".join(affiliations) or None)


def _text(element: Any, path: str) -> str | None:
    found = element.find(path)
    return element_text(found) if found is not None else None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError as exc:
        raise InvalidRecord(f"bad date {text!r}") from exc
