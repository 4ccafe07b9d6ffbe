"""The reader's library through a real running server, on SQLite and PostgreSQL: the save /
thumbs / follow buttons as plain form posts and as fetch (JSON) calls, collection pages,
the followed-authors page, API tokens and /api/v1, one reader against another's ids, CSRF
on every new form, and the signed per-paper links of a digest sent over real SMTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from paperwire.config import Settings
from paperwire.digest.render import ACTION_LABELS
from paperwire.digest.tokens import TokenError, check_paper_action
from paperwire.models import Paper
from paperwire.service import Service
from webkit import Live, Mailbox, hostile_paper, listed_paper, live_server, signed_in, smtp_server

DAY = date(2025, 6, 2)
JSON = {"accept": "application/json"}


def _paper(n: int, title: str, authors: list[str], day: date = DAY) -> Paper:
    return listed_paper(n, title, authors, day, f"We study {title.lower()} in depth.")


PAPERS = [
    _paper(1, "Diffusion policies for robots", ["José García", "Ann Lee"]),
    _paper(2, "Language models and logic", ["Bob Stone"]),
    _paper(3, "Vision transformers at scale", ["Jose  GARCIA", "Carl Diaz"], DAY - timedelta(1)),
    _paper(4, "Quantum sorting networks", ["J. Garcia"]),
    hostile_paper("2506.00005", DAY),
]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def live(settings: Settings, mailbox: Mailbox) -> Iterator[Live]:
    with Service(settings) as service:
        service.store.upsert_papers(PAPERS)
        service.rebuild_index()  # the followed-authors page and search read the index
    with live_server(settings, smtp_host=mailbox.host, smtp_port=mailbox.port) as running:
        yield running


def reader(live: Live, email: str) -> tuple[httpx.Client, str]:
    """A signed-in client (a real session cookie) and its CSRF token."""
    client, csrf, _ = signed_in(live, email)
    return client, csrf


def collection_id(client: httpx.Client, name: str) -> int:
    for item in client.get("/api/v1/collections").json():
        if item["name"] == name:
            return int(item["id"])
    raise AssertionError(f"no collection {name!r}")


def test_buttons_pages_and_hiding_as_forms_and_fetch(live: Live) -> None:
    client, token = reader(live, "ann@example.org")
    ids = [p.arxiv_id for p in PAPERS]
    form = {"csrf_token": token, "next": "/?date=2025-06-02"}
    # every list shows the buttons: save, thumbs, follow by each author name
    home = client.get("/?date=2025-06-02").text
    assert home.count('action="/library/act"') == 4 and 'name="follow" value="José García"' in home
    search = client.get("/search", params={"q": "robots"}).text
    assert 'value="save"' in search and 'name="follow" value="Ann Lee"' in search
    assert 'value="save"' in client.get("/trending?window=month").text

    # without JavaScript: post and come back, to the card (not the top of the list)
    card = re.search(r'<article class="card" id="p-([^"]+)"', home)
    assert card, "cards carry an id to come back to"
    anchor = f"/?date=2025-06-02#p-{card.group(1)}"
    for action in ("/vote", "/library/act", "/follow"):
        at = home.index(f'action="{action}"', home.index(card.group(0)))
        assert f'name="next" value="{anchor}"' in home[at : at + 400], action
    saved = client.post(
        "/library/act", data={**form, "next": anchor, "arxiv_id": ids[0], "do": "save"}
    )
    assert saved.status_code == 303 and saved.headers["location"] == anchor
    assert 'value="unsave"' in client.get(f"/papers/{ids[0]}").text
    # with fetch: the same form answers JSON
    made = client.post(
        "/library/act",
        data={**form, "arxiv_id": ids[1] + "v2", "do": "save", "new_collection": "Reading group"},
        headers=JSON,
    ).json()
    assert made["saved"] is True and made["collection"]["name"] == "Reading group"
    group = made["collection"]["id"]
    client.post(
        "/library/act",
        data={**form, "arxiv_id": ids[2], "do": "save", "collection_id": str(group)},
    )
    client.post(
        "/library/act", data={**form, "arxiv_id": ids[4], "do": "save", "collection_id": str(group)}
    )

    library = client.get("/library").text
    assert "Saved</a>" in library and "Reading group</a>" in library and "3 papers" in library
    page = client.get(f"/library/{group}?sort=title").text
    # by title ("<script>…" sorts first); the hostile title stays escaped
    order = [page.index(t) for t in ("Tom &amp; Jerry", "Language models", "Vision transformers")]
    assert order == sorted(order)
    assert "<script>alert" not in page
    by_date = client.get(f"/library/{group}?sort=date").text
    assert by_date.index("Vision transformers") > by_date.index("Language models")
    assert client.get(f"/library/{group}?sort=bogus").status_code == 400

    note = client.post(
        f"/library/{group}/note",
        data={"csrf_token": token, "arxiv_id": ids[1], "note": "discuss <b>§2</b>"},
    )
    assert note.status_code == 303
    assert "discuss &lt;b&gt;§2&lt;/b&gt;</textarea>" in client.get(f"/library/{group}").text

    # thumbs down: gone from this reader's lists (not from others'), back after undo
    down = client.post(
        "/library/act", data={**form, "arxiv_id": ids[3], "do": "dismiss"}, headers=JSON
    )
    assert down.json()["rating"] == -1
    home = client.get("/?date=2025-06-02").text
    assert "Quantum sorting" not in home and "you marked “not interested”" in home
    assert "Quantum sorting" not in client.get("/search", params={"q": "quantum sorting"}).text
    assert "Quantum sorting" in httpx.get(f"{live.url}/?date=2025-06-02").text
    assert 'value="undismiss"' in client.get(f"/papers/{ids[3]}").text  # its own page stays
    client.post("/library/act", data={**form, "arxiv_id": ids[3], "do": "undismiss"})
    assert "Quantum sorting" in client.get("/?date=2025-06-02").text
    liked = client.post(
        "/library/act", data={**form, "arxiv_id": ids[2], "do": "like"}, headers=JSON
    )
    assert liked.json()["rating"] == 1

    # rename, remove an item, delete the collection
    client.post(f"/library/{group}/rename", data={"csrf_token": token, "name": "Journal club"})
    client.post(f"/library/{group}/remove", data={"csrf_token": token, "arxiv_id": ids[4]})
    page = client.get(f"/library/{group}").text
    assert "<h1>Journal club</h1>" in page and "Tom &amp; Jerry" not in page
    clash = client.post("/library/new", data={"csrf_token": token, "name": "journal CLUB"})
    assert clash.status_code == 400 and "already have" in clash.text
    gone = client.post(f"/library/{group}/delete", data={"csrf_token": token})
    assert gone.status_code == 303 and client.get(f"/library/{group}").status_code == 404
    signals = live.service.reader_signals(
        live.service.accounts.get_or_create_user("ann@example.org").id
    )
    assert {(i.arxiv_id, i.source) for i in signals.positives} == {
        (ids[0], "Saved"),
        (ids[2], "liked"),
    }
    client.close()


def test_follow_authors_and_the_followed_papers_page(live: Live, mailbox: Mailbox) -> None:
    client, token = reader(live, "fan@example.org")
    done = client.post(
        "/follow", data={"csrf_token": token, "follow": "José García", "next": "/following"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/following"
    page = client.get("/following").text
    assert "exactly the name you follow" in page
    section = page.split('<section class="followed"', 1)[1]
    assert "Diffusion policies" in section and "Vision transformers" in section  # accents, case
    assert "Quantum sorting" not in page  # "J. Garcia" is another spelling: not matched
    assert 'name="unfollow" value="José García"' in client.get(f"/papers/{PAPERS[0].arxiv_id}").text
    api = client.get("/api/v1/follows/papers", params={"days": 7}).json()
    assert [p["arxiv_id"] for p in api[0]["papers"]] == ["2506.00001", "2506.00003"]
    # the digest's manage page shows and edits the same list
    sub = live.service.digest.add_subscriber("fan@example.org", {"followed_authors": "Bob Stone"})
    links = live.service.digest.links(sub)
    manage = client.get(links.manage).text
    assert "Bob Stone\nJosé García</textarea>" in manage
    assert client.get("/api/v1/follows").json() == ["José García", "Bob Stone"]
    json = client.post(
        "/follow", data={"csrf_token": token, "unfollow": "jose garcia"}, headers=JSON
    )
    assert json.json() == {"name": "jose garcia", "following": False}
    assert client.get("/api/v1/follows").json() == ["Bob Stone"]
    client.close()


def test_another_reader_cannot_read_or_change_a_collection(live: Live) -> None:
    ann, ann_token = reader(live, "ann@example.org")
    eve, eve_token = reader(live, "eve@example.org")
    made = ann.post("/library/new", data={"csrf_token": ann_token, "name": "Private <notes>"})
    group = int(made.headers["location"].rsplit("/", 1)[1])
    ann.post(
        "/library/act",
        data={
            "csrf_token": ann_token,
            "arxiv_id": "2506.00001",
            "do": "save",
            "collection_id": str(group),
        },
    )
    ann.post(
        f"/library/{group}/note",
        data={"csrf_token": ann_token, "arxiv_id": "2506.00001", "note": "secret"},
    )
    ann.post("/library/act", data={"csrf_token": ann_token, "arxiv_id": "2506.00002", "do": "save"})
    saved = collection_id(ann, "Saved")  # made by the first save into no named collection

    for cid in (group, saved, 999_999):
        assert eve.get(f"/library/{cid}").status_code == 404
        for path, data in (
            (f"/library/{cid}/rename", {"name": "mine"}),
            (f"/library/{cid}/delete", {}),
            (f"/library/{cid}/note", {"arxiv_id": "2506.00001", "note": "x"}),
            (f"/library/{cid}/remove", {"arxiv_id": "2506.00001"}),
            ("/library/act", {"arxiv_id": "2506.00002", "do": "save", "collection_id": str(cid)}),
        ):
            r = eve.post(path, data={**data, "csrf_token": eve_token})
            assert r.status_code == 404, (path, r.status_code)
        headers = {"x-csrf-token": eve_token}
        assert eve.get(f"/api/v1/collections/{cid}").status_code == 404
        assert (
            eve.patch(f"/api/v1/collections/{cid}", json={"name": "x"}, headers=headers).status_code
            == 404
        )
        assert eve.delete(f"/api/v1/collections/{cid}", headers=headers).status_code == 404
        assert (
            eve.put(f"/api/v1/collections/{cid}/items/2506.00002", headers=headers).status_code
            == 404
        )
        assert (
            eve.delete(f"/api/v1/collections/{cid}/items/2506.00001", headers=headers).status_code
            == 404
        )
        assert (
            eve.post(
                f"/api/v1/collections/{cid}/items",
                json={"arxiv_ids": ["2506.00002"]},
                headers=headers,
            ).status_code
            == 404
        )
    # and with an API token of her own
    page = eve.post("/account/tokens", data={"csrf_token": eve_token, "name": "script"}).text
    secret = re.search(r'<pre id="new-token" tabindex="0">(pw_[^<]+)</pre>', page)
    assert secret
    bearer = {"authorization": f"Bearer {secret.group(1)}"}
    assert httpx.get(f"{live.url}/api/v1/collections/{group}", headers=bearer).status_code == 404
    assert httpx.delete(f"{live.url}/api/v1/collections/{group}", headers=bearer).status_code == 404
    assert [
        c["name"] for c in httpx.get(f"{live.url}/api/v1/collections", headers=bearer).json()
    ] == ["Saved"]

    mine = ann.get(f"/api/v1/collections/{group}").json()
    assert mine["collection"]["name"] == "Private <notes>" and mine["items"][0]["note"] == "secret"
    assert "Private &lt;notes&gt;" in ann.get("/library").text
    # signed out: a sign-in page, or 401 from the API
    anon = httpx.Client(base_url=live.url)
    r = anon.get(f"/library/{group}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert anon.get(f"/api/v1/collections/{group}").status_code == 401
    ann.close(), eve.close(), anon.close()


def test_api_tokens_and_the_library_api(live: Live) -> None:
    client, token = reader(live, "api@example.org")
    page = client.post("/account/tokens", data={"csrf_token": token, "name": "laptop"})
    assert page.headers["cache-control"] == "no-store"
    secret = re.search(r">(pw_[A-Za-z0-9_-]+)</pre>", page.text)
    assert secret and "laptop" in page.text
    assert secret.group(1) not in client.get("/account").text  # shown once
    api = httpx.Client(base_url=live.url, headers={"authorization": f"Bearer {secret.group(1)}"})
    made = api.post("/api/v1/collections", json={"name": "To read"})
    assert made.status_code == 201
    cid = made.json()["id"]
    added = api.post(
        f"/api/v1/collections/{cid}/items",
        json={"arxiv_ids": ["2506.00002v1", "arXiv:2506.00004", "2999.00001"]},
    ).json()
    assert (added["added"], added["already"], added["missing"]) == (2, 0, ["2999.00001"])
    item = api.put(f"/api/v1/collections/{cid}/items/2506.00001", json={"note": "first"}).json()
    assert item["note"] == "first" and item["paper"]["title"].startswith("Diffusion")
    listed = api.get(f"/api/v1/collections/{cid}", params={"sort": "title"}).json()
    assert [i["arxiv_id"] for i in listed["items"]] == ["2506.00001", "2506.00002", "2506.00004"]
    second = api.get(
        f"/api/v1/collections/{cid}", params={"sort": "title", "per_page": 2, "page": 2}
    )
    assert [i["arxiv_id"] for i in second.json()["items"]] == ["2506.00004"]
    assert api.delete(f"/api/v1/collections/{cid}/items/2506.00004").status_code == 204
    assert api.delete(f"/api/v1/collections/{cid}/items/2506.00004").status_code == 404
    assert api.patch(f"/api/v1/collections/{cid}", json={"name": "Saved"}).status_code in (200, 409)
    assert api.put("/api/v1/ratings/2506.00003", json={"rating": "down"}).json() == {
        "arxiv_id": "2506.00003",
        "rating": -1,
    }
    assert api.get("/api/v1/ratings").json() == [{"arxiv_id": "2506.00003", "rating": -1}]
    assert api.put("/api/v1/ratings/2999.00001", json={"rating": "up"}).status_code == 404
    assert api.post("/api/v1/follows", json={"name": "Bob Stone"}).json() == ["Bob Stone"]
    assert api.delete("/api/v1/follows", params={"name": "bob stone"}).json() == []
    # the session works too, but changes need the CSRF header
    assert client.post("/api/v1/collections", json={"name": "x"}).status_code == 403
    assert (
        client.post(
            "/api/v1/collections", json={"name": "x"}, headers={"x-csrf-token": token}
        ).status_code
        == 201
    )
    # revoke on the account page: the token stops working
    token_id = re.search(r'name="token_id" value="(\d+)"', client.get("/account").text)
    assert token_id
    client.post("/account/tokens/revoke", data={"csrf_token": token, "token_id": token_id.group(1)})
    assert api.get("/api/v1/collections").status_code == 401
    assert (
        httpx.get(
            f"{live.url}/api/v1/collections", headers={"authorization": "Bearer pw_nope"}
        ).status_code
        == 401
    )
    spec = httpx.get(f"{live.url}/openapi.json").json()
    for path in (
        "/api/v1/collections",
        "/api/v1/collections/{collection_id}/items/{arxiv_id}",
        "/api/v1/ratings/{arxiv_id}",
        "/api/v1/follows",
        "/api/v1/follows/papers",
    ):
        assert path in spec["paths"], path
    api.close(), client.close()


def test_every_paper_id_route_reads_the_ids_search_reads(live: Live) -> None:
    """The arXiv DOI, a versioned id, `arXiv:` and an abs URL name a stored paper on every
    route that takes a paper id, as search's id lookup reads them."""
    user = live.service.accounts.get_or_create_user("doi@example.org")
    _, secret = live.service.library.create_token(user.id, "doi")
    api = httpx.Client(base_url=live.url, headers={"authorization": f"Bearer {secret}"})
    cid = api.post("/api/v1/collections", json={"name": "By DOI"}).json()["id"]
    added = api.post(
        f"/api/v1/collections/{cid}/items",
        json={
            "arxiv_ids": ["10.48550/arXiv.2506.00001", "https://doi.org/10.48550/arXiv.2506.00002"]
        },
    ).json()
    assert (added["added"], added["missing"]) == (2, []), added
    for spelling in ("10.48550/arXiv.2506.00003", "https://arxiv.org/abs/2506.00003v2"):
        put = api.put(f"/api/v1/collections/{cid}/items/{spelling}", json={"note": "n"})
        assert put.status_code == 200 and put.json()["paper"]["arxiv_id"] == "2506.00003", put.text
    deleted = api.delete(f"/api/v1/collections/{cid}/items/10.48550/arXiv.2506.00003")
    assert deleted.status_code == 204
    for path in (
        "/api/v1/papers/10.48550/arXiv.2506.00004",
        "/api/v1/papers/10.48550/arXiv.2506.00004/similar",
        "/api/papers/10.48550/arXiv.2506.00004",
        "/api/papers/arXiv:2506.00004v1",
    ):
        assert api.get(path).status_code == 200, path
    voted = api.put("/api/v1/votes/10.48550/arXiv.2506.00004")
    assert voted.status_code == 200 and voted.json()["arxiv_id"] == "2506.00004", voted.text
    rated = api.put("/api/v1/ratings/10.48550/arXiv.2506.00004", json={"rating": "up"})
    assert rated.status_code == 200 and rated.json()["arxiv_id"] == "2506.00004", rated.text
    page = httpx.get(f"{live.url}/papers/10.48550/arXiv.2506.00004")
    assert page.status_code == 301 and page.headers["location"] == "/papers/2506.00004"
    other = api.get("/api/v1/papers/10.1000/arXiv.2506.00004")  # another DOI names no paper
    assert other.status_code == 404 and "10.1000/arXiv.2506.00004" in other.json()["error"]
    api.close()


