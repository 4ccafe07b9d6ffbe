"""How a digest looks: plain text and HTML with inline CSS (mail clients drop <style>)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from paperwire.bidi import isolated, shown_text
from paperwire.graphemes import shorten
from paperwire.latex import latex_to_text
from paperwire.models import Digest, DigestSection, Paper
from paperwire.names import readable_name

ABSTRACT_CHARS = 280
FONT = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif"


@dataclass(frozen=True, slots=True)
class Links:
    """Where an email's links point. `cache` (optional, shared across one run's emails)
    keeps each paper's rendered block: the same paper looks the same in every email."""

    base_url: str
    manage: str
    unsubscribe: str
    cache: dict[tuple[str, str], str] | None = field(default=None, compare=False)
    # (arxiv_id, action) -> this subscriber's signed link doing like | dismiss | save
    paper_action: Callable[[str, str], str] | None = field(default=None, compare=False)

    def paper(self, arxiv_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/papers/{arxiv_id}"


# the site's button labels (web/templates/macros.html library_bar), as the README names them
ACTION_LABELS = (("like", "Like"), ("dismiss", "Not interested"), ("save", "Save"))


def _actions_text(paper: Paper, links: Links) -> str:
    """Per-subscriber lines under a (shared, cached) paper block; none without links."""
    if links.paper_action is None:
        return ""
    return "".join(
        f"  [{label}] {links.paper_action(paper.arxiv_id, action)}\n"
        for action, label in ACTION_LABELS
    )


def _actions_html(paper: Paper, links: Links) -> str:
    if links.paper_action is None:
        return ""
    anchors = " · ".join(
        f'<a href="{escape(links.paper_action(paper.arxiv_id, action))}">{label}</a>'
        for action, label in ACTION_LABELS
    )
    return f'<div style="font-size:12px;margin-top:4px">{anchors}</div>'


def _with_actions_html(block: str, paper: Paper, links: Links) -> str:
    actions = _actions_html(paper, links)
    end = "</td></tr>"
    return block[: -len(end)] + actions + end if actions and block.endswith(end) else block


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def subject_for(digest: Digest) -> str:
    count = len(digest.paper_ids)
    noun = "paper" if count == 1 else "papers"
    if digest.period.startswith("weekly:"):
        return f"paperwire weekly digest to {digest.end.isoformat()}: {count} {noun}"
    return f"paperwire daily digest {digest.end.isoformat()}: {count} {noun}"


def _short(text: str, limit: int = ABSTRACT_CHARS) -> str:
    return shorten(" ".join(text.split()), limit)


def _authors(paper: Paper, isolate: Callable[[str], str], limit: int = 4) -> str:
    """The first `limit` names, each isolated by `isolate` (a right-to-left name keeps
    the commas beside it in place), and how many more."""
    names = [isolate(readable_name(a.name)) for a in paper.authors[:limit]]
    more = f" and {len(paper.authors) - limit} more" if len(paper.authors) > limit else ""
    return ", ".join(names) + more


def _bdi(text: str) -> str:
    return f"<bdi>{escape(text)}</bdi>"


def render_text(digest: Digest, links: Links) -> str:
    lines = [subject_for(digest), ""]
    for section in digest.sections:
        lines += [section.reason[0].upper() + section.reason[1:], "-" * 60]
        lines += [
            _cached(links, "text", paper, _paper_text)
            + _note_text(section, paper)
            + _actions_text(paper, links)
            for paper in section.papers
        ]
    lines += [
        "--",
        f"Change what you receive: {links.manage}",
        f"Unsubscribe: {links.unsubscribe}",
    ]
    return "\n".join(lines) + "\n"


def _cached(links: Links, kind: str, paper: Paper, make: Callable[[Paper, Links], str]) -> str:
    if links.cache is None:
        return make(paper, links)
    key = (kind, paper.arxiv_id)
    block = links.cache.get(key)
    if block is None:
        block = links.cache[key] = make(paper, links)
    return block


def _paper_text(paper: Paper, links: Links) -> str:
    return (
        f"* {isolated(latex_to_text(paper.title))}\n  {_authors(paper, isolated)}\n"
        f"  {isolated(_short(latex_to_text(paper.abstract)))}\n"
        f"  {links.paper(paper.arxiv_id)}\n"
    )


def _paper_html(paper: Paper, links: Links) -> str:
    url = escape(links.paper(paper.arxiv_id), quote=True)
    cats = escape(", ".join(paper.categories[:3]))
    return (
        '<tr><td style="padding:10px 0;border-bottom:1px solid #eeeeee">'
        f'<a href="{url}" dir="auto" style="color:#1a0dab;font-size:16px;font-weight:600;'
        f'text-decoration:none">{escape(shown_text(paper.title))}</a>'
        f'<div style="color:#555555;font-size:13px;margin:2px 0">{_authors(paper, _bdi)}'
        f" · {cats}</div>"
        f'<div dir="auto" style="color:#222222;font-size:14px;line-height:1.4">'
        f"{escape(_short(shown_text(paper.abstract)))}</div></td></tr>"
    )


def _note_text(section: DigestSection, paper: Paper) -> str:
    note = section.notes.get(paper.arxiv_id)
    return f"  Why: {note}\n" if note else ""


def _note_html(section: DigestSection, paper: Paper, block: str) -> str:
    """The paper's block with its own reason (recommendations) under the abstract."""
    note = section.notes.get(paper.arxiv_id)
    if not note:
        return block
    why = f'<div style="color:#555555;font-size:13px;margin-top:4px">Why: {escape(note)}</div>'
    end = "</td></tr>"
    return block[: -len(end)] + why + end if block.endswith(end) else block


def render_html(digest: Digest, links: Links) -> str:
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="margin:0;padding:0;background:#f6f6f6">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="background:#f6f6f6;{FONT}"><tr><td align="center">',
        # 600 px at most, a phone's width on a phone; long words (a URL, a 200-character
        # title word) break rather than widen it
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:600px;background:#ffffff;padding:16px;'
        'overflow-wrap:anywhere;word-break:break-word">',
        f'<tr><td><h1 style="font-size:20px;margin:0 0 8px 0;color:#111111">'
        f"{escape(subject_for(digest))}</h1></td></tr>",
    ]
    for section in digest.sections:
        reason = section.reason[0].upper() + section.reason[1:]
        parts.append(
            '<tr><td><h2 style="font-size:15px;color:#b8400b;margin:18px 0 4px 0">'
            f"{escape(reason)}</h2></td></tr>"
        )
        parts += [
            _with_actions_html(
                _note_html(section, p, _cached(links, "html", p, _paper_html)), p, links
            )
            for p in section.papers
        ]
    parts.append(
        '<tr><td style="padding-top:18px;font-size:12px;color:#777777">'
        f'<a href="{escape(links.manage, quote=True)}" style="color:#777777">'
        "Change what you receive</a> · "
        f'<a href="{escape(links.unsubscribe, quote=True)}" style="color:#777777">'
        "Unsubscribe</a></td></tr></table></td></tr></table></body></html>"
    )
    return "".join(parts)


