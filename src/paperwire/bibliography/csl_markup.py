"""CSL-JSON's rich text, both ways: the pseudo-HTML tags citeproc-js reads in text fields
(``<i>``, ``<b>``, ``<sup>``, ``<sub>``, ``<span …>``) and the entities that write a
character which would otherwise read as one (``&lt;``, ``&amp;``). Pure functions.

``csl_plain(csl_rich(text)) == text`` for any text: a title that literally holds
``<b>`` ("The <b> tag in HTML") is exported with it escaped and read back as written,
while a Zotero title with real markup (``<i>Drosophila</i> genes``) reads as its text."""

from __future__ import annotations

import html
import re

MARKUP = re.compile(r"</?(?:i|b|sup|sub|span)(?:\s[^<>]*)?>")
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


def csl_rich(text: str) -> str:
    """`text` as a CSL rich-text value that reads as `text`: each ``&`` that would start
    an entity written ``&amp;``, then each ``<`` that would start a tag written ``&lt;``
    (again until none does: escaping one can make an earlier ``<`` start a tag)."""
    if "&" not in text and "<" not in text:
        return text
    out = ENTITY.sub(lambda m: "&amp;" + m.group(0)[1:], text)
    while MARKUP.search(out):
        out = MARKUP.sub(lambda m: "&lt;" + m.group(0)[1:], out)
    return out


def csl_plain(value: str) -> str:
    """The text of a CSL rich-text value: tags dropped, then entities read (in one pass:
    ``&amp;lt;`` is the text ``&lt;``)."""
    if "&" not in value and "<" not in value:
        return value
    return ENTITY.sub(lambda m: html.unescape(m.group(0)), MARKUP.sub("", value))
