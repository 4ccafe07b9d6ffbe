"""Paper- and reader-supplied text kept from reordering the text around it (pure).

Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) change the order
text is shown in, past the end of the string that holds them: a title holding RLO
(U+202E) showed the author list and date after it backwards, and a stray PDI closes an
isolate early. A right-to-left name (Arabic, Hebrew) draws the separators beside it into
its own run, so "A, مريم, B" reads in the wrong order.

So what paperwire shows has those controls removed (:func:`without_bidi_controls`), and
each piece is isolated from its neighbours: by markup in HTML (``dir="auto"``,
``<bdi>``), by FSI…PDI around it in plain text (:func:`isolated`: mail, the CLI, a page's
``<title>``). Exports (BibTeX, CSL-JSON) and the API keep the text as stored."""

from __future__ import annotations

import re

import regex

from paperwire.latex import latex_to_text

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate, pop directional isolate
# characters that can reorder text next to them: right-to-left letters, Arabic digits
_RIGHT_TO_LEFT = regex.compile(r"[\p{Bidi_Class=R}\p{Bidi_Class=AL}\p{Bidi_Class=AN}]")


def without_bidi_controls(text: str) -> str:
    """`text` less its bidi embeddings, overrides and isolates (marks such as LRM stay:
    they act only inside the text's own isolate)."""
    return text if text.isascii() else BIDI_CONTROLS.sub("", text)


def isolated(text: str) -> str:
    """`text` for plain-text output: without bidi controls, and inside FSI…PDI when it
    holds right-to-left characters (left-to-right text cannot reorder its neighbours, so
    most text comes back as it was, with nothing invisible added to copy and paste)."""
    if text.isascii():
        return text
    text = without_bidi_controls(text)
    return f"{FSI}{text}{PDI}" if _RIGHT_TO_LEFT.search(text) else text


def shown_text(text: str) -> str:
    """Paper-supplied LaTeX-ish text as pages and mail show it: LaTeX as Unicode
    (:func:`paperwire.latex.latex_to_text`), bidi controls removed; isolating it is
    the caller's (markup, or :func:`isolated`)."""
    return without_bidi_controls(latex_to_text(text))