def render_digest(digest: Digest, links: Links) -> Rendered:
    return Rendered(subject_for(digest), render_text(digest, links), render_html(digest, links))


def render_confirmation(confirm_url: str, manage_url: str | None) -> Rendered:
    """The double opt-in email; for an address that is already active, a reminder with
    its manage link instead (the web response is the same either way)."""
    if manage_url:
        text = (
            "Someone (hopefully you) asked to subscribe this address to paperwire digests.\n"
            f"It is already subscribed. Change what you receive: {manage_url}\n"
        )
        link, label = manage_url, "Manage your subscription"
        subject = "Your paperwire digest subscription"
    else:
        text = (
            "To get paperwire digests at this address, open this link and press "
            '"Confirm subscription" (valid for 7 days):\n'
            f"{confirm_url}\n\nIf you did not ask for this, ignore this email: nothing "
            "is sent until you confirm.\n"
        )
        link, label = confirm_url, "Confirm subscription"
        subject = "Confirm your paperwire digest subscription"
    html = (
        f'<!DOCTYPE html><html><body style="{FONT};padding:16px">'
        f"<p>{escape(text.splitlines()[0])}</p>"
        f'<p><a href="{escape(link, quote=True)}" style="background:#b8400b;color:#ffffff;'
        f'padding:10px 16px;text-decoration:none;border-radius:4px">{label}</a></p>'
        "</body></html>"
    )
    return Rendered(subject, text, html)