def test_bad_bodies_say_what_is_wrong_with_the_body(live: Live) -> None:
    """A body that is not JSON, missing or not a JSON object answers 400 naming the body,
    where the JSON breaks or what to send; never a bare number or "request"."""
    user = live.service.accounts.get_or_create_user("bodies@example.org")
    _, secret = live.service.library.create_token(user.id, "bodies")
    api = httpx.Client(base_url=live.url, headers={"authorization": f"Bearer {secret}"})
    cid = api.post("/api/v1/collections", json={"name": "Bodies"}).json()["id"]
    as_json = {"content-type": "application/json"}
    for method, path, content, headers, message in [
        (
            "POST",
            "/api/v1/collections",
            b"notjson",
            as_json,
            "body: not valid JSON (at character 1: expecting value)",
        ),
        (
            "PUT",
            f"/api/v1/collections/{cid}/items/2506.00001",
            b"{bad",
            as_json,
            "body: not valid JSON (at character 2: expecting property name enclosed in "
            "double quotes)",
        ),
        (
            "PUT",
            "/api/v1/ratings/2506.00001",
            b"",
            {},
            'body: send {"rating": …} as JSON (content-type: application/json)',
        ),
        (
            "PUT",
            "/api/v1/ratings/2506.00001",
            b'{"rating":"up"}',
            {},
            'body: send {"rating": …} as JSON (content-type: application/json)',
        ),
        (
            "POST",
            f"/api/v1/collections/{cid}/items",
            b'["2506.00001"]',
            as_json,
            'body: send {"arxiv_ids": …} as JSON (content-type: application/json)',
        ),
    ]:
        r = api.request(method, path, content=content, headers=headers)
        assert (r.status_code, r.json()) == (400, {"error": message}), (path, content)
    wrong = api.put("/api/v1/ratings/2506.00001", json={"rating": "sideways"})
    assert wrong.status_code == 400 and wrong.json()["error"].startswith("rating: ")
    api.close()


