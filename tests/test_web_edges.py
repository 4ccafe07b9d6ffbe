"""Requests at the edges, through a real running server on SQLite and PostgreSQL: numbers
that `str.isdigit()` accepts but `int()` refuses or the database cannot hold, ids past any
row id, JSON nested thousands deep, HEAD, the admin endpoint's errors, category case in
feeds, author links for names with quotes, paging that stops where the papers stop, and
votes by API token. Each answered 500 (or wrongly) before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from paperwire.bibliography.readers import LibraryFileError, read_csljson
from paperwire.config import Settings
from paperwire.library_io import MAC_CHARS
from paperwire.listing import make_window
from paperwire.models import Author
from paperwire.numbers import MAX_ROW_ID, ascii_int
from paperwire.service import Service
from webkit import Live, listed_paper, live_server, signed_in

DAY = date(2025, 6, 4)  # a Wednesday
HUGE = "9" * 20  # past SQLite's 2**63 - 1 and PostgreSQL's integer
NESTED = b"[" * 100_000 + b"]" * 100_000


def _papers() -> list:
    quoted = listed_paper(3, "Quoted names in author lists", [], DAY)
    quoted.authors = [Author('Ann "the Pen" Lee'), Author("Bob Stone")]
    quoted.categories = ["cs.CL"]
    return [
        listed_paper(1, "Graph transformers for molecules", ["Carl Diaz"], DAY),
        listed_paper(2, "Old results on sorting", ["Dora Finch"], DAY - timedelta(days=40)),
        quoted,
    ]


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with Service(settings) as service:
        service.store.upsert_papers(_papers())
        service.rebuild_index()
    with live_server(settings, admin_token="admin-secret") as running:
        yield running


@pytest.fixture
def ann(live: Live) -> Iterator[tuple[httpx.Client, str, int]]:
    """A signed-in reader: client, CSRF token, user id."""
    client, csrf, user_id = signed_in(live, "ann@example.org")
    yield client, csrf, user_id
    client.close()


def test_numbers_read_from_text_are_ascii_and_bounded() -> None:
    assert ascii_int("42") == 42 and ascii_int("0007") == 7
    assert ascii_int(str(MAX_ROW_ID)) == MAX_ROW_ID
    for bad in ("", "²", "٣", "-1", "+1", " 1", "1.0", str(MAX_ROW_ID + 1), HUGE, "9" * 5000):
        assert ascii_int(bad) is None, bad
    assert ascii_int("5001", maximum=5000) is None and ascii_int("5000", maximum=5000) == 5000


def test_tokens_with_odd_digits_are_refused_not_crashed(live: Live) -> None:
    zeros = "0" * MAC_CHARS
    with httpx.Client(base_url=live.url) as client:
        for scope in ("for-you", "collections/1"):
            for fmt in ("rss", "atom"):
                r = client.get(f"/feeds/{scope}.{fmt}", params={"token": f"².{zeros}"})
                assert r.status_code == 404, (scope, fmt, r.status_code)
        for token in (
            "².1.s.x.2506.00001",
            f"{HUGE}.1.s.x.2506.00001",
            f"1.{HUGE}.s.x.2506.00001",
        ):
            r = client.get("/email-action", params={"token": token})
            assert r.status_code == 400 and "not valid" in r.text, token


def test_ids_past_any_row_are_client_errors(ann: tuple[httpx.Client, str, int]) -> None:
    client, csrf, _ = ann
    form = {"csrf_token": csrf}
    for path in (f"/library/{HUGE}", f"/library/{HUGE}/export", f"/library/{HUGE}/feed"):
        assert client.get(path).status_code == 400, path
    assert client.get(f"/feeds/collections/{HUGE}.rss", params={"token": "x"}).status_code == 400
    posts = {
        f"/library/{HUGE}/rename": {**form, "name": "x"},
        f"/library/{HUGE}/delete": form,
        f"/library/{HUGE}/note": {**form, "arxiv_id": "2506.00001", "note": "n"},
        f"/library/{HUGE}/remove": {**form, "arxiv_id": "2506.00001"},
        "/account/tokens/revoke": {**form, "token_id": HUGE},
    }
    for do in ("save", "unsave"):
        act = {**form, "arxiv_id": "2506.00001", "do": do, "collection_id": HUGE}
        assert client.post("/library/act", data=act).status_code == 400, do
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 400, path
    upload = client.post(
        "/library/import",
        data={**form, "collection_id": HUGE},
        files={"file": ("ids.txt", b"2506.00001\n", "text/plain")},
    )
    assert upload.status_code == 404 and "no collection" in upload.text
    # a form's "new" still means a new collection
    made = client.post(
        "/library/import",
        data={**form, "collection_id": "new", "new_collection": "From file"},
        files={"file": ("ids.txt", b"2506.00001\n", "text/plain")},
    )
    assert made.status_code == 200
    names = [c["name"] for c in client.get("/api/v1/collections").json()]
    assert "From file" in names


def test_json_nested_too_deep_is_a_malformed_file(ann: tuple[httpx.Client, str, int]) -> None:
    with pytest.raises(LibraryFileError, match="nested too deeply"):
        read_csljson(NESTED.decode())
    client, csrf, _ = ann
    made = client.post("/api/v1/collections", json={"name": "Deep"}, headers={"x-csrf-token": csrf})
    collection = made.json()["id"]
    r = client.post(
        f"/api/v1/collections/{collection}/import",
        content=NESTED,
        headers={"x-csrf-token": csrf, "content-type": "application/json"},
    )
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]


def test_head_answers_as_get_without_a_body(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        for path in ("/", "/api/daily_papers", "/feeds/daily.rss", "/static/paperwire.css"):
            got, head = client.get(path), client.head(path)
            assert got.status_code == head.status_code == 200, path
            assert head.content == b"" and got.content, path
            assert head.headers["content-type"] == got.headers["content-type"], path
        assert client.head("/papers/2506.99999").status_code == 404


def test_a_compressed_static_file_has_its_own_weak_etag_and_revalidates(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        path = "/static/paperwire.css"  # well above GZip's 2,000-byte minimum
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        packed = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip"
        assert plain.headers["etag"].startswith('"')  # the plain bytes keep a strong tag
        assert packed.headers["etag"] == "W/" + plain.headers["etag"]
        for tag, encoding in (
            (packed.headers["etag"], "gzip"),
            (plain.headers["etag"], "identity"),
        ):
            again = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": tag})
            assert again.status_code == 304, encoding
            assert again.headers["etag"] == tag, encoding  # the tag the cache holds


def test_admin_endpoint_speaks_json_and_wants_bearer(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        good = {"authorization": "Bearer admin-secret"}
        assert client.get("/admin/digest/status", headers=good).status_code == 200
        bad_limit = client.get("/admin/digest/status", params={"limit": "abc"}, headers=good)
        assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["error"]
        for header in ({}, {"authorization": "admin-secret"}, {"authorization": "Bearer nope"}):
            r = client.get("/admin/digest/status", headers=header)
            assert r.status_code == 401 and "Bearer" in r.json()["error"], header
            assert r.headers["www-authenticate"] == "Bearer"


def documented_answers(client: httpx.Client, path: str) -> dict[str, Any]:
    """The responses /openapi.json documents for GET `path`."""
    return dict(client.get("/openapi.json").json()["paths"][path]["get"]["responses"])


def test_admin_status_documents_every_answer_it_gives(live: Live) -> None:
    """/openapi.json listed only 200 (and the 400 of every route) for the admin status,
    which answers 401 to a missing or wrong token, 404 while no admin_token is set (see
    test_web_schemathesis) and, as every route over the database, 503 while it is down."""
    with httpx.Client(base_url=live.url) as client:
        answered = {
            client.get("/admin/digest/status", headers=headers, params=params).status_code
            for headers, params in (
                ({"authorization": "Bearer admin-secret"}, {}),
                ({"authorization": "Bearer admin-secret"}, {"limit": "0"}),
                ({"authorization": "Bearer nope"}, {}),
            )
        }
        documented = documented_answers(client, "/admin/digest/status")
    assert answered == {200, 400, 401}
    assert set(documented) == {"200", "400", "401", "404", "503"}
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for status in ("401", "404", "503"):
        assert documented[status]["content"]["application/json"]["schema"] == error, status
    assert "WWW-Authenticate" in documented["401"]["headers"]
    assert "Retry-After" in documented["503"]["headers"]


def test_daily_feed_categories_in_any_case(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:

        def items(category: str) -> int:
            r = client.get(
                "/feeds/daily.rss", params={"category": category, "date": DAY.isoformat()}
            )
            assert r.status_code == 200
            return r.text.count("<item>")

        assert items("cs.CL") == items("cs.cl") == items("CS.CL") == 1
        assert items("cs") == items("CS") == 2
        assert items("cs.LG") == 1 and items("math") == 0


def test_author_links_search_names_that_hold_quotes(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        page = client.get("/papers/2506.00003").text
        links = re.findall(r'href="(/search\?q=au:[^"]+)"', page)
        assert len(links) == 2
        for link in links:
            found = client.get(link.replace("&amp;", "&"))
            assert found.status_code == 200 and "/papers/2506.00003" in found.text, link


def test_week_and_month_paging_stops_where_the_papers_stop(live: Live) -> None:
    store = live.service.store
    old = DAY - timedelta(days=40)
    for view in ("week", "month"):
        newest = make_window(store, view, DAY)
        assert newest.next is None and newest.prev is not None
        oldest = make_window(store, view, newest.prev)  # the empty windows between are skipped
        assert oldest.start <= old <= oldest.end
        assert oldest.prev is None and oldest.next is not None
        assert make_window(store, view, oldest.next).start == newest.start
    with httpx.Client(base_url=live.url) as client:
        page = client.get("/", params={"date": old.isoformat(), "view": "week"}).text
        assert 'rel="prev"' not in page and 'rel="next"' in page
        far = client.get("/", params={"date": "1900-01-01", "view": "week"})
        assert far.status_code == 200 and 'rel="prev"' not in far.text


def test_votes_by_api_token(live: Live, ann: tuple[httpx.Client, str, int]) -> None:
    client, csrf, user_id = ann
    _, secret = live.service.library.create_token(user_id, "script")
    bearer = {"authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=live.url, headers=bearer) as api:
        up = api.put("/api/v1/votes/2506.00001")
        assert up.status_code == 200 and up.json() == {
            "arxiv_id": "2506.00001",
            "voted": True,
            "upvotes": 1,
        }
        assert api.get("/api/v1/votes").json() == ["2506.00001"]
        assert client.get("/api/v1/votes").json() == ["2506.00001"]  # the same reader
        assert api.delete("/api/v1/votes/2506.00001").json()["upvotes"] == 0
        wrong = httpx.put(
            f"{live.url}/api/v1/votes/2506.00001", headers={"authorization": "Bearer pw_x"}
        )
        assert wrong.status_code == 401
        # a session still needs the CSRF header to write
        assert client.put("/api/v1/votes/2506.00001").status_code == 403
        assert (
            client.put("/api/v1/votes/2506.00001", headers={"x-csrf-token": csrf}).status_code
            == 200
        )
