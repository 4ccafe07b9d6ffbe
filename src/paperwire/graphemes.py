"""Shortening text for display without splitting a character a reader sees (pure).

What a reader sees as one character may be several code points: an emoji ZWJ sequence
(👩‍💻), a flag (🇩🇪, two regional indicators), a letter and its combining accents, an emoji
and its skin-tone modifier. Cutting between them leaves half a character, or a different
one, at the end of a snippet. Every place that shortens paper or user text to a length
cuts through here, at grapheme-cluster boundaries (Unicode UAX #29, the ``regex``
package's ``\\X``)."""

from __future__ import annotations

import regex

ELLIPSIS = "…"
_CLUSTER = regex.compile(r"\X")


def _known_boundary(text: str, at: int) -> int:
    """A grapheme boundary at or before `at`: between two ASCII characters other than CR
    LF nothing joins (every joining rule of UAX #29 needs a non-ASCII character)."""
    while at > 0 and not (
        text[at - 1] < "\x80" and text[at] < "\x80" and text[at - 1 : at + 1] != "\r\n"
    ):
        at -= 1
    return at


def grapheme_floor(text: str, at: int) -> int:
    """The last grapheme-cluster boundary of `text` at or before index `at`."""
    if at <= 0:
        return 0
    if at >= len(text):
        return len(text)
    boundary = _known_boundary(text, at)
    for cluster in _CLUSTER.finditer(text, boundary):
        if cluster.end() > at:
            break
        boundary = cluster.end()
    return boundary


def clip(text: str, limit: int) -> str:
    """At most `limit` characters of the start of `text`, whole clusters only."""
    return text if len(text) <= limit else text[: grapheme_floor(text, limit)]


def cut_index(text: str, limit: int, words: bool = True) -> int:
    """Where to cut `text` to keep at most `limit` characters: before the last space
    that fits (when `words` and there is one), else at the last cluster boundary; at
    least the first cluster, however long, so nothing shortens to nothing."""
    if len(text) <= limit:
        return len(text)
    if words:
        space = text.rfind(" ", 0, limit + 1)
        if space > 0:
            return space
    cut = grapheme_floor(text, limit)
    if cut == 0:
        first = _CLUSTER.match(text)
        cut = first.end() if first is not None else 0
    return int(cut)


def shorten(text: str, limit: int, words: bool = True, ellipsis: str = ELLIPSIS) -> str:
    """`text`, or its start and `ellipsis` in at most `limit` characters (see
    cut_index; spaces before the ellipsis dropped)."""
    if len(text) <= limit:
        return text
    return text[: cut_index(text, limit - len(ellipsis), words)].rstrip() + ellipsis