def test_every_library_form_refuses_posts_without_a_valid_csrf_token(live: Live) -> None:
    client, _ = reader(live, "csrf@example.org")
    cid = collection_id(client, "Saved")
    forms = {
        "/library/act": {"arxiv_id": "2506.00001", "do": "save"},
        "/follow": {"follow": "Ann Lee"},
        "/library/new": {"name": "x"},
        f"/library/{cid}/rename": {"name": "y"},
        f"/library/{cid}/delete": {},
        f"/library/{cid}/note": {"arxiv_id": "2506.00001", "note": "n"},
        f"/library/{cid}/remove": {"arxiv_id": "2506.00001"},
        "/account/tokens": {"name": "t"},
        "/account/tokens/revoke": {"token_id": "1"},
        "/email-action": {"token": "1.1.s.x.2506.00001"},
    }
    for path, data in forms.items():
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "0" * 64}).status_code == 403, path
    assert (
        live.service.library.collections(
            live.service.accounts.get_or_create_user("csrf@example.org").id
        )[0].size
        == 0
    )
    client.close()


def test_digest_links_like_dismiss_and_save_without_signing_in(
    live: Live, mailbox: Mailbox
) -> None:
    service = live.service
    # followed on the site before subscribing: the digest follows the same list
    account = service.accounts.get_or_create_user("reader@example.org")
    service.library.follow(account.id, "Bob Stone")
    service.library.rate(account.id, "2506.00004", "down")  # never mailed
    sub = service.digest.add_subscriber("reader@example.org", {"followed_authors": "José García"})
    composed, sent = service.digest.run(day=DAY)
    assert composed.composed == 1 and sent.sent == 1
    message = mailbox.wait_for("reader@example.org")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "New from followed author José García" in text
    assert "New from followed author Bob Stone" in text
    # every other paper of the day is in (five papers, ten allowed), the dismissed one not
    assert "Language models and logic" in text and "Tom & Jerry" in text
    assert "Quantum sorting" not in text
    service.library.rate(account.id, "2506.00004", "none")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    found = re.findall(
        r"  \[(Like|Not interested|Save)\] (http://\S+/email-action\?token=(\S+))", text
    )
    assert len(found) == 3 * text.count(f"{live.url}/papers/")  # three per paper
    assert "email-action?token=" in html and "Not interested</a>" in html
    dismiss = [url for label, url, _ in found if label == "Not interested"]
    saves = [(url, token) for label, url, token in found if label == "Save"]
    likes = [url for label, url, _ in found if label == "Like"]
    with httpx.Client() as browser:  # not signed in
        like = browser.get(likes[0]).text  # the page a link opens names it as the email does
        assert "<h1>Like</h1>" in like and 'id="confirm-action">Like</button>' in like
        confirm = browser.get(dismiss[0])
        assert confirm.status_code == 200 and "reader@example.org" in confirm.text
        assert not service.library.ratings(account.id)  # opening the link changed nothing
        form = dict(re.findall(r'name="(csrf_token|token)" value="([^"]+)"', confirm.text))
        done = browser.post(f"{live.url}/email-action", data=form)
        assert done.status_code == 200 and "marked not interested" in done.text
        dismissed = form["token"].split(".", 4)[4]
        save_url, save_token = saves[-1]
        saved = save_token.split(".", 4)[4]
        save_form = dict(
            re.findall(r'name="(csrf_token|token)" value="([^"]+)"', browser.get(save_url).text)
        )
        assert browser.post(f"{live.url}/email-action", data=save_form).status_code == 200
        # an altered link, or a link turned to another paper or action, is refused
        sub_id, expires, letter, mac, paper = save_token.split(".", 4)
        for bad in (
            f"{sub_id}.{expires}.{letter}.{'A' * len(mac)}.{paper}",
            f"{sub_id}.{expires}.{letter}.{mac}.2506.00002" if paper != "2506.00002" else "x",
            f"{sub_id}.{expires}.l.{mac}.{paper}",
            f"{sub_id}.{int(expires) + 365}.{letter}.{mac}.{paper}",
            f"{int(sub_id) + 1}.{expires}.{letter}.{mac}.{paper}",
            "garbage",
        ):
            assert browser.get(f"{live.url}/email-action", params={"token": bad}).status_code == 400
            r = browser.post(f"{live.url}/email-action", data={**save_form, "token": bad})
            assert r.status_code == 400, bad
    assert service.library.ratings(account.id) == {dismissed: -1}
    assert service.reader_signals(account.id).exclude >= {dismissed, saved}
    assert saved in {
        e.arxiv_id
        for e, _ in service.library.collection_papers(
            account.id, collection_of(service, account.id)
        )
    }
    # links expire; a removed subscription's links die
    key = service.digest.key
    with pytest.raises(TokenError, match="expired"):
        check_paper_action(key, save_token, service.digest.store.get, date.today() + timedelta(31))
    assert check_paper_action(key, save_token, service.digest.store.get).arxiv_id == saved
    # unsubscribing ends the links of the digests already sent, with a page that says so;
    # re-opened by anyone's /subscribe (pending) they stay dead until confirmed again
    like_url = next(url for label, url, _ in found if label == "Like")
    service.digest.unsubscribe(service.digest.links(sub).unsubscribe.split("token=")[1])
    with httpx.Client() as browser:
        page = browser.get(like_url)
        assert page.status_code == 400 and "subscription was cancelled" in page.text
        login_form = browser.get(f"{live.url}/login").text  # a form with this visitor's token
        csrf = re.findall(r'name="csrf_token" value="([^"]+)"', login_form)[0]
        form = {"token": like_url.split("token=")[1], "csrf_token": csrf}
        refused = browser.post(f"{live.url}/email-action", data=form)
        assert refused.status_code == 400 and "subscription was cancelled" in refused.text
    service.digest.store.subscribe("reader@example.org", {})
    assert service.digest.store.get(sub.id).status == "pending"  # type: ignore[union-attr]
    with pytest.raises(TokenError, match="cancelled"):
        check_paper_action(key, save_token, service.digest.store.get)
    assert service.library.ratings(account.id) == {dismissed: -1}  # no like was recorded
    service.digest.add_subscriber("reader@example.org")  # active again: the links work
    assert check_paper_action(key, save_token, service.digest.store.get).arxiv_id == saved
    service.digest.remove_subscriber("reader@example.org")
    with pytest.raises(TokenError):
        check_paper_action(key, save_token, service.digest.store.get)
    assert sub.id


