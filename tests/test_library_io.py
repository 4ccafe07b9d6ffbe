"""Importing a library file, exporting a collection and its secret feed, through a real
running server on SQLite and PostgreSQL: the upload form (CSRF, size limit by
Content-Length and while reading, good / duplicate / broken entries reported), the same
through /api/v1, an export -> import round trip in both formats, and one reader against
another's collection ids and feed tokens (a rotated token stops working)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import feedparser
import httpx
import pytest

from fake_arxiv import FakeRemote
from paperwire.config import Settings
from paperwire.service import Service
from test_sources_api import serve_recorded
from webkit import Live, listed_paper, live_server, signed_in

DAY = date(2025, 6, 2)
LIMIT = 4000  # library_max_bytes in these tests


PAPERS = [
    listed_paper(1, "Diffusion policies for robots", ["José García", "Ann Lee"], DAY),
    listed_paper(2, "Language models and {L}ogic", ["Bob Stone"], DAY),
    listed_paper(3, "M{\\\"u}ller's sorting networks & 50% of trees", ["Jörg Müller"], DAY),
    listed_paper(4, "Vision transformers at scale", ["Carl Diaz"], DAY),
]

# good (by eprint, by title, by URL), a duplicate of the first, an unknown arXiv id,
# and three broken entries
BIBTEX = rb"""@article{garcia2025,
  title = {Diffusion Policies for Robots},
  author = {Garc{\'\i}a, Jos{\'e} and Lee, Ann},
  year = 2025, eprint = {2506.00001v2}, archivePrefix = {arXiv}
}
@misc{broken,
  title = {Unbalanced {brace,
  year = 2020
}
@inproceedings{stone,
  title = "Language Models and Logic",
  year = 2025,
}
@misc{again, title = {Diffusion policies for robots}, url = {https://arxiv.org/abs/2506.00001}}
@misc{elsewhere, title = {Not here}, eprint = {2506.09999}}
@misc{nothing, year = {2020}}
@misc{nocomma title = {x}}
@misc{diaz, url = {https://arxiv.org/pdf/2506.00004v1}}
"""


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with Service(settings) as service:
        service.store.upsert_papers(PAPERS)
    with live_server(settings, library_max_bytes=LIMIT) as running:
        yield running


def reader(live: Live, email: str) -> tuple[httpx.Client, str]:
    """A signed-in client (a real session cookie) and its CSRF token."""
    client, csrf, _ = signed_in(live, email, "/library")
    return client, csrf


def bearer(live: Live, email: str) -> httpx.Client:
    user = live.service.accounts.get_or_create_user(email)
    _, secret = live.service.library.create_token(user.id, "test")
    return httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def upload(
    client: httpx.Client, csrf: str | None, data: bytes, name: str = "library.bib", **fields: str
) -> httpx.Response:
    form = {**fields, **({"csrf_token": csrf} if csrf else {})}
    return client.post("/library/import", data=form, files={"file": (name, data)})


def ids_in(live: Live, email: str, name: str) -> set[str]:
    user = live.service.accounts.get_or_create_user(email)
    found = live.service.library.store.find_collection(user.id, name)
    assert found is not None, f"no collection {name!r}"
    return {e.arxiv_id for e in live.service.library.store.items(user.id, found.id)}


def test_upload_form_imports_good_entries_and_reports_the_rest(live: Live) -> None:
    client, csrf = reader(live, "ann@example.org")
    page = client.get("/library").text
    assert 'action="/library/import"' in page and 'enctype="multipart/form-data"' in page
    answer = upload(client, csrf, BIBTEX, collection_id="new", new_collection="From Zotero")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "Read as bibtex: 8 entries, 3 of them malformed." in html  # 3 + 1 + 1 + 3
    assert re.search(r'id="sum-matched"><strong>3</strong> matched', html)
    assert re.search(r'id="sum-duplicates"><strong>1</strong> duplicate', html)
    assert re.search(r'id="sum-malformed"><strong>3</strong> malformed', html)
    assert re.search(r'id="sum-unmatched"><strong>1</strong> not found', html)
    assert "elsewhere" in html and "2506.09999" in html
    assert "broken (line 6)" in html and "closing `}`" in html
    assert "no title, arXiv id or DOI" in html  # the reason for `nothing`
    assert "(not asked for)" in html
    assert ids_in(live, "ann@example.org", "From Zotero") == {
        "2506.00001",
        "2506.00002",
        "2506.00004",
    }
    # imported papers are saved papers: positives for the recommender, never recommended
    user = live.service.accounts.get_or_create_user("ann@example.org")
    signals = live.service.reader_signals(user.id)
    sources = {p.arxiv_id: p.source for p in signals.positives}
    assert sources == dict.fromkeys(("2506.00001", "2506.00002", "2506.00004"), "From Zotero")
    assert {"2506.00001", "2506.00002", "2506.00004"} <= signals.exclude
    # importing again into the same collection adds nothing new
    cid = live.service.library.store.find_collection(user.id, "From Zotero")
    assert cid is not None
    again = upload(client, csrf, BIBTEX, collection_id=str(cid.id))
    assert "(0 new there, 3 already in it)" in again.text


def test_the_fetch_hint_only_when_an_unmatched_entry_has_an_arxiv_id(live: Live) -> None:
    """QA: "import again with 'Fetch…' ticked" showed whenever fetch was not ticked, even
    when no entry left unmatched had an arXiv id to fetch."""
    client, csrf = reader(live, "hint@example.org")
    no_ids = b"@misc{a, title = {A title stored nowhere}}\n@misc{b, doi = {10.1000/none}}\n"
    answer = upload(client, csrf, no_ids, collection_id="new", new_collection="Hintless")
    assert answer.status_code == 200 and 'id="unmatched"' in answer.text
    assert 'id="fetch-hint"' not in answer.text
    with_id = upload(client, csrf, b"2506.09999\n", "ids.txt", collection_id="new")
    assert 'id="fetch-hint"' in with_id.text


def test_an_import_matching_nothing_makes_no_new_collection(live: Live) -> None:
    """QA: a file none of whose entries matched left a new, empty collection behind."""
    client, csrf = reader(live, "nomatch@example.org")
    user = live.service.accounts.get_or_create_user("nomatch@example.org")
    stored_nowhere = b"@misc{a, title = {A title stored nowhere}}\n"
    answer = upload(client, csrf, stored_nowhere, collection_id="new", new_collection="Empty")
    assert answer.status_code == 200 and 'id="unmatched"' in answer.text
    assert "<strong>0</strong> matched, so no collection was made" in answer.text
    assert live.service.library.store.find_collection(user.id, "Empty") is None
    # into a collection that exists, nothing matching still reports that collection
    made = live.service.library.create_collection(user.id, "Empty")
    again = upload(client, csrf, stored_nowhere, collection_id="new", new_collection="Empty")
    assert f'href="/library/{made.id}" id="import-collection">Empty</a>' in again.text


def test_a_file_with_no_entries_is_refused_and_makes_no_collection(live: Live) -> None:
    """Bytes 1..255 (no NUL, so not taken for binary) were read as an empty id list:
    "0 entries", a success, and a new empty collection named after the file."""
    client, csrf = reader(live, "noise@example.org")
    noise = bytes(range(1, 256)) * 4
    answer = upload(client, csrf, noise, "binary.bib", collection_id="new")
    assert answer.status_code == 400
    assert "no entries found in binary.bib" in answer.text and "nothing was imported" in answer.text
    user = live.service.accounts.get_or_create_user("noise@example.org")
    names = [c.name for c in live.service.library.store.list_collections(user.id)]
    assert not any("binary" in n for n in names), names


def test_upload_form_needs_csrf_and_the_signed_in_reader(live: Live) -> None:
    client, csrf = reader(live, "ann@example.org")
    refused = upload(client, None, BIBTEX, new_collection="Sneaky")
    assert refused.status_code == 403
    wrong = upload(client, "0" * 64, BIBTEX, new_collection="Sneaky")
    assert wrong.status_code == 403
    user = live.service.accounts.get_or_create_user("ann@example.org")
    assert live.service.library.store.find_collection(user.id, "Sneaky") is None
    anonymous = httpx.post(
        f"{live.url}/library/import",
        data={"csrf_token": csrf},
        files={"file": ("x.bib", BIBTEX)},
        follow_redirects=False,
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_oversized_uploads_are_refused_with_413(live: Live) -> None:
    client, csrf = reader(live, "ann@example.org")
    big = b"2506.00001\n" * (LIMIT // 5)
    by_length = upload(client, csrf, big, new_collection="Big")
    assert by_length.status_code == 413
    assert f"at most {LIMIT:,} bytes" in by_length.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while reading
        for _ in range(LIMIT // 100 + 10):
            yield b"2506.00001\n" * 10

    api = bearer(live, "ann@example.org")
    user = live.service.accounts.get_or_create_user("ann@example.org")
    saved = live.service.library.collections(user.id)[0]
    streamed = api.post(f"/api/v1/collections/{saved.id}/import", content=chunks())
    assert streamed.status_code == 413
    assert f"at most {LIMIT:,} bytes" in streamed.json()["error"]
    assert not ids_in(live, "ann@example.org", "Saved")
    assert live.service.library.store.find_collection(user.id, "Big") is None
    # a file just under the limit is taken
    fits = api.post(f"/api/v1/collections/{saved.id}/import", content=b"2506.00003\n")
    assert fits.status_code == 200 and fits.json()["added"] == 1


def test_api_import_with_a_token_and_with_a_session(live: Live) -> None:
    api = bearer(live, "ann@example.org")
    made = api.post("/api/v1/collections", json={"name": "Reading"}).json()
    answer = api.post(
        f"/api/v1/collections/{made['id']}/import",
        files={"file": ("lib.bib", BIBTEX)},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["format"] == "bibtex" and body["added"] == 3 and body["duplicates"] == 1
    assert {m["arxiv_id"]: m["by"] for m in body["matched"]} == {
        "2506.00001": "arXiv id",
        "2506.00002": "title",
        "2506.00004": "arXiv id",
    }
    assert [u["key"] for u in body["unmatched"]] == ["elsewhere (line 15)"]
    assert len(body["malformed"]) == 3 and body["fetched"] == []
    assert body["entries"] == 8  # 3 matched + 1 duplicate + 1 unmatched + 3 malformed
    # a session needs the CSRF header to write
    client, csrf = reader(live, "ann@example.org")
    url = f"/api/v1/collections/{made['id']}/import"
    assert client.post(url, content=b"2506.00003").status_code == 403
    ok = client.post(url, content=b"2506.00003", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["added"] == 1
    # nobody, a bad token, another reader's collection
    assert httpx.post(f"{live.url}{url}", content=b"2506.00003").status_code == 401
    other = bearer(live, "bob@example.org")
    assert other.post(url, content=b"2506.00003").status_code == 404
    assert other.post(url, content=b"").status_code == 404
    assert api.post(url, content=b"").status_code == 400


def test_export_round_trip_gives_the_same_papers(live: Live) -> None:
    api = bearer(live, "ann@example.org")
    source = api.post("/api/v1/collections", json={"name": "Source"}).json()["id"]
    ids = [p.arxiv_id for p in PAPERS]
    api.post(f"/api/v1/collections/{source}/items", json={"arxiv_ids": ids})
    for fmt in ("bibtex", "csljson"):
        exported = api.get(f"/api/v1/collections/{source}/export", params={"format": fmt})
        assert exported.status_code == 200
        assert exported.headers["cache-control"] == "private, no-store"
        target = api.post("/api/v1/collections", json={"name": f"Back {fmt}"}).json()["id"]
        back = api.post(f"/api/v1/collections/{target}/import", content=exported.content)
        body = back.json()
        assert body["format"] == fmt and body["malformed"] == [] and body["unmatched"] == []
        assert ids_in(live, "ann@example.org", f"Back {fmt}") == set(ids)
    client, _ = reader(live, "ann@example.org")
    page = client.get(f"/library/{source}").text
    assert f'href="/library/{source}/export?format=bibtex"' in page
    bib = client.get(f"/library/{source}/export", params={"format": "bibtex"})
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    assert (
        re.search(r"eprint\s*= \{2506.00003\}", bib.text) and "archivePrefix = {arXiv}" in bib.text
    )


def _feed_url(client: httpx.Client, collection_id: int) -> tuple[str, str]:
    urls = client.get(f"/api/v1/collections/{collection_id}/feed").json()
    return urls["rss"], urls["atom"]


def test_collection_feed_at_a_secret_url_and_what_others_cannot_read(live: Live) -> None:
    ann = bearer(live, "ann@example.org")
    bob = bearer(live, "bob@example.org")
    mine = ann.post("/api/v1/collections", json={"name": "Mine"}).json()["id"]
    ann.post(f"/api/v1/collections/{mine}/items", json={"arxiv_ids": ["2506.00001", "2506.00003"]})
    bobs = bob.post("/api/v1/collections", json={"name": "Bobs"}).json()["id"]
    rss, atom = _feed_url(ann, mine)
    for url in (rss, atom):
        answer = httpx.get(url)  # no session, no token header: the URL is the key
        assert answer.status_code == 200
        parsed = feedparser.parse(answer.content)
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.feed.title == "paperwire · collection Mine"
        assert {e.link.rsplit("/", 1)[-1] for e in parsed.entries} == {"2506.00001", "2506.00003"}
        assert any("Müller" in e.title for e in parsed.entries)
    token = rss.split("token=")[1]
    bob_token = _feed_url(bob, bobs)[0].split("token=")[1]
    base = f"{live.url}/feeds/collections"
    # another reader: their id, their own token on my collection, my token on their id
    assert bob.get(f"/api/v1/collections/{mine}/export").status_code == 404
    assert bob.get(f"/api/v1/collections/{mine}/feed").status_code == 404
    assert httpx.get(f"{base}/{mine}.rss", params={"token": bob_token}).status_code == 404
    assert httpx.get(f"{base}/{bobs}.rss", params={"token": token}).status_code == 404
    forged = token.split(".")[0] + "." + "0" * 32
    assert httpx.get(f"{base}/{mine}.rss", params={"token": forged}).status_code == 404
    other_user = bob_token.split(".")[0] + "." + token.split(".")[1]
    assert httpx.get(f"{base}/{mine}.rss", params={"token": other_user}).status_code == 404
    assert httpx.get(f"{base}/{mine}.rss").status_code == 404
    client, _ = reader(live, "bob@example.org")
    assert client.get(f"/library/{mine}/export").status_code == 404
    assert client.get(f"/library/{mine}/feed").status_code == 404
    # rotating: needs CSRF; then the old URL is dead and the new one works
    owner, owner_csrf = reader(live, "ann@example.org")
    assert owner.post("/library/feeds/rotate", data={}).status_code == 403
    assert httpx.get(rss).status_code == 200
    rotated = owner.post("/library/feeds/rotate", data={"csrf_token": owner_csrf})
    assert rotated.status_code == 303
    assert httpx.get(rss).status_code == 404 and httpx.get(atom).status_code == 404
    fresh = _feed_url(ann, mine)[0]
    assert fresh != rss and httpx.get(fresh).status_code == 200
    assert fresh in owner.get(f"/library/{mine}/feed").text.replace("&amp;", "&")
    # bob's feed survives ann's rotation
    assert httpx.get(f"{base}/{bobs}.rss", params={"token": bob_token}).status_code == 200


def test_fetch_from_arxiv_only_when_asked(settings: Settings, fake_remote: FakeRemote) -> None:
    serve_recorded(fake_remote)
    ids = b"arXiv:0808.05394\nhttps://arxiv.org/abs/1707.08567v1\n2506.00001\n"
    with Service(settings) as service:
        service.store.upsert_papers(PAPERS)
    with live_server(fake_remote.settings(settings)) as live:
        client, csrf = reader(live, "ann@example.org")
        plain = upload(client, csrf, ids, "ids.txt", new_collection="Ids")
        assert re.search(r'id="sum-matched"><strong>1</strong>', plain.text)
        assert fake_remote.requests() == []  # no checkbox: no network
        fetched = upload(client, csrf, ids, "ids.txt", new_collection="Ids", fetch="on")
        assert fetched.status_code == 200
        assert re.search(
            r'id="sum-fetched"><strong>1</strong> fetched from arXiv</li>', fetched.text
        )
        assert '1707.08567</a> <span class="muted small">by fetched from arXiv' in fetched.text
        assert [r["id_list"] for r in fake_remote.requests()] == ["0808.05394,1707.08567"]
        assert ids_in(live, "ann@example.org", "Ids") == {"2506.00001", "1707.08567"}
        assert "0808.05394" in fetched.text  # arXiv has no such paper: still unmatched


def test_api_import_fetches_at_most_library_fetch_max_papers(
    settings: Settings, fake_remote: FakeRemote
) -> None:
    """Any signed-in reader's import could make thousands of arXiv requests in the request
    thread: the API fetches the first library_fetch_max and says so in fetch_error."""
    serve_recorded(fake_remote)
    ids = b"0808.05394\n1707.08567\n" + b"".join(b"2401.%05d\n" % n for n in range(1, 150))
    with live_server(fake_remote.settings(settings), library_fetch_max=2) as live:
        api = bearer(live, "ann@example.org")
        made = api.post("/api/v1/collections", json={"name": "Many"}).json()
        answer = api.post(f"/api/v1/collections/{made['id']}/import?fetch=true", content=ids)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["fetched"] == ["1707.08567"] and body["added"] == 1
        assert body["fetch_error"].startswith("149 more arXiv ids were not fetched")
    assert [r["id_list"] for r in fake_remote.requests()] == ["0808.05394,1707.08567"]
