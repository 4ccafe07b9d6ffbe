"""Pure parts of the digest: schedule (time zones, DST), composition, preferences, rendering."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paperwire.digest.compose import CandidatePool, compose_digest, match_locally
from paperwire.digest.preferences import PreferenceError, clean_email, clean_preferences
from paperwire.digest.render import Links, render_digest
from paperwire.digest.schedule import Period, catch_up, due_period, period_for, send_at
from paperwire.models import Author, Paper, Subscriber
from paperwire.names import author_key
from paperwire.web.auth import normalise_email


def sub(**kw: object) -> Subscriber:
    base: dict[str, object] = {"id": 1, "email": "a@example.com", "status": "active"}
    base.update(kw)
    return Subscriber(**base)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- schedule -------------------------------------------------------------------------


def test_send_time_follows_the_zone_offset_in_winter_and_summer() -> None:
    berlin = sub(timezone="Europe/Berlin", send_time="08:00")
    assert send_at(berlin, date(2026, 1, 15)) == utc(2026, 1, 15, 7, 0)  # CET +1
    assert send_at(berlin, date(2026, 7, 15)) == utc(2026, 7, 15, 6, 0)  # CEST +2


def test_dst_gap_moves_forward_and_repeated_hour_is_taken_once() -> None:
    ny = sub(timezone="America/New_York", send_time="02:30")
    # 2026-03-08: clocks jump 02:00 -> 03:00 EDT; 02:30 does not exist -> 03:30 EDT = 07:30 UTC
    assert send_at(ny, date(2026, 3, 8)) == utc(2026, 3, 8, 7, 30)
    ny_fold = sub(timezone="America/New_York", send_time="01:30")
    # 2026-11-01: 01:30 happens twice; the first (EDT, -4) is used -> 05:30 UTC
    assert send_at(ny_fold, date(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)
    # the day before the change it is still EDT, the day after EST
    assert send_at(ny_fold, date(2026, 11, 2)) == utc(2026, 11, 2, 6, 30)


def test_due_period_before_and_after_the_local_send_time() -> None:
    s = sub(timezone="Europe/Berlin", send_time="08:00", confirmed_at=utc(2026, 1, 1))
    assert due_period(s, utc(2026, 7, 15, 5, 59)) == Period(
        "daily:2026-07-14", date(2026, 7, 13), date(2026, 7, 14)
    )
    assert due_period(s, utc(2026, 7, 15, 6, 0)).key == "daily:2026-07-15"  # type: ignore[union-attr]


def test_same_instant_is_a_different_local_day_across_the_date_line() -> None:
    moment = utc(2026, 7, 15, 20, 0)
    auckland = sub(timezone="Pacific/Auckland", send_time="07:00", confirmed_at=utc(2026, 1, 1))
    la = sub(timezone="America/Los_Angeles", send_time="07:00", confirmed_at=utc(2026, 1, 1))
    assert due_period(auckland, moment).key == "daily:2026-07-16"  # type: ignore[union-attr]
    assert due_period(la, moment).key == "daily:2026-07-15"  # type: ignore[union-attr]


def test_nothing_due_before_the_day_of_confirmation() -> None:
    s = sub(send_time="08:00", confirmed_at=utc(2026, 7, 15, 7, 0))
    assert due_period(s, utc(2026, 7, 15, 7, 30)) is None  # yesterday: before confirmation
    assert due_period(s, utc(2026, 7, 15, 8, 0)).key == "daily:2026-07-15"  # type: ignore[union-attr]


def test_weekly_only_on_its_weekday_and_covers_a_week() -> None:
    weekly = sub(frequency="weekly", weekday=2, confirmed_at=utc(2026, 1, 1))  # Wednesday
    assert period_for(weekly, date(2026, 7, 14)) is None  # Tuesday
    wed = period_for(weekly, date(2026, 7, 15))
    assert wed == Period("weekly:2026-07-15", date(2026, 7, 8), date(2026, 7, 15))
    # Thursday 07:00 UTC, before the 08:00 send time: still Wednesday's period (catch-up)
    assert due_period(weekly, utc(2026, 7, 16, 7, 0)) == wed
    assert due_period(weekly, utc(2026, 7, 17, 9, 0)) is None  # Friday: nothing
    daily = period_for(sub(), date(2026, 7, 14))
    assert daily == Period("daily:2026-07-14", date(2026, 7, 13), date(2026, 7, 14))


def test_a_digest_after_missed_ones_reaches_back_to_the_previous_one_at_most_a_week() -> None:
    day = period_for(sub(), date(2026, 3, 31))
    assert day is not None
    assert catch_up(day, "daily", None) == day  # no previous digest: its own window
    assert catch_up(day, "daily", date(2026, 3, 30)) == day  # yesterday's: nothing missed
    # down after 03-26: 03-27 .. 03-30 got no digest, so 03-31 covers them (same key)
    assert catch_up(day, "daily", date(2026, 3, 26)) == Period(
        "daily:2026-03-31", date(2026, 3, 26), date(2026, 3, 31)
    )
    assert catch_up(day, "daily", date(2026, 1, 1)).start == date(2026, 3, 24)  # a week
    week = period_for(sub(frequency="weekly", weekday=1), date(2026, 3, 31))  # Tuesday
    assert week is not None and week.start == date(2026, 3, 24)
    assert catch_up(week, "weekly", date(2026, 3, 17)).start == date(2026, 3, 17)
    assert catch_up(week, "weekly", date(2026, 1, 1)).start == date(2026, 3, 17)  # 2 weeks


# -- composition ----------------------------------------------------------------------


def paper(i: int, title: str, cats: list[str], authors: list[str], abstract: str = "x") -> Paper:
    return Paper(
        f"2607.{i:05d}",
        title,
        abstract,
        authors=[Author(a) for a in authors],
        categories=cats,
        listing_date=date(2026, 7, 1),
    )


PAPERS = [
    paper(1, "Diffusion policy for robots", ["cs.RO"], ["Ana Núñez"], "diffusion policy learning"),
    paper(2, "Language models <b>& tables</b>", ["cs.CL"], ["Bo Li"]),
    paper(3, "Another language model", ["cs.CL", "cs.LG"], ["Yann LeCun"]),
    paper(4, "Vision transformers", ["cs.CV"], ["Bo Li"]),
    paper(5, "Graph learning", ["cs.LG"], ["C. D. Smith"]),
]


def pool() -> CandidatePool:
    trending = [p.arxiv_id for p in reversed(PAPERS)]  # 5, 4, 3, 2, 1
    built = CandidatePool.build(date(2026, 6, 30), date(2026, 7, 1), PAPERS, trending)
    built.search_hits["diffusion policy"] = match_locally("diffusion policy", PAPERS)
    return built


PERIOD = Period("daily:2026-07-01", date(2026, 6, 30), date(2026, 7, 1))


def test_sections_explain_themselves_and_never_repeat_a_paper() -> None:
    s = sub(
        saved_searches=["diffusion policy"],
        followed_authors=["ana nunez", "Bo Li"],
        categories=["cs.CL"],
        max_papers=10,
    )
    digest = compose_digest(s, PERIOD, pool(), already_sent=set())
    reasons = [(sec.reason, [p.arxiv_id for p in sec.papers]) for sec in digest.sections]
    assert reasons == [
        ("matches your search 'diffusion policy'", ["2607.00001"]),
        ("new from followed author Bo Li", ["2607.00002", "2607.00004"]),
        ("trending in cs.CL", ["2607.00003"]),
    ]
    # "ana nunez" matched paper 1, but the search section claimed it first
    assert len(digest.paper_ids) == len(set(digest.paper_ids))


def test_already_sent_papers_and_max_papers_are_respected() -> None:
    s = sub(categories=["cs.CL", "cs.LG"], max_papers=2)
    digest = compose_digest(s, PERIOD, pool(), already_sent={"2607.00003"})
    assert digest.paper_ids == ["2607.00002", "2607.00005"]  # one per category
    everything = {p.arxiv_id for p in PAPERS}
    assert compose_digest(sub(), PERIOD, pool(), already_sent=everything).empty


def test_categories_match_as_search_matches_them() -> None:
    """An archive (cs) takes every class in it, and a class in any letter case is found:
    a 'cs' subscriber got nothing before (papers were filed under their exact classes)."""
    archive = compose_digest(sub(categories=["cs"], max_papers=10), PERIOD, pool(), set())
    assert [sec.reason for sec in archive.sections] == ["trending in cs"]
    assert archive.paper_ids == [
        "2607.00005",
        "2607.00004",
        "2607.00003",
        "2607.00002",
        "2607.00001",
    ]
    lower = compose_digest(sub(categories=["cs.cl"], max_papers=10), PERIOD, pool(), set())
    assert lower.paper_ids == ["2607.00003", "2607.00002"]
    assert compose_digest(sub(categories=["math"]), PERIOD, pool(), set()).empty


def test_no_preferences_means_overall_trending() -> None:
    digest = compose_digest(sub(max_papers=3), PERIOD, pool(), set())
    assert digest.sections[0].reason == "trending on paperwire"
    assert digest.paper_ids == ["2607.00005", "2607.00004", "2607.00003"]


def test_author_names_normalised() -> None:
    assert author_key("  C. D.  Smith ") == author_key("c d smith")
    assert author_key("Ana Núñez") == "ana nunez"


def test_followed_authors_meet_their_latex_spellings_in_the_papers() -> None:
    """arXiv writes T\\"ornberg, Sch{\\"o}lkopf, Erd\\H{o}s; a subscriber types them in
    Unicode, with or without accents (and the other way round): each is one name."""
    written = [
        'Petter T\\"ornberg',
        'Bernhard Sch{\\"o}lkopf',
        "Paul Erd\\H{o}s",
        "Pat O\u2019Brien",
        "\u202aAnn\u200b Lee\u202c",
        "Ana Núñez",
    ]
    papers = [paper(i, f"Paper {i}", ["cs.CL"], [name]) for i, name in enumerate(written, 1)]
    built = CandidatePool.build(date(2026, 6, 30), date(2026, 7, 1), papers, [])
    followed = ["Petter Törnberg", "bernhard scholkopf", "PAUL ERDŐS", "Pat O'Brien", "Ann Lee"]
    followed.append("Ana N\\'u\\~nez")
    s = sub(followed_authors=followed, max_papers=10)
    digest = compose_digest(s, PERIOD, built, already_sent=set())
    assert [(sec.reason, [p.arxiv_id for p in sec.papers]) for sec in digest.sections] == [
        (f"new from followed author {name}", [f"2607.{i:05d}"])
        for i, name in enumerate(followed, 1)
    ]


def test_followed_authors_of_the_preferences_are_kept_readable() -> None:
    """The digest's own list is stored as a follow on the site is: LaTeX read, invisible
    characters dropped; a line of only invisible characters is a blank line."""
    raw = 'P. T\\"ornberg\n\u200b\u2060\n\u202eAnn Lee\u202c\n  \n'
    assert clean_preferences({"followed_authors": raw})["followed_authors"] == [
        "P. Törnberg",
        "Ann Lee",
    ]
    searches = clean_preferences({"saved_searches": ["graph nets", "\u200b", "\u2066\u2069"]})
    assert searches["saved_searches"] == ["graph nets"]


# -- preferences ------------------------------------------------------------------------


def test_preferences_are_checked_with_clear_messages() -> None:
    ok = clean_preferences(
        {
            "frequency": "weekly",
            "send_time": "7:05",
            "timezone": "Asia/Kolkata",
            "categories": "cs.CL, cs.LG",
            "saved_searches": "diffusion policy\n\n  graph   nets \n",
            "max_papers": "12",
            "weekday": "6",
        }
    )
    assert ok["send_time"] == "07:05"
    assert ok["categories"] == ["cs.CL", "cs.LG"]
    assert clean_preferences({"categories": ["hep-th", "math.GT,astro-ph.CO"]})["categories"] == [
        "hep-th",
        "math.GT",
        "astro-ph.CO",
    ]
    assert ok["saved_searches"] == ["diffusion policy", "graph nets"]
    for bad, message in [
        ({"frequency": "hourly"}, "daily or weekly"),
        ({"send_time": "25:00"}, "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"categories": "not a category!"}, "arXiv classes"),
        ({"categories": "cs.CL, notacat"}, "'notacat' is not an arXiv category"),
        ({"categories": ["cs.CL", "xx.YY"]}, "'xx.YY' is not an arXiv category"),
        ({"max_papers": "0"}, "between 1 and"),
        ({"weekday": "9"}, "weekday"),
        ({"saved_searches": "ok words\ngraph au:"}, "saved search 'graph au:'"),
    ]:
        with pytest.raises(PreferenceError, match=message):
            clean_preferences(bad)
    with pytest.raises(PreferenceError, match="not an email"):
        clean_email("no-at-sign")
    assert clean_email(" Someone@Example.COM ") == "someone@example.com"


def test_addresses_smtp_cannot_take_are_refused_and_international_domains_kept() -> None:
    """A non-ASCII local part needs SMTPUTF8 end to end: refused when added, with what
    to do (it was stored, then failed at the server on every try). An international
    domain goes to its ASCII (IDNA) form, the one SMTP and DNS use."""
    for address in ("zoë@example.org", "JÖRG@example.org", "用户@example.com"):
        with pytest.raises(PreferenceError, match="ASCII before the @"):
            clean_email(address)
    assert clean_email("Anna@Bücher.Example") == "anna@xn--bcher-kva.example"
    assert clean_email("a@xn--bcher-kva.example") == "a@xn--bcher-kva.example"
    with pytest.raises(PreferenceError, match="not an email"):
        clean_email("a@bü cher.example")


SPELLINGS_OF_ONE_MAILBOX = [  # each named victim@example.org to a mail parser
    "(0)victim@example.org",
    "victim(1)@example.org",
    "victim@(2)example.org",
    "g0:victim@example.org",
    "g0:victim@example.org;",
    "Victim <victim@example.org>",
    "<victim@example.org>",
    "victim@example.org (Victim)",
    '"victim"@example.org',
    "vic tim@example.org",
    "victim@example.org,other@example.org",
    "victim@[127.0.0.1]",
    "victim@example.org.",
    ".victim@example.org",
    "vic..tim@example.org",
    "victim\\@example.org",
    "a@b@example.org",
]


def test_the_shared_address_check_takes_only_a_plain_address() -> None:
    """Comments, groups, display names, quotes and whitespace were taken: each spelling
    was a new address (its own limit counter, subscriber and account) while SMTP mailed
    them all to victim@example.org. One check serves the subscribe form, the CLI and
    sign-in (normalise_email)."""
    for raw in SPELLINGS_OF_ONE_MAILBOX:
        for check in (clean_email, normalise_email):
            with pytest.raises(ValueError, match="not an email address"):
                check(raw)
    for plain in ("victim@example.org", "o'brien+digest@mail.example.co.uk", "a_b-c@localhost"):
        assert clean_email(plain) == normalise_email(plain) == plain
    assert normalise_email(" Victim@Example.ORG ") == "victim@example.org"
    with pytest.raises(ValueError, match="ASCII before the @"):
        normalise_email("jörg@example.org")


# -- rendering --------------------------------------------------------------------------


def test_render_escapes_paper_text_and_links_to_paper_pages() -> None:
    s = sub(categories=["cs.CL"], max_papers=5)
    digest = compose_digest(s, PERIOD, pool(), set())
    links = Links("http://127.0.0.1:9/", "http://m/manage?token=a&b", "http://m/unsub?token=c")
    out = render_digest(digest, links)
    assert out.subject == "paperwire daily digest 2026-07-01: 2 papers"
    assert "Language models &lt;b&gt;&amp; tables&lt;/b&gt;" in out.html
    assert "<b>&" not in out.html
    assert 'href="http://127.0.0.1:9/papers/2607.00002"' in out.html
    assert "manage?token=a&amp;b" in out.html
    assert "Trending in cs.CL" in out.text and "http://127.0.0.1:9/papers/2607.00003" in out.text
    assert "Language models <b>& tables</b>" in out.text  # plain text stays plain