def test_digest_actions_are_named_as_the_site_and_the_readme_name_them(live: Live) -> None:
    """One vocabulary: the digest's per-paper links carry the labels of the site's buttons,
    and the README names them so."""
    client, _ = reader(live, "ann@example.org")
    home = client.get("/?date=2025-06-02").text
    bar = home[home.index('<form class="lib"') :]
    buttons = re.findall(r'<button type="submit" name="do"[^>]*>([^<]+)</button>', bar[:2000])
    site = {b.strip("☆★ ") for b in buttons}
    emailed = [label for _, label in ACTION_LABELS]
    assert set(emailed) <= site, (emailed, site)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("Digest emails carry") :].split(". They")[0]
    assert re.findall(r"\*([^*]+)\*", sentence) == emailed


def collection_of(service: Service, user_id: int, name: str = "Saved") -> int:
    return next(c.id for c in service.library.collections(user_id) if c.name == name)


def test_latex_titles_read_as_characters_on_collection_and_email_action_pages(
    live: Live,
) -> None:
    """QA: the collection page (and the digest link's confirm page) showed a title's raw
    LaTeX ('\\textsc{DiARC}') where every other page shows the characters."""
    service = live.service
    latex = _paper(7, r"\textsc{DiARC}: robots that {\"u}ber-plan", ["Ann Lee"])
    service.store.upsert_papers([latex])
    client, _ = reader(live, "latex@example.org")
    user = service.accounts.get_or_create_user("latex@example.org")
    service.add_to_collection(user.id, "Saved", [latex.arxiv_id])
    page = client.get(f"/library/{collection_id(client, 'Saved')}").text
    assert "DiARC: robots that über-plan</a>" in page and "textsc" not in page
    sub = service.digest.add_subscriber("latex@example.org", {})
    link = service.digest.runner.paper_action_link(sub, latex.arxiv_id, "save")
    confirm = httpx.get(link)
    assert confirm.status_code == 200
    assert "DiARC: robots that über-plan" in confirm.text and "textsc" not in confirm.text
