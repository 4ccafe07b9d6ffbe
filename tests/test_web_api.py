"""The JSON API through a real running server: the real huggingface_hub client against our
HF-compatible endpoints, and paperwire's own /api/v1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from pydantic import TypeAdapter

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.web.schemas import HfDailyItem, HfPaper, PaperListOut, PaperOut, SearchOut
from webkit import Live, live_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("api")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'pw.db'}")
    with Service(settings) as service:
        service.import_snapshot(web_subset)
    with live_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def records(web_subset: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in web_subset.read_text().splitlines()]


@pytest.fixture(scope="module")
def hf(live: Live) -> HfApi:
    return HfApi(endpoint=live.url, token=False)


def by_day(records: list[dict[str, object]]) -> dict[str, set[str]]:
    days: dict[str, set[str]] = {}
    for rec in records:
        days.setdefault(str(rec["listing_date"]), set()).add(str(rec["id"]))
    return days


def test_hf_list_daily_papers_latest_day_is_default(
    hf: HfApi, records: list[dict[str, object]]
) -> None:
    days = by_day(records)
    latest = max(days)
    got = list(hf.list_daily_papers(limit=100))
    assert got, "no papers for the latest day"
    assert {p.id for p in got} <= days[latest]
    assert len(got) == min(100, len(days[latest]))
    first = got[0]
    assert first.title and first.summary and first.authors and first.authors[0].name
    assert first.published_at is not None and first.submitted_at is not None
    assert first.submitted_at.date().isoformat() == latest


def test_hf_list_daily_papers_by_date_week_month_and_paging(
    hf: HfApi, records: list[dict[str, object]]
) -> None:
    days = by_day(records)
    day = sorted(days)[1]
    got = {p.id for p in hf.list_daily_papers(date=day, limit=100)}
    assert got == set(sorted(days[day], reverse=True)[:100])
    # paging: p=0 and p=1 are disjoint, together the first 2*limit
    page0 = [p.id for p in hf.list_daily_papers(date=day, limit=7, p=0)]
    page1 = [p.id for p in hf.list_daily_papers(date=day, limit=7, p=1)]
    assert len(page0) == 7 and len(page1) == 7 and not set(page0) & set(page1)
    # week and month windows hold every day inside them
    d = date.fromisoformat(day)
    year, week, _ = d.isocalendar()
    monday = d - timedelta(days=d.weekday())
    in_week = {
        i
        for k, ids in days.items()
        if monday <= date.fromisoformat(k) < monday + timedelta(7)
        for i in ids
    }
    week_ids = {p.id for p in hf.list_daily_papers(week=f"{year}-W{week:02d}", limit=100)}
    assert week_ids <= in_week and len(week_ids) == min(100, len(in_week))
    month_ids = [p.id for p in hf.list_daily_papers(month=day[:7], sort="trending", limit=5)]
    assert len(month_ids) == 5
    assert all(i in {x for ids in days.values() for x in ids} for i in month_ids)


def test_hf_paper_info_and_search(hf: HfApi, records: list[dict[str, object]]) -> None:
    rec = records[10]
    info = hf.paper_info(str(rec["id"]))
    assert info.id == rec["id"]
    assert info.title == " ".join(str(rec["title"]).split())
    assert info.summary == " ".join(str(rec["summary"]).split())
    assert [a.name for a in info.authors or []] == rec["authors"]
    title_words = " ".join(str(rec["title"]).split()[:6])
    found = [p.id for p in hf.list_papers(query=title_words)]
    assert rec["id"] in found[:5]
    assert hf.paper_info(f"{rec['id']}v1").id == rec["id"]  # versioned ids resolve
    with pytest.raises(HfHubHTTPError) as err:
        hf.paper_info("2101.99999")
    assert err.value.response.status_code == 404


def test_hf_bad_parameters_say_what_is_wrong(live: Live) -> None:
    for query, needle in [
        ("date=2025-13-40", "date"),
        ("week=2025-X9", "week"),
        ("month=2025-1", "month"),
        ("limit=0", "limit"),
        ("sort=random", "sort"),
        ("week=２０２５-W17", "week must look like 2025-W09"),  # ASCII digits, as date= reads
        ("month=２０２５-０４", "month must look like 2025-02"),
        ("date=２０２５-04-24", "date must be a date like"),
    ]:
        r = httpx.get(f"{live.url}/api/daily_papers?{query}")
        assert r.status_code == 400, query
        assert needle in r.json()["error"], (query, r.json())


def test_v1_search_with_filters_sort_and_pages(
    live: Live, records: list[dict[str, object]]
) -> None:
    r = httpx.get(f"{live.url}/api/v1/search", params={"q": "language", "per_page": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] >= 5 and len(body["results"]) == 5 and body["pages"] >= 1
    first = body["results"][0]["paper"]
    assert {"arxiv_id", "title", "abstract", "authors", "upvotes", "url"} <= first.keys()
    cat = httpx.get(
        f"{live.url}/api/v1/search", params={"q": "language", "category": "cs.CV", "per_page": 50}
    ).json()
    assert cat["results"] and all("cs.CV" in h["paper"]["categories"] for h in cat["results"])
    days = sorted(by_day(records))
    dated = httpx.get(
        f"{live.url}/api/v1/search",
        params={"q": "model", "since": days[1], "until": days[1], "sort": "date"},
    ).json()
    assert dated["results"]
    assert {h["paper"]["listing_date"] for h in dated["results"]} == {days[1]}
    page2 = httpx.get(
        f"{live.url}/api/v1/search", params={"q": "language", "per_page": 5, "page": 2}
    ).json()
    ids1 = {h["paper"]["arxiv_id"] for h in body["results"]}
    assert ids1.isdisjoint({h["paper"]["arxiv_id"] for h in page2["results"]})


def test_v1_errors_are_4xx_with_a_reason(live: Live) -> None:
    r = httpx.get(f"{live.url}/api/v1/search", params={"q": "  "})
    assert r.status_code == 400 and "q is empty" in r.json()["error"]
    r = httpx.get(f"{live.url}/api/v1/search", params={"q": "x", "per_page": 1000})
    assert r.status_code == 400 and "per_page" in r.json()["error"]
    r = httpx.get(f"{live.url}/api/v1/search", params={"q": "x", "since": "yesterday"})
    assert r.status_code == 400 and "since" in r.json()["error"]
    r = httpx.get(f"{live.url}/api/v1/papers/9999.99999")
    assert r.status_code == 404 and "9999.99999" in r.json()["error"]
    r = httpx.put(f"{live.url}/api/v1/votes/2503.00001")
    assert r.status_code == 401 and "sign in" in r.json()["error"]


def test_v1_daily_trending_and_paper(live: Live, records: list[dict[str, object]]) -> None:
    days = by_day(records)
    latest = max(days)
    daily = httpx.get(f"{live.url}/api/v1/daily", params={"per_page": 100}).json()
    assert daily["start"] == latest and daily["total"] == len(days[latest])
    assert {p["arxiv_id"] for p in daily["results"]} <= days[latest]
    trend = httpx.get(f"{live.url}/api/v1/trending", params={"window": "month"}).json()
    assert trend["sort"] == "trending" and len(trend["results"]) == min(50, trend["total"])
    scores = [trend["scores"][p["arxiv_id"]] for p in trend["results"]]
    assert scores == sorted(scores, reverse=True)
    rec = records[3]
    one = httpx.get(f"{live.url}/api/v1/papers/{rec['id']}").json()
    assert one["arxiv_id"] == rec["id"] and one["upvotes"] == 0
    assert one["pdf_url"].endswith(str(rec["id"]))
    sim = httpx.get(f"{live.url}/api/v1/papers/{rec['id']}/similar")
    assert sim.status_code == 200 and isinstance(sim.json(), list)


def test_every_json_body_is_exactly_its_documented_model(
    live: Live, records: list[dict[str, object]]
) -> None:
    """The routes build their bodies by hand (no output validation): each body must be what
    its response model, as the OpenAPI document names it, validates and writes back, field
    for field; a field missing, extra or of another type fails here."""
    rec, voted = records[5], records[20]
    reader = live.service.accounts.get_or_create_user("json-shape@example.org")
    live.service.set_vote(reader.id, str(voted["id"]), True)
    day = str(voted["listing_date"])
    spec = httpx.get(f"{live.url}/openapi.json").json()["paths"]
    routes: list[tuple[str, str, dict[str, object], object]] = [
        ("/api/daily_papers", "/api/daily_papers", {"date": day}, list[HfDailyItem]),
        ("/api/papers/search", "/api/papers/search", {"q": "language model"}, list[HfDailyItem]),
        ("/api/papers/{arxiv_id}", f"/api/papers/{voted['id']}", {}, HfPaper),
        ("/api/v1/search", "/api/v1/search", {"q": "language", "mode": "lexical"}, SearchOut),
        ("/api/v1/search", "/api/v1/search", {"q": "model", "sort": "date"}, SearchOut),
        ("/api/v1/daily", "/api/v1/daily", {"date": day}, PaperListOut),
        ("/api/v1/trending", "/api/v1/trending", {"window": "month", "date": day}, PaperListOut),
        ("/api/v1/papers/{arxiv_id}", f"/api/v1/papers/{rec['id']}", {}, PaperOut),
        (
            "/api/v1/papers/{arxiv_id}/similar",
            f"/api/v1/papers/{rec['id']}/similar",
            {},
            list[PaperOut],
        ),
    ]
    for documented, path, params, model in routes:
        r = httpx.get(f"{live.url}{path}", params=params)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", path
        body = r.json()
        adapter: TypeAdapter[object] = TypeAdapter(model)
        assert adapter.dump_python(adapter.validate_python(body), mode="json") == body, path
        schema = spec[documented]["get"]["responses"]["200"]["content"]["application/json"]
        inner = (get_args(model) or (model,))[0]
        ref = f"#/components/schemas/{inner.__name__}"
        assert ref in json.dumps(schema["schema"]), (documented, schema)
    for path in (f"/api/v1/papers/{voted['id']}", f"/api/papers/{voted['id']}"):
        assert httpx.get(f"{live.url}{path}").json()["upvotes"] >= 1, path
    live.service.set_vote(reader.id, str(voted["id"]), False)


def test_openapi_and_docs_page(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    for path in ("/api/daily_papers", "/api/papers/search", "/api/v1/search", "/api/v1/trending"):
        assert path in spec["paths"]
    docs = httpx.get(f"{live.url}/docs")
    assert docs.status_code == 200 and "/api/v1/search" in docs.text
    assert "cdn" not in docs.text.lower()


def test_another_paperwire_harvests_our_daily_papers(
    live: Live, records: list[dict[str, object]], tmp_path: Path
) -> None:
    """Round trip: paperwire's own Hugging Face client (`hf-daily`) reads our
    /api/daily_papers (paging with limit and p) and gets every paper of the day."""
    days = by_day(records)
    day = max(days, key=lambda d: len(days[d]))  # the busiest day: several pages of 100
    other = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'b.db'}",
        hf_base_url=live.url,
        request_delay=0.0,
    )
    with Service(other) as service:
        report = service.hf_daily(date.fromisoformat(day))
        got = service.store.papers_listed(date(2000, 1, 1), date(2100, 1, 1))
    assert report.rejected == 0
    assert {p.arxiv_id for p in got} == days[day] and len(days[day]) > 100
    assert all(p.hf_date == date.fromisoformat(day) for p in got)


def test_v1_empty_listing_pages_say_why(live: Live, records: list[dict[str, object]]) -> None:
    """An empty page of /api/v1/daily or /api/v1/trending carries the note the website and
    `paperwire daily --json` give (listing.empty_page_note), a full page none."""
    days = sorted(by_day(records))
    latest = date.fromisoformat(days[-1])
    saturday = latest - timedelta(days=(latest.weekday() - 5) % 7)
    assert saturday > date.fromisoformat(days[0]), days
    after = latest + timedelta(days=40)
    for path, params, needle in [
        ("/api/v1/daily", {"date": saturday.isoformat()}, "weekends"),
        ("/api/v1/daily", {"date": days[0], "page": 500}, "page 500 is past the papers"),
        ("/api/v1/trending", {"date": after.isoformat()}, "is after the latest listing day"),
        ("/api/v1/daily", {"date": after.isoformat(), "view": "month"}, "after the latest"),
    ]:
        body = httpx.get(f"{live.url}{path}", params=params).json()
        assert body["results"] == [] and len(body["notes"]) == 1, (path, params, body)
        assert needle in body["notes"][0], (path, params, body["notes"])
    full = httpx.get(f"{live.url}/api/v1/daily", params={"date": days[0]}).json()
    assert full["results"] and full["notes"] == []


def test_trailing_slashes_redirect_on_every_route(
    live: Live, records: list[dict[str, object]]
) -> None:
    """A trailing slash is redirected away (307, the query kept) on the paper-id routes as on
    the others; those took `2504.16930/` and `search/` for paper ids and answered 404."""
    rec = str(records[3]["id"])
    for path, query in [
        ("/api/v1/search", "q=x"),
        ("/api/daily_papers", ""),
        ("/api/papers/search", "q=language"),
        (f"/api/v1/papers/{rec}", ""),
        (f"/api/v1/papers/{rec}/similar", "k=3"),
        (f"/api/papers/{rec}", ""),
        (f"/papers/{rec}", ""),
        (f"/papers/{rec}/export", "format=csljson"),
    ]:
        r = httpx.get(f"{live.url}{path}/", params=httpx.QueryParams(query))
        assert r.status_code == 307, (path, r.status_code, r.text[:200])
        assert r.headers["location"].endswith(f"{path}?{query}" if query else path), path
        assert httpx.get(f"{live.url}{path}/?{query}", follow_redirects=True).status_code == 200
    user = live.service.accounts.get_or_create_user("slash@example.org")
    _, secret = live.service.library.create_token(user.id, "slash")
    r = httpx.put(f"{live.url}/api/v1/votes/{rec}/", headers={"authorization": f"Bearer {secret}"})
    assert r.status_code == 307 and r.headers["location"].endswith(f"/api/v1/votes/{rec}")


def test_openapi_documents_the_answers_the_app_gives(
    live: Live, records: list[dict[str, object]]
) -> None:
    """Real requests against the schema: each answer's status code is one its operation
    documents, with the content type documented for it; invalid input is the 400 ErrorOut
    (no 422 HTTPValidationError anywhere), the import documents its body, the HTML form
    routes stay out."""
    spec = httpx.get(f"{live.url}/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(spec)
    assert not {"/subscribe", "/subscribe/manage", "/unsubscribe"} & spec["paths"].keys()
    upload = spec["paths"]["/api/v1/collections/{collection_id}/import"]["post"]
    assert {"text/plain", "multipart/form-data"} <= upload["requestBody"]["content"].keys()
    user = live.service.accounts.get_or_create_user("openapi@example.org")
    _, secret = live.service.library.create_token(user.id, "openapi")
    api = httpx.Client(base_url=live.url, headers={"authorization": f"Bearer {secret}"})
    cid = api.post("/api/v1/collections", json={"name": "Schema"}).json()["id"]
    rec = str(records[4]["id"])
    items = "/api/v1/collections/{collection_id}/items"
    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("get", "/api/v1/search", "/api/v1/search", {"params": {"q": "language"}}),
        ("get", "/api/v1/search", "/api/v1/search", {"params": {"q": "x", "per_page": 1000}}),
        ("get", "/api/daily_papers", "/api/daily_papers", {"params": {"week": "2025-X9"}}),
        ("get", "/api/v1/papers/{arxiv_id}", "/api/v1/papers/2101.99999", {}),
        ("get", "/api/v1/daily", "/api/v1/daily", {"params": {"page": 0}}),
        ("post", "/api/v1/collections", "/api/v1/collections", {"content": b"notjson"}),
        ("post", items, f"/api/v1/collections/{cid}/items", {"json": {"arxiv_ids": [rec]}}),
        ("put", "/api/v1/ratings/{arxiv_id}", f"/api/v1/ratings/{rec}", {}),
        (
            "post",
            "/api/v1/collections/{collection_id}/import",
            f"/api/v1/collections/{cid}/import",
            {"content": rec.encode(), "headers": {"content-type": "text/plain"}},
        ),
    ] + [
        (
            "get",
            "/api/v1/collections/{collection_id}/export",
            f"/api/v1/collections/{cid}/export",
            {"params": {"format": fmt}},
        )
        for fmt in ("bibtex", "csljson", "xml")
    ]
    seen = set()
    for method, documented, path, kwargs in calls:
        r = api.request(method.upper(), path, **kwargs)
        responses = spec["paths"][documented][method]["responses"]
        code = str(r.status_code)
        assert code in responses, (method, path, code, sorted(responses))
        kind = r.headers["content-type"].split(";")[0]
        assert kind in responses[code].get("content", {}), (path, code, kind, responses[code])
        seen.add(code)
    assert {"200", "400", "404"} <= seen
    api.close()
