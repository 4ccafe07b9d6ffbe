"""`paperwire daily`: the day/week/month lists of the website, from the command line.

The CLI and the JSON API share one listing core (paperwire.listing through the Service):
the same window, order, paging and totals, checked here against the real server."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta

import httpx
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.service import Service
from webkit import hostile_paper, live_server

MONDAY = date(2025, 6, 2)
DAYS = [MONDAY, MONDAY + timedelta(days=2), MONDAY + timedelta(days=9)]  # Mon, Wed, next Wed


def fill(settings: Settings) -> None:
    with Service(settings) as service:
        papers = [
            hostile_paper(f"2506.{10 * n + k:05d}", day)
            for n, day in enumerate(DAYS)
            for k in range(1, 4)
        ]
        papers[0] = replace(papers[0], hf_upvotes=5)  # the oldest paper, lifted by votes
        papers[-1] = replace(papers[-1], title="The newest paper")
        service.store.upsert_papers(papers)
        reader = service.accounts.get_or_create_user("reader@example.org")
        service.set_vote(reader.id, "2506.00002", True)


def daily(settings: Settings, *args: str) -> dict[str, object]:
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url or ""]
    result = CliRunner().invoke(cli, [*base, "daily", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def ids(data: dict[str, object]) -> list[str]:
    papers = data["papers"] if "papers" in data else data["results"]
    assert isinstance(papers, list)
    return [p["arxiv_id"] for p in papers]


def test_daily_lists_the_latest_day_its_neighbours_and_pages(settings: Settings) -> None:
    fill(settings)
    latest = daily(settings)
    assert latest["start"] == latest["end"] == DAYS[2].isoformat()
    assert ids(latest) == ["2506.00023", "2506.00022", "2506.00021"]  # newest first
    assert latest["prev"] == DAYS[1].isoformat() and latest["next"] is None
    monday = daily(settings, "--date", MONDAY.isoformat())
    assert monday["prev"] is None and monday["next"] == DAYS[1].isoformat()
    assert monday["total"] == 3
    upvotes = {p["arxiv_id"]: p["upvotes"] for p in monday["papers"]}  # type: ignore[union-attr]
    assert upvotes == {"2506.00001": 5, "2506.00002": 1, "2506.00003": 0}
    week = daily(settings, "--date", DAYS[1].isoformat(), "--period", "week", "--per-page", "4")
    assert (week["start"], week["end"], week["total"]) == ("2025-06-02", "2025-06-08", 6)
    second = daily(
        settings, "--date", "2025-06-05", "--period", "week", "--per-page", "4", "--page", "2"
    )
    assert ids(week) + ids(second) == [f"2506.{i:05d}" for i in (13, 12, 11, 3, 2, 1)]


def nav_link(html: str, rel: str) -> str | None:
    """The day the page's rel="prev"/"next" link goes to."""
    found = re.search(rf'rel="{rel}" href="/\?date=([\d-]+)', html)
    return found.group(1) if found else None


def test_days_whose_papers_are_all_deleted_are_not_listing_days(settings: Settings) -> None:
    fill(settings)
    withdrawn = [MONDAY + timedelta(days=1), DAYS[2] + timedelta(days=1)]  # Tue, next Thu
    with Service(settings) as service:  # every paper of those days deleted (OAI-PMH)
        service.store.upsert_papers(
            [
                replace(hostile_paper(f"2506.0090{k}", day), deleted=True)
                for k, day in enumerate(withdrawn)
            ]
        )
    latest = daily(settings)
    assert (latest["start"], latest["total"], latest["next"]) == ("2025-06-11", 3, None)
    assert daily(settings, "--date", MONDAY.isoformat())["next"] == "2025-06-04"
    assert daily(settings, "--date", "2025-06-04")["prev"] == "2025-06-02"
    with live_server(settings) as live:
        home = httpx.get(f"{live.url}/").text
        monday = httpx.get(f"{live.url}/", params={"date": "2025-06-02"}).text
        feed = httpx.get(f"{live.url}/feeds/daily.rss").text
    assert "Wednesday, June 11, 2025" in home and nav_link(home, "next") is None
    assert nav_link(monday, "next") == "2025-06-04"
    assert "June 11, 2025" in feed and feed.count("<item>") == 3


