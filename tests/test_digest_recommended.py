"""The digest's "recommended for you" section, composed and rendered (pure): placed after
searches and followed authors, each paper with its own reason (escaped in HTML), never a
paper already sent or already claimed by an earlier section, within max_papers."""

from __future__ import annotations

from paperwire.digest.compose import compose_digest
from paperwire.digest.render import Links, render_digest
from test_digest_compose import PAPERS, PERIOD, pool, sub

RECOMMENDED = [
    ("2607.00004", "close to 'Vision <b>models</b>' in your Saved"),
    ("2607.00002", "by followed author Bo Li"),
    ("2607.00005", "you liked 3 papers on 'graphs'"),
    ("2607.00001", "close to 'Robots' in your Saved"),
]


def test_recommended_section_explains_each_paper_and_repeats_nothing() -> None:
    s = sub(followed_authors=["Bo Li"], categories=["cs.LG"], max_papers=10)
    sent = {"2607.00005"}
    digest = compose_digest(s, PERIOD, pool(), sent, RECOMMENDED)
    sections = [(sec.kind, [p.arxiv_id for p in sec.papers]) for sec in digest.sections]
    assert sections == [
        ("author", ["2607.00002", "2607.00004"]),
        ("recommended", ["2607.00001"]),  # 4 and 2 went to the author section, 5 was sent
        ("trending", ["2607.00003"]),
    ]
    recommended = digest.sections[1]
    assert recommended.reason == "recommended for you"
    assert recommended.notes == {"2607.00001": "close to 'Robots' in your Saved"}
    assert len(digest.paper_ids) == len(set(digest.paper_ids))
    assert not sent & set(digest.paper_ids)


def test_recommended_reasons_rendered_in_text_and_escaped_in_html() -> None:
    digest = compose_digest(sub(max_papers=2), PERIOD, pool(), set(), RECOMMENDED)
    assert [p.arxiv_id for p in digest.sections[0].papers] == ["2607.00004"]
    assert digest.paper_ids == ["2607.00004", "2607.00005"]  # one recommended, one trending
    out = render_digest(digest, Links("http://127.0.0.1:9", "http://m/manage", "http://m/u"))
    assert "Recommended for you" in out.text
    assert "  Why: close to 'Vision <b>models</b>' in your Saved\n" in out.text
    assert "Why: close to &#x27;Vision &lt;b&gt;models&lt;/b&gt;&#x27; in your Saved" in out.html
    assert "<b>models" not in out.html
    assert out.html.count("Why:") == 1  # trending papers carry no per-paper reason
    assert {p.arxiv_id for p in PAPERS} >= set(digest.paper_ids)


def test_no_recommendations_no_section() -> None:
    digest = compose_digest(sub(max_papers=3), PERIOD, pool(), set(), [])
    assert [sec.kind for sec in digest.sections] == ["trending"]
