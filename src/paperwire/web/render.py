"""Rendering helpers: every HTML response goes through render() (user, CSRF token, filters)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import HTMLResponse

from paperwire.latex import latex_to_text
from paperwire.models import Paper


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


def author_line(paper: Paper, limit: int = 6) -> str:
    names = [latex_to_text(a.name) for a in paper.authors]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" + {len(names) - limit} more"
    return ", ".join(names)


def preview(text: str, chars: int = 420) -> str:
    """The first ~`chars` characters of an abstract, cut at a word boundary."""
    if len(text) <= chars:
        return text
    cut = text[:chars].rsplit(" ", 1)[0]
    return cut + " …"


def human_date(value: date | None) -> str:
    return value.strftime("%b %-d, %Y") if value else ""


def bibtex(paper: Paper) -> str:
    """A BibTeX @misc entry in arXiv's own style."""
    year = (paper.submitted or paper.listing_date or paper.hf_date or date.today()).year
    first = paper.authors[0].name.split()[-1] if paper.authors else "anon"
    key = "".join(ch for ch in first.lower() if ch.isalnum()) + str(year)
    key += "".join(w[0] for w in paper.title.lower().split()[:3] if w[:1].isalnum())
    lines = [
        f"@misc{{{key},",
        f"  title = {{{paper.title}}},",
        f"  author = {{{' and '.join(a.name for a in paper.authors)}}},",
        f"  year = {{{year}}},",
        f"  eprint = {{{paper.arxiv_id}}},",
        "  archivePrefix = {arXiv},",
    ]
    if paper.primary_category:
        lines.append(f"  primaryClass = {{{paper.primary_category}}},")
    lines.append(f"  url = {{{paper.abs_url}}}")
    lines.append("}")
    return "\n".join(lines)


def with_query(path: str, **params: Any) -> str:
    """`path` with the non-empty `params` as its query string."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(clean)}" if clean else path


def template_filters() -> dict[str, Callable[..., Any]]:
    return {
        "author_line": author_line,
        "latex": latex_to_text,
        "preview": preview,
        "human_date": human_date,
        "bibtex": bibtex,
    }
