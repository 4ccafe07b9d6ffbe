"""The text the lexical index's analyzers read, made from a paper's or a query's text
(pure). Documents and query words both pass through index_text, so they meet whatever
Unicode form either was written in. tantivy's simple tokenizer splits at every character
that is not a letter or digit and counts its length limit in bytes; outside ASCII that
loses words, so before it reads a text:

- The text is put in NFC: an accent typed as a combining mark (e + U+0301) becomes the
  composed letter (é), which stays inside its word. Combining accents no composed letter
  holds (q̌, Russian stress marks) are dropped, as the index's accent folding drops those
  of composed letters.
- Invisible characters (zero-width space, non-joiner and joiner, word joiner, soft
  hyphen, byte-order mark, direction marks, variation selectors) are dropped: inside a
  word each one split it.
- Chinese and Japanese runs (Han, Hiragana, Katakana), written without spaces, become their
  overlapping pairs of characters ("机器学习" -> "机器 器学 学习"): any two or more
  consecutive characters of a run are found (a query's run is a phrase of its pairs), a
  one-character run is itself. Korean writes spaces between words: Hangul stays words.
- tantivy drops words of LONG_WORD_CHARS bytes or more: in ASCII, of that many
  characters. Other scripts take 2-4 bytes a character (20 Cyrillic letters are 40), so
  a word of fewer characters but too many bytes is split into pieces that fit
  ("высокопроизводительный" -> "высокопроизводитель ный", found as a phrase of them),
  while a word of LONG_WORD_CHARS characters or more is left for tantivy to drop: the
  limit is characters, in any script.
  (Words are letters and digits as Python counts them; the vowel signs of Devanagari,
  Thai and other scripts, letters to tantivy, are not, so their words keep the limit of
  bytes.)

ASCII text (nearly every title and abstract) is returned as it is: its tokens are those
of before, for the cost of str.isascii.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tantivy

LONG_WORD_CHARS = 40  # words of this many characters or more are not indexed
# tantivy's remove_long keeps tokens of fewer bytes than this (in ASCII, characters).
TOKEN_BYTES_LIMIT = LONG_WORD_CHARS

# Han (with Extensions A-G and compatibility ideographs), the ideographic iteration and
# closing marks and number zero, Hiragana and Katakana letters and marks (not the
# punctuation of their blocks: ゛ ゜ ゠ ・), small Katakana, halfwidth Katakana.
CJK_CHARS = (
    "\u3005-\u3007\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
# Default-ignorable characters found in text: soft hyphen, combining grapheme joiner,
# Arabic letter mark, Mongolian vowel separator, zero-width space / non-joiner / joiner,
# direction marks, embeddings and isolates, word joiner and invisible operators,
# variation selectors, byte-order mark (zero-width no-break space), tags.
IGNORABLE_CHARS = (
    "\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufe00-\ufe0f\ufeff\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
# Combining accents (diacritical marks for letters and for symbols, half marks), which
# tantivy counts as no letter: left after NFC when no composed letter holds them.
_ACCENT_CHARS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"

_UNUSUAL = re.compile(f"[{IGNORABLE_CHARS}{_ACCENT_CHARS}{CJK_CHARS}]")
_IGNORABLE = re.compile(f"[{IGNORABLE_CHARS}]+")
_ACCENT = re.compile(f"[{_ACCENT_CHARS}]+")
CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
# Words that may take TOKEN_BYTES_LIMIT bytes (a character takes at most 4).
_LONG_WORD = re.compile(rf"[^\W_]{{{TOKEN_BYTES_LIMIT // 4},}}")
# UTF-8 bytes as "a" (an ASCII letter or digit, or part of a non-ASCII character) or " "
# (anything else): a word of TOKEN_BYTES_LIMIT bytes is a run of as many "a"s. One
# translate and one find (~4 µs an abstract), before any search with _LONG_WORD.
# (A word of 40 ASCII letters is such a run too: rare, and left as it is.)
_WORD_BYTES = bytes(
    ord("a") if (chr(b).isascii() and chr(b).isalnum()) or b >= 0x80 else ord(" ")
    for b in range(256)
)
_WORD_BYTES_RUN = b"a" * TOKEN_BYTES_LIMIT
_ASCII_BYTES = bytes(range(128))


def normal_text(text: str) -> str:
    """`text` in NFC without invisible characters: what a query is read as."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _IGNORABLE.sub("", text))


def _pairs(run: re.Match[str]) -> str:
    chars = run.group()
    pairs = chars if len(chars) == 1 else " ".join(map(str.__add__, chars, chars[1:]))
    return f" {pairs} "


def _pieces(word: str) -> list[str]:
    """`word` cut into pieces of fewer than TOKEN_BYTES_LIMIT bytes, in order."""
    pieces: list[str] = []
    start = size = 0
    for at, char in enumerate(word):
        width = len(char.encode())
        if size + width >= TOKEN_BYTES_LIMIT:
            pieces.append(word[start:at])
            start, size = at, 0
        size += width
    return [*pieces, word[start:]]


def _fitted(found: re.Match[str]) -> str:
    word = found.group()
    if len(word) >= LONG_WORD_CHARS or len(word.encode()) < TOKEN_BYTES_LIMIT:
        return word  # too long in any script (tantivy drops it), or fits
    return " ".join(_pieces(word))


def _fitted_words(text: str, encoded: bytes) -> str:
    """`text` (UTF-8 `encoded`) with its words of too many bytes but not too many
    characters in pieces."""
    if encoded.translate(_WORD_BYTES).find(_WORD_BYTES_RUN) < 0:
        return text
    return _LONG_WORD.sub(_fitted, text)


def index_text(text: str) -> str:
    """`text` as the index's analyzers should read it (see the module docstring)."""
    if text.isascii():
        return text
    encoded = text.encode()
    # Its characters past ASCII (UTF-8 less the ASCII bytes is UTF-8): searching them
    # alone is 8x faster than searching the text (2 µs against 16 for an abstract).
    if _UNUSUAL.search(encoded.translate(None, _ASCII_BYTES).decode()) is None:
        normal = unicodedata.normalize("NFC", text)
    else:
        normal = unicodedata.normalize("NFC", _IGNORABLE.sub("", text))
        normal = CJK_RUN.sub(_pairs, _ACCENT.sub("", normal))
    return _fitted_words(normal, encoded if normal is text else normal.encode())


class Analysis:
    """A field's tantivy analyzer as the index applies it: to index_text(text)."""

    def __init__(self, analyzer: tantivy.TextAnalyzer) -> None:
        self.analyzer = analyzer

    def analyze(self, text: str) -> list[str]:
        return list(self.analyzer.analyze(index_text(text)))