def test_a_day_only_hugging_face_lists_is_a_listing_day_everywhere(settings: Settings) -> None:
    fill(settings)
    hf_day = DAYS[2] + timedelta(days=2)  # Fri 06-13: one paper, known from HF alone
    hf_only = replace(hostile_paper("2506.00901", hf_day), listing_date=None, hf_date=hf_day)
    with Service(settings) as service:
        service.store.upsert_papers([hf_only])
    latest = daily(settings)
    assert (latest["start"], ids(latest), latest["prev"]) == (
        "2025-06-13",
        ["2506.00901"],
        "2025-06-11",
    )
    assert daily(settings, "--date", "2025-06-11")["next"] == "2025-06-13"
    with live_server(settings) as live:
        home = httpx.get(f"{live.url}/").text
        wednesday = httpx.get(f"{live.url}/", params={"date": "2025-06-11"}).text
        after = httpx.get(f"{live.url}/", params={"date": "2025-06-16"}).text
    assert "Friday, June 13, 2025" in home and nav_link(home, "prev") == "2025-06-11"
    assert nav_link(wednesday, "next") == "2025-06-13"
    assert "after the latest listing day, Friday, June 13, 2025" in after
    assert nav_link(after, "prev") == "2025-06-13"


def test_cli_dates_are_the_days_the_web_takes_with_its_message(settings: Settings) -> None:
    """One date check (listing.parse_day) for pages, API and CLI: days past 2999-12-31
    were taken by the CLI and crashed it (OverflowError one day or week past them)."""
    fill(settings)
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url or ""]
    with live_server(settings) as live:
        web = httpx.get(f"{live.url}/api/v1/daily", params={"date": "3000-01-01"})
    assert web.status_code == 400 and "date must be a date like 2025-06-30" in web.text
    for command, option, value in (
        (["daily", "--period", "week"], "date", "9999-12-27"),
        (["daily", "--sort", "trending"], "date", "9999-12-31"),
        (["daily"], "date", "3000-01-01"),
        (["digest", "run", "--dry-run"], "date", "9999-12-31"),
        (["hf-daily"], "date", "3000-01-01"),
        (["harvest", "--since", "2025-06-01"], "until", "3000-01-01"),
    ):
        result = CliRunner().invoke(cli, [*base, *command, f"--{option}", value])
        said = f"{option} must be a date like 2025-06-30, not '{value}'"
        assert result.exit_code == 2 and said in result.output, (command, result.output)
    last = daily(settings, "--date", "2999-12-31", "--period", "week", "--sort", "trending")
    assert (last["start"], last["end"], last["total"]) == ("2999-12-30", "3000-01-05", 0)


def test_a_page_past_the_end_says_so_like_search(settings: Settings) -> None:
    fill(settings)
    past = daily(settings, "--date", MONDAY.isoformat(), "--page", "100")
    assert past["total"] == 3 and past["papers"] == []
    assert past["notes"] == ["page 100 is past the papers: 3 paper(s) make 1 page(s) of 50"]
    assert daily(settings, "--date", MONDAY.isoformat())["notes"] == []
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url or ""]
    table = CliRunner().invoke(cli, [*base, "daily", "--date", "2025-06-02", "--page", "100"])
    assert table.exit_code == 0 and "note: page 100 is past the papers" in table.output
    sunday = daily(settings, "--date", "2025-06-08")
    assert sunday["notes"] == ["arXiv does not announce papers on weekends"]
    after = daily(settings, "--date", "2030-01-01")
    assert after["notes"] == [
        "Tuesday, January 1, 2030 is after the latest listing day, Wednesday, June 11, 2025"
    ]
    with live_server(settings) as live:  # the JSON APIs: an empty page, with its total
        v1 = httpx.get(f"{live.url}/api/v1/daily", params={"date": "2025-06-02", "page": 100})
        hf = httpx.get(f"{live.url}/api/daily_papers", params={"date": "2025-06-02", "p": 100})
    assert v1.status_code == 200 and v1.json()["results"] == [] and v1.json()["total"] == 3
    assert hf.status_code == 200 and hf.json() == []


def test_daily_trending_matches_the_api_and_bad_input_is_a_clear_error(
    settings: Settings,
) -> None:
    fill(settings)
    cli_month = daily(settings, "--date", "2025-06-20", "--period", "month", "--sort", "trending")
    assert cli_month["total"] == 9
    assert ids(cli_month)[0] == "2506.00001"  # 5 HF upvotes outweigh eight days of age
    with live_server(settings) as live:
        api = httpx.get(
            f"{live.url}/api/v1/daily",
            params={"date": "2025-06-20", "view": "month", "sort": "trending"},
        ).json()
    assert ids(api) == ids(cli_month) and api["total"] == cli_month["total"]
    scores = {p["arxiv_id"]: p["score"] for p in cli_month["papers"]}  # type: ignore[union-attr]
    assert scores == api["scores"]

    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url or ""]
    bad = CliRunner().invoke(cli, [*base, "daily", "--date", "2025-13-01"])
    assert bad.exit_code == 2 and "2025-13-01" in bad.output
    empty = Settings(data_dir=settings.data_dir / "empty")
    empty.data_dir.mkdir()  # an installation without papers yet (none at all: refused)
    none = CliRunner().invoke(cli, ["--data-dir", str(empty.data_dir), "daily"])
    assert none.exit_code == 1 and "no papers yet" in none.output
