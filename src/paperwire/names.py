"""Author names as one rule shows, compares and checks them (pure; no I/O).

arXiv metadata writes names in LaTeX (``T\\"ornberg``, ``Sch{\\"o}lkopf``, ``Erd\\H{o}s``),
sometimes with invisible characters in them (zero-width spaces, bidi controls); readers
type them in Unicode, with or without accents. :func:`readable_name` is the name as a
page shows it and a follow stores it; :func:`author_key` is what two names are compared
by, everywhere: following, the followed-authors page, the digest's "new from followed
author" and the recommender's "by an author you follow".
"""

from __future__ import annotations

import re
import unicodedata

from paperwire.latex import latex_to_text

# Characters that show nothing, and that are no whitespace to str.split(): the format
# characters (Unicode category Cf: zero-width space and joiners, U+2060 word joiner, bidi
# marks, embeddings and isolates, soft hyphen, BOM, tag characters) and the blank letters
# and marks that render as nothing (Hangul fillers, braille blank, combining grapheme
# joiner, variation selectors).
_BLANK = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0\ufe00-\ufe0f\U000e0100-\U000e01ef"
_INVISIBLE = re.compile(f"[{_BLANK}]")
# typographic apostrophes (O’Brien, Oʼ Brien) compare as the typewriter one (O'Brien)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})


def is_invisible(ch: str) -> bool:
    """Whether the character `ch` shows nothing (whitespace aside)."""
    return unicodedata.category(ch) == "Cf" or bool(_INVISIBLE.match(ch))


def without_invisible(text: str) -> str:
    """`text` less every character that shows nothing (see is_invisible)."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if not is_invisible(ch))


def has_visible(text: str) -> bool:
    """Whether something of `text` shows: a character neither whitespace nor invisible."""
    return any(not ch.isspace() and not is_invisible(ch) for ch in text)


def readable_name(name: str) -> str:
    """The name as it reads: LaTeX as Unicode (``T\\"ornberg`` -> Törnberg), invisible
    characters dropped, spacing folded, in NFC."""
    text = without_invisible(latex_to_text(name))
    return unicodedata.normalize("NFC", " ".join(text.split()))


def author_key(name: str) -> str:
    """What author names are compared by: the readable name without accents, case, dots
    or extra spaces. ``T\\"ornberg``, ``Törnberg`` and ``tornberg`` share one key; so do
    ``O’Brien`` and ``o'brien``; ``J. Garcia`` and ``José García`` do not."""
    text = unicodedata.normalize("NFKD", readable_name(name))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_APOSTROPHES)
    return " ".join(text.casefold().replace(".", " ").split())
