""" "For you" wired into the site, on real arXiv records: the page (window picker, each card
explained, thumbs-down removes the paper for good), /api/v1/recommendations with a token,
the secret-URL feed (parsed with feedparser; another reader's or a rotated token is
refused), and the digest's "recommended for you" section for a subscriber whose address
has an account with a library, sent over real SMTP, never repeating a saved, dismissed or
already-mailed paper."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import feedparser
import httpx

from paperwire.service import Service
from tests.conftest import DAILY_FILE
from webkit import (
    Live,
    Mailbox,
    imported_settings,
    listed_paper,
    live_server,
    signed_in,
    write_subset,
)

CARD = re.compile(r'<article class="card"[^>]* data-paper="([^"]+)"')


def reader(live: Live, email: str) -> tuple[httpx.Client, str, int]:
    return signed_in(live, email, "/library", timeout=60)


def _library_of(live: Live, user_id: int, topic: str, count: int) -> list[str]:
    """Save `count` stored papers whose title has `topic` (the reader's library)."""
    hits = live.service.search(topic, mode="lexical", per_page=count)
    ids = [h.paper.arxiv_id for h in hits.hits]
    assert len(ids) == count
    live.service.add_to_collection(user_id, "Saved", ids)
    return ids


def test_for_you_page_explains_each_card_and_thumbs_down_removes_it(
    site: tuple[Live, Mailbox],
) -> None:
    live, _ = site
    client, csrf, user_id = reader(live, "page@example.org")
    saved = _library_of(live, user_id, "language model", 3)
    page = client.get("/for-you", params={"days": 30})
    assert page.status_code == 200
    shown = CARD.findall(page.text)
    assert shown and not set(saved) & set(shown)
    assert page.text.count('<p class="why muted small">Why: ') == len(shown)
    assert 'href="/for-you?days=7"' in page.text and 'aria-current="true">30 days' in page.text
    assert client.get("/for-you", params={"days": 5}).status_code == 400
    victim = shown[0]
    done = client.post(
        "/library/act",
        data={"arxiv_id": victim, "do": "dismiss", "next": "/for-you", "csrf_token": csrf},
        headers={"accept": "application/json"},
    )
    assert done.status_code == 200 and done.json()["rating"] == -1
    after = CARD.findall(client.get("/for-you", params={"days": 30}).text)
    assert victim not in after
    anonymous = httpx.get(f"{live.url}/for-you", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]


def test_recommendations_api_and_secret_feed(site: tuple[Live, Mailbox]) -> None:
    live, _ = site
    client, csrf, user_id = reader(live, "api@example.org")
    saved = _library_of(live, user_id, "diffusion", 2)
    _, secret = live.service.library.create_token(user_id, "t")
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
    body = api.get("/api/v1/recommendations", params={"days": 90, "limit": 10}).json()
    latest = live.service.latest_day()
    assert latest is not None and body["until"] == latest.isoformat()
    assert body["since"] == (latest - timedelta(days=89)).isoformat()
    items = body["items"]
    assert 0 < len(items) <= 10 and all(i["reasons"] for i in items)
    assert not {i["arxiv_id"] for i in items} & set(saved)
    assert api.get("/api/v1/recommendations", params={"days": 3}).status_code == 400
    assert httpx.get(f"{live.url}/api/v1/recommendations").status_code == 401
    # the feed at the secret URL shown on the page
    page = client.get("/for-you").text
    url = re.search(r'href="([^"]+/feeds/for-you\.atom\?token=[^"]+)"', page)
    assert url
    feed_url = url.group(1).replace("&amp;", "&")
    parsed = feedparser.parse(httpx.get(feed_url).content)
    assert not parsed.bozo and parsed.feed.title == "paperwire · recommended for you"
    assert parsed.entries and not {e.link.rsplit("/", 1)[-1] for e in parsed.entries} & set(saved)
    token = feed_url.split("token=")[1]
    _, _, other_id = reader(live, "other@example.org")
    forged = f"{other_id}.{token.split('.')[1]}"
    assert httpx.get(f"{live.url}/feeds/for-you.atom", params={"token": forged}).status_code == 404
    collection_token = live.service.feed_tokens.token(user_id, "collection:1")
    assert (
        httpx.get(f"{live.url}/feeds/for-you.rss", params={"token": collection_token}).status_code
        == 404
    )
    client.post("/library/feeds/rotate", data={"csrf_token": csrf})
    assert httpx.get(feed_url).status_code == 404


def test_digest_recommends_for_a_subscriber_with_a_library(site: tuple[Live, Mailbox]) -> None:
    live, box = site
    service = live.service
    email = "digest@example.org"
    user = service.accounts.get_or_create_user(email)
    saved = _library_of(live, user.id, "neural network", 3)
    latest = service.latest_day()
    assert latest is not None
    first = service.recommend_for_digest(email, latest, latest, set(), 10)
    assert first and not {i for i, _ in first} & set(saved)
    dismissed = first[0][0]
    service.library.rate(user.id, dismissed, "down")
    service.digest.add_subscriber(email, {"categories": ["cs.LG"], "max_papers": 10})
    service.digest.add_subscriber("nolibrary@example.org", {"categories": ["cs.LG"]})
    _, sent = service.digest.run(day=latest)
    assert sent.sent == 2
    body = box.wait_for(email).get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Recommended for you" in text and "  Why: " in text
    for arxiv_id in [*saved, dismissed]:
        assert f"/papers/{arxiv_id}\n" not in text
    other = box.wait_for("nolibrary@example.org").get_body(("plain",))
    assert other is not None and "Recommended for you" not in other.get_content()
    # what was mailed is never recommended again
    mailed = set(re.findall(r"/papers/([0-9.]+)\n", text))
    again = service.recommend_for_digest(email, latest, latest, mailed, 10)
    assert not {i for i, _ in again} & (mailed | set(saved) | {dismissed})


def test_a_library_holding_the_whole_corpus_gets_nothing_everywhere(tmp_path: Path) -> None:
    """QA: with every paper of the recommender's corpus in the library the background
    sample is empty and the classifier failed ("needs samples of at least 2 classes"):
    500 on the page, the API and the feed; the digest path crashed too."""
    snapshot = write_subset(DAILY_FILE, tmp_path / "small.jsonl", 30)
    with live_server(imported_settings(tmp_path / "data", snapshot)) as live:
        client, _, user_id = reader(live, "all@example.org")
        ids = [p.arxiv_id for batch in live.service.store.iter_papers() for p in batch]
        assert len(ids) == 30
        report = live.service.import_library(user_id, "Mine", "\n".join(ids).encode(), "all.txt")
        assert report.added.added == 30
        assert live.service.recommended(user_id, 30, 10).items == []
        latest = live.service.latest_day()
        assert latest is not None
        start = latest - timedelta(days=29)
        assert live.service.recommend_for_digest("all@example.org", start, latest, set(), 5) == []
        page = client.get("/for-you", params={"days": 30})
        assert page.status_code == 200 and "Nothing to recommend yet" in page.text
        assert "Try a longer window" in page.text
        _, secret = live.service.library.create_token(user_id, "t")
        api = httpx.get(
            f"{live.url}/api/v1/recommendations",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        assert api.status_code == 200 and api.json()["items"] == []
        feed = re.search(r'href="([^"]+/feeds/for-you\.rss\?token=[^"]+)"', page.text)
        assert feed
        answer = httpx.get(feed.group(1).replace("&amp;", "&"), timeout=60)
        assert answer.status_code == 200 and not feedparser.parse(answer.content).entries


def test_reasons_show_a_latex_title_as_its_characters(tmp_path: Path) -> None:
    """QA: "close to '\\textsc{DiARC}: …' in your Saved" on the page and in the API."""
    snapshot = write_subset(DAILY_FILE, tmp_path / "small.jsonl", 30)
    with Service(imported_settings(tmp_path / "data", snapshot)) as service:
        latest = service.latest_day()
    assert latest is not None
    topic = "diffusion planners for robot arms with tactile feedback"
    saved = listed_paper(1, rf"\textsc{{DiARC}}: {topic}", ["Ann Lee"], latest)
    near = listed_paper(2, f"Revisiting {topic}", ["Bob Stone"], latest)
    settings = imported_settings(tmp_path / "data", snapshot, [saved, near])
    with live_server(settings) as live:
        client, _, user_id = reader(live, "latex@example.org")
        live.service.add_to_collection(user_id, "Saved", [saved.arxiv_id])
        _, secret = live.service.library.create_token(user_id, "t")
        body = httpx.get(
            f"{live.url}/api/v1/recommendations",
            params={"days": 7},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        ).json()
        reasons = {i["arxiv_id"]: i["reasons"] for i in body["items"]}
        assert f"close to 'DiARC: {topic}' in your Saved" in reasons[near.arxiv_id]
        page = client.get("/for-you", params={"days": 7}).text
        assert "close to &#39;DiARC: diffusion planners" in page and "textsc" not in page


def test_for_you_with_an_empty_library_says_what_it_shows(site: tuple[Live, Mailbox]) -> None:
    """With nothing saved the page showed trending picks under "ranked for you from what
    you saved, imported, liked and upvoted"."""
    live, _ = site
    client, _, _ = reader(live, "nothing-yet@example.org")
    page = client.get("/for-you", params={"days": 30}).text
    assert "ranked for you from what you saved" not in page
    assert "the most trending of them while your library is empty" in page
