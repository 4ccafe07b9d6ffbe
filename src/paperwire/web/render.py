"""Rendering helpers: every HTML response goes through render() (user, CSRF token, filters)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from paperwire.bibliography.export import bibtex_entry, citation_key
from paperwire.bibliography.latex import latex_to_plain
from paperwire.bidi import isolated, shown_text, without_bidi_controls
from paperwire.graphemes import cut_index
from paperwire.latex import math_spans
from paperwire.models import Paper, web_link
from paperwire.names import readable_name


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render template `name` with the signed-in user and a CSRF token for its forms."""
    state = request.app.state
    auth = state.auth
    nonce = getattr(request.state, "csrf_nonce", None)
    user = None
    try:
        user = auth.current_user(request)
    except Exception:  # an error page must render even if the database is down
        user = None
    full = {
        "user": user,
        "csrf_token": auth.csrf_token(nonce) if nonce else "",
        "path": request.url.path,
        "full_path": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    }
    response: HTMLResponse = state.templates.TemplateResponse(
        request, name, full, status_code=status_code
    )
    return response


def title_text(text: str) -> str:
    """A paper title for the page's <title> (the ``plain`` filter), where no KaTeX runs
    and no markup can isolate it: math flattened too, and isolated by FSI…PDI."""
    return isolated(latex_to_plain(text))


def author_line(paper: Paper, limit: int = 6) -> Markup:
    """The first `limit` author names, each in <bdi> (a right-to-left name keeps the
    commas beside it in place), and how many more."""
    names = [Markup("<bdi>%s</bdi>") % readable_name(a.name) for a in paper.authors[:limit]]
    more = f" + {len(paper.authors) - limit} more" if len(paper.authors) > limit else ""
    return Markup(", ").join(names) + more


def preview(text: str, chars: int = 420) -> str:
    """The first ~`chars` characters of an abstract, cut at a word boundary outside any
    formula (a cut formula leaves one $ unpaired, and KaTeX pairs the wrong ones)."""
    if len(text) <= chars:
        return text
    cut = text[: cut_index(text, chars)]
    for formula in math_spans(text):
        if formula.start() < len(cut) < formula.end():
            cut = text[: formula.start()].rstrip() or text[: formula.end()]
            break
    return cut + " …"


def human_date(value: date | None) -> str:
    return value.strftime("%b %-d, %Y") if value else ""


def bibtex(paper: Paper) -> str:
    """The paper's BibTeX entry (LaTeX specials and accents escaped; arXiv eprint fields)."""
    return bibtex_entry(paper, citation_key(paper)).rstrip()


def link_href(url: str | None) -> str:
    """`url` if it is an http(s) address with a host, else "": a row stored before the
    sources checked links (a ``javascript:`` GitHub link) renders no link."""
    return web_link(url) or ""


def doi_url(doi: str) -> str:
    """The doi.org address of `doi`, percent-encoded: a DOI holding ``#``, ``?``, ``%``,
    spaces or quotes still names its own DOI page."""
    return "https://doi.org/" + quote(doi, safe="/:;()")


_NEXT_DOI = re.compile(r"[\s,;]+(?=10\.)")


def dois(field: str) -> list[str]:
    """The DOIs of a paper's DOI field: arXiv lists a paper's several DOIs in one field,
    space-separated (``10.1103/a 10.1103/b``), each its own doi.org page (a space not
    before ``10.`` stays inside its DOI, percent-encoded by doi_url)."""
    return [doi.rstrip(",;") for doi in _NEXT_DOI.split(field.strip()) if doi.rstrip(",;")]


def with_query(path: str, **params: Any) -> str:
    """`path` with the non-empty `params` as its query string."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(clean)}" if clean else path


def template_filters() -> dict[str, Callable[..., Any]]:
    return {
        "author_line": author_line,
        "latex": shown_text,  # templates isolate it: dir="auto", <bdi>
        "plain": title_text,
        "author_name": readable_name,  # what a follow button shows and sends
        "no_bidi": without_bidi_controls,  # paper text shown without LaTeX rendering
        "preview": preview,
        "human_date": human_date,
        "bibtex": bibtex,
        "link_href": link_href,
        "doi_url": doi_url,
        "dois": dois,
    }
