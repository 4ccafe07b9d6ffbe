"""Highlighted snippets (pure): HTML-escaped text with matching words wrapped in <mark>.

Words are compared after the same analysis the index uses (e.g. stemming), so
"agents" in the text lights up for the query word "agent". Chinese and Japanese runs are
indexed as pairs of characters (index_text): the pairs that are query terms are marked,
not the whole run. Text is marked in NFC, the form the index compares.

Math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) is typeset in the browser from the
text between its delimiters: a <mark> inside it would split the formula, so a formula that
holds a matching word is marked as a whole, and a snippet never begins or ends inside one.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Collection
from functools import lru_cache

from paperwire.graphemes import ELLIPSIS, cut_index, grapheme_floor
from paperwire.latex import math_spans
from paperwire.search.index_text import CJK_CHARS, CJK_RUN

Analyze = Callable[[str], list[str]]

# Alphanumeric runs, like tantivy's simple tokenizer; Chinese and Japanese runs apart.
_WORD = re.compile(rf"[^\W_{CJK_CHARS}]+")
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
MANY_HEADS = 24
# Placeholders for the tags while the text is escaped (private-use characters).
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKS = {_OPEN: "<mark>", _CLOSE: "</mark>"}


class _BaseLetters(dict[int, str]):
    """ö -> o, é -> e (a character's first letter after Unicode decomposition; one
    character for one, so positions in a folded text are those of the original)."""

    def __missing__(self, code: int) -> str:
        base = self[code] = unicodedata.normalize("NFD", chr(code))[0]
        return base


_BASE_LETTERS = _BaseLetters()


def _fold(text: str) -> str:
    return text if text.isascii() else text.translate(_BASE_LETTERS)


@lru_cache(maxsize=256)
def _candidate_pattern(heads: frozenset[str]) -> re.Pattern[str]:
    """Whole words starting with one of `heads` (case-insensitive)."""
    alternatives = "|".join(re.escape(h) for h in sorted(heads, key=len, reverse=True))
    word = rf"[^\W_{CJK_CHARS}]"
    return re.compile(rf"(?<!{word})(?:{alternatives}){word}*", re.IGNORECASE)


def _heads(stem: str) -> list[str]:
    """Lowercase beginnings that every word stemmed to `stem` starts with.

    English stemming only rewrites a word's end: a word starts with its stem less the last
    letter ("safety" -> "safeti", "driving" -> "drive"), or, for the few "-ying" words, with
    the stem's first letter and "y" ("lying" -> "lie"). Checked on every word of the
    74,728-paper corpus: none of its 15M words is missed."""
    heads = [stem[: max(min(2, len(stem)), len(stem) - 1)]]
    if len(stem) == 3 and stem.endswith("ie"):
        heads.append(stem[0] + "y")
    return heads


class Highlighter:
    """Marks the words of texts whose analysed form is one of `terms` (one per query:
    what it learns about a word serves every text it is given)."""

    def __init__(self, terms: Collection[str], analyze: Analyze) -> None:
        self._terms = frozenset(t for t in terms if t)
        self._cjk = frozenset(t for t in self._terms if _CJK_CHAR.search(t))
        self._heads = frozenset(h for t in self._terms - self._cjk for h in _heads(t))
        self._analyze = analyze
        self._verdicts: dict[str, bool] = {}

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character spans of the matching words of `text`, in order.

        Only words that begin like some term (see _heads) are analysed, which keeps this
        fast on long abstracts: few words share a term's first letters but not its stem."""
        verdicts, terms, analyze = self._verdicts, self._terms, self._analyze
        out = []
        for start, end in self._candidates(text) if self._heads else ():
            word = text[start:end]
            verdict = verdicts.get(word)
            if verdict is None:
                verdict = verdicts[word] = any(stem in terms for stem in analyze(word))
            if verdict:
                out.append((start, end))
        if self._cjk and not text.isascii():
            out = sorted(out + self._cjk_spans(text))
        return out

    def _cjk_spans(self, text: str) -> list[tuple[int, int]]:
        """Spans of the Chinese and Japanese of `text` that the query's pairs of characters
        (or one-character runs) cover, pairs that overlap or touch joined."""
        out: list[tuple[int, int]] = []
        for run in CJK_RUN.finditer(text):
            chars, at = run.group(), run.start()
            if len(chars) == 1:
                if chars in self._cjk:
                    out.append(run.span())
                continue
            for i in range(len(chars) - 1):
                if chars[i : i + 2] not in self._cjk:
                    continue
                if out and out[-1][1] >= at + i:  # overlaps or touches the pair before
                    out[-1] = (out[-1][0], at + i + 2)
                else:
                    out.append((at + i, at + i + 2))
        return out

    def _candidates(self, text: str) -> list[tuple[int, int]]:
        """Spans of the words of `text` that start with one of the heads."""
        lowered = _fold(text.lower())  # the index folds accents: ö begins like o
        # One regex pass beats many find() scans when there are many heads; it also
        # copes with the rare case-mappings that change a text's length.
        if len(lowered) != len(text) or len(self._heads) > MANY_HEADS:
            same = lowered if len(lowered) == len(text) else text
            return [m.span() for m in _candidate_pattern(self._heads).finditer(same)]
        spans = []
        word_at = _WORD.match
        for head in self._heads:
            at = lowered.find(head)
            while at >= 0:
                before = lowered[at - 1] if at else " "
                if not before.isalnum() or (before >= "\u3005" and _CJK_CHAR.match(before)):
                    found = word_at(lowered, at)
                    if found is not None:
                        spans.append(found.span())
                at = lowered.find(head, at + 1)
        if len(self._heads) > 1:
            spans = sorted(set(spans))  # a head may begin another head's words too
        return spans

    def html(self, text: str, max_chars: int | None = None) -> str:
        """`text` as HTML: everything escaped, matching words in <mark>…</mark>.

        With `max_chars`, only the best window of about that many characters is kept and
        cut ends are marked with an ellipsis. A formula holding a matching word is marked
        whole (see the module's docstring)."""
        text = text if text.isascii() else unicodedata.normalize("NFC", text)
        math = [m.span() for m in math_spans(text)]
        spans = _whole_formulas(self.spans(text), math)
        if max_chars is None:
            start, end = 0, len(text)
        else:
            start, end = _window(text, spans, max_chars, math)
        parts: list[str] = []
        cursor = start
        for span_start, span_end in spans:
            if span_start < start or span_end > end:
                continue
            parts += (text[cursor:span_start], _OPEN, text[span_start:span_end], _CLOSE)
            cursor = span_end
        parts.append(text[cursor:end])
        if _OPEN in text or _CLOSE in text:  # never in real text; escape piece by piece
            marked = "".join(  # parts alternate text, tag, word, tag, ..., text
                _MARKS[part] if n % 2 else html.escape(part) for n, part in enumerate(parts)
            )
        else:  # one escape for the whole window, then the placeholders become tags
            marked = html.escape("".join(parts)).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
        return (ELLIPSIS if start > 0 else "") + marked + (ELLIPSIS if end < len(text) else "")


