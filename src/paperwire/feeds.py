"""RSS 2.0 and Atom 1.0 feeds over any list of papers. Pure: papers + FeedInfo -> bytes.

Built with lxml's element tree (never by pasting strings), so every title, name and
abstract is escaped; characters XML 1.0 cannot carry are dropped. A daily list, trending,
a search, a collection or a reader's "For you" list are all the same call with their own
FeedInfo."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.utils import format_datetime

from lxml import etree

from paperwire.bibliography.latex import latex_to_plain
from paperwire.bidi import without_bidi_controls
from paperwire.models import Paper

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FEED_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


@dataclass(frozen=True, slots=True)
class FeedInfo:
    title: str
    link: str  # absolute URL of the HTML page the feed follows
    self_url: str  # absolute URL of the feed itself
    description: str
    site_url: str  # absolute base URL; papers link to {site_url}/papers/{id}


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def _plain(text: str) -> str:
    """Readable text of LaTeX-ish `text`, without characters XML cannot carry or bidi
    controls (a feed reader shows each title and name on its own)."""
    return without_bidi_controls(latex_to_plain(_clean(text)))


def paper_day(paper: Paper) -> date | None:
    return paper.listing_date or paper.hf_date or paper.updated or paper.submitted


def _moment(day: date | None, fallback: datetime) -> datetime:
    return datetime.combine(day, time(0, 0), UTC) if day else fallback


def _text(parent: etree._Element, tag: str, value: str, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    node.text = _clean(value)
    return node


def _serialise(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return data


def _paper_url(info: FeedInfo, paper: Paper) -> str:
    return f"{info.site_url.rstrip('/')}/papers/{paper.arxiv_id}"


def _latest(papers: list[Paper], now: datetime) -> datetime:
    days = [d for d in map(paper_day, papers) if d]
    return _moment(max(days), now) if days else now


def rss(info: FeedInfo, papers: list[Paper], now: datetime) -> bytes:
    """An RSS 2.0 document (with atom:link rel=self and dc:creator per author)."""
    root = etree.Element("rss", {"version": "2.0"}, nsmap={"atom": ATOM, "dc": DC})
    channel = etree.SubElement(root, "channel")
    _text(channel, "title", info.title)
    _text(channel, "link", info.link)
    _text(channel, "description", info.description)
    etree.SubElement(
        channel,
        f"{{{ATOM}}}link",
        {"href": _clean(info.self_url), "rel": "self", "type": FEED_TYPES["rss"]},
    )
    _text(channel, "lastBuildDate", format_datetime(_latest(papers, now)))
    _text(channel, "generator", "paperwire")
    for paper in papers:
        item = etree.SubElement(channel, "item")
        url = _paper_url(info, paper)
        _text(item, "title", _plain(paper.title))
        _text(item, "link", url)
        _text(item, "guid", url, isPermaLink="true")
        # RSS descriptions are HTML: escape the text once more so it shows as text
        _text(item, "description", html.escape(_plain(paper.abstract), quote=False))
        _text(item, "pubDate", format_datetime(_moment(paper_day(paper), now)))
        for author in paper.authors:
            _text(item, f"{{{DC}}}creator", _plain(author.name))
        for category in paper.categories:
            _text(item, "category", category)
    return _serialise(root)


def atom(info: FeedInfo, papers: list[Paper], now: datetime) -> bytes:
    """An Atom 1.0 document."""
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})

    def add(parent: etree._Element, tag: str, value: str = "", **attrs: str) -> etree._Element:
        return _text(parent, f"{{{ATOM}}}{tag}", value, **attrs)

    add(root, "title", info.title)
    add(root, "subtitle", info.description)
    add(root, "id", info.self_url)
    add(root, "link", href=info.link, rel="alternate", type="text/html")
    add(root, "link", href=info.self_url, rel="self", type=FEED_TYPES["atom"])
    add(root, "updated", _latest(papers, now).isoformat())
    add(root, "generator", "paperwire")
    for paper in papers:
        entry = add(root, "entry")
        url = _paper_url(info, paper)
        add(entry, "title", _plain(paper.title), type="text")
        add(entry, "id", url)
        add(entry, "link", href=url, rel="alternate", type="text/html")
        add(entry, "link", href=paper.abs_url, rel="related", title="arXiv")
        add(entry, "link", href=paper.pdf_url, rel="enclosure", type="application/pdf")
        published = _moment(paper.submitted or paper_day(paper), now)
        add(entry, "published", published.isoformat())
        add(entry, "updated", max(published, _moment(paper_day(paper), now)).isoformat())
        for person in paper.authors or []:
            add(add(entry, "author"), "name", _plain(person.name))
        if not paper.authors:
            add(add(entry, "author"), "name", "unknown")
        for category in paper.categories:
            add(entry, "category", term=category)
        add(entry, "summary", _plain(paper.abstract), type="text")
    return _serialise(root)
