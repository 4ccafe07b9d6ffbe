"""Highlighted snippets (pure): HTML-escaped text with matching words wrapped in <mark>.

Words are compared after the same analysis the index uses (e.g. stemming), so
"agents" in the text lights up for the query word "agent".
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection
from functools import lru_cache

Analyze = Callable[[str], list[str]]

_WORD = re.compile(r"[^\W_]+")  # alphanumeric runs, like tantivy's simple tokenizer
ELLIPSIS = "…"
MANY_HEADS = 24


@lru_cache(maxsize=256)
def _candidate_pattern(heads: frozenset[str]) -> re.Pattern[str]:
    """Whole words starting with one of `heads` (case-insensitive)."""
    alternatives = "|".join(re.escape(h) for h in sorted(heads, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*", re.IGNORECASE)


def _candidates(text: str, heads: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of the words of `text` that start with one of `heads` (lowercase)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # rare case-mappings that change length
        return [m.span() for m in _candidate_pattern(heads).finditer(text)]
    if len(heads) > MANY_HEADS:  # one pass over all words beats many find() scans
        return [
            m.span()
            for m in _WORD.finditer(lowered)
            if m.group()[:2] in heads or m.group()[:1] in heads
        ]
    spans = []
    for head in heads:
        at = lowered.find(head)
        while at >= 0:
            if at == 0 or not (lowered[at - 1].isalnum()):
                end = _WORD.match(lowered, at)
                if end is not None:
                    spans.append(end.span())
            at = lowered.find(head, at + 1)
    return sorted(set(spans))


def _matches(text: str, terms: Collection[str], analyze: Analyze) -> list[tuple[int, int]]:
    """(start, end) character spans of words whose analysed form is in `terms`.

    Only words sharing their first two characters with some term are analysed (stemming
    keeps a word's head), which keeps this fast on long abstracts."""
    out = []
    for start, end in _candidates(text, frozenset(t[:2] for t in terms if t)):
        if any(stem in terms for stem in analyze(text[start:end])):
            out.append((start, end))
    return out


def _window(text: str, spans: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    """The max_chars-long stretch of `text` holding the most matches, on word bounds."""
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
        start = space + 1 if 0 <= space < best_start else start
    end = min(len(text), start + max_chars)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return start, end


def highlight(
    text: str, terms: Collection[str], analyze: Analyze, max_chars: int | None = None
) -> str:
    """`text` as HTML: everything escaped, matching words in <mark>…</mark>.

    With `max_chars`, only the best window of about that many characters is kept and
    cut ends are marked with an ellipsis.
    """
    spans = _matches(text, terms, analyze) if terms else []
    start, end = (0, len(text)) if max_chars is None else _window(text, spans, max_chars)
    parts: list[str] = [ELLIPSIS] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_start < start or span_end > end:
            continue
        parts.append(html.escape(text[cursor:span_start]))
        parts.append(f"<mark>{html.escape(text[span_start:span_end])}</mark>")
        cursor = span_end
    parts.append(html.escape(text[cursor:end]))
    if end < len(text):
        parts.append(ELLIPSIS)
    return "".join(parts)