def _whole_formulas(
    words: list[tuple[int, int]], math: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """`words` (sorted spans) with each word inside a formula of `math` (sorted, disjoint
    spans) replaced by that formula, once."""
    if not math:
        return words
    out: list[tuple[int, int]] = []
    at = 0  # math[:at] end before the current word
    for word in words:
        while at < len(math) and math[at][1] <= word[0]:
            at += 1
        inside = at < len(math) and math[at][0] <= word[0]
        span = math[at] if inside else word
        if not out or out[-1] != span:
            out.append(span)
    return out


def _window(
    text: str,
    spans: list[tuple[int, int]],
    max_chars: int,
    math: list[tuple[int, int]],
) -> tuple[int, int]:
    """The max_chars-long stretch of `text` holding the most matches, on word bounds (or
    at least grapheme-cluster ones: 👩‍💻 or 🇩🇪 is never cut in half) and outside the
    formulas of `math` (a cut formula would leave its $ unpaired)."""
    if len(text) <= max_chars:
        return 0, len(text)
    best_start, best_count = 0, 0
    last = 0  # sliding window over the (sorted) matches: spans[i:last] fit after spans[i]
    for i, (start, _) in enumerate(spans):
        last = max(last, i)
        while last < len(spans) and spans[last][1] <= start + max_chars:
            last += 1
        if last - i > best_count:
            best_start, best_count = start, last - i
    # Begin a little before the first match so the reader sees its context.
    start = max(0, best_start - max_chars // 5) if best_count > 0 else 0
    if start > 0:
        space = text.find(" ", start)
        start = grapheme_floor(text, space + 1 if 0 <= space < best_start else start)
    start = _start_outside_math(text, start, best_start if best_count > 0 else 0, math)
    end = start + cut_index(text[start:], max_chars)
    return start, _end_outside_math(text, start, end, max_chars // 5, math)


def _start_outside_math(
    text: str, start: int, first_match: int, math: list[tuple[int, int]]
) -> int:
    """`start`, or the bound of the formula it falls inside: after the formula when that
    is only context before the first match, else the formula's beginning."""
    for formula_start, formula_end in math:
        if formula_start < start < formula_end:
            if formula_end > first_match:
                return formula_start
            while formula_end < len(text) and text[formula_end] == " ":
                formula_end += 1
            return formula_end
    return start


def _end_outside_math(
    text: str, start: int, end: int, slack: int, math: list[tuple[int, int]]
) -> int:
    """`end`, or the bound of the formula it falls inside: the formula's end when that is
    at most `slack` further (or the window holds nothing before the formula), else just
    before the formula."""
    for formula_start, formula_end in math:
        if formula_start < end < formula_end:
            if formula_end - end <= slack or formula_start <= start:
                return formula_end
            before = text[start:formula_start].rstrip()
            return start + len(before) if before else formula_end
    return end


def highlight(
    text: str, terms: Collection[str], analyze: Analyze, max_chars: int | None = None
) -> str:
    """`text` as HTML with the words matching `terms` marked (see Highlighter.html)."""
    return Highlighter(terms, analyze).html(text, max_chars)
