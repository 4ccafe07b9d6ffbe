"""Digest delivery through a real SMTP server on loopback, on SQLite and PostgreSQL:
the web flow with its links, fault injection, crashes, unsubscribes and concurrency."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import DAILY_FILE
from digest_support import SmtpServer, daily_subset, free_port, parts
from paperwire.config import Settings
from paperwire.digest.scheduler import DigestScheduler
from paperwire.models import Author, Paper
from paperwire.service import Service
from paperwire.store.digest import DigestStore
from paperwire.web import subscriptions

DAY = date(2025, 3, 20)  # the subset holds listings of 2025-03-18 .. 2025-03-21
BASE = "http://testserver"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def dsettings(settings: Settings, smtp: SmtpServer, tmp_path: Path) -> Settings:
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "base_url": BASE,
            "secret_key": "test-secret-key",
            "mail_from": "paperwire <digest@paperwire.test>",
            "digest_retry_base": 0.0,
            "digest_send_workers": 1,  # deterministic order; parallel sending tested below
            "admin_token": "admin-secret",
        }
    )
    with Service(configured) as service:
        service.import_snapshot(daily_subset(DAILY_FILE, tmp_path / "subset.jsonl", 1000))
    return configured


@pytest.fixture
def service(dsettings: Settings) -> Iterator[Service]:
    with Service(dsettings) as svc:
        yield svc


@pytest.fixture
def client(dsettings: Settings, service: Service) -> TestClient:
    app = FastAPI()
    app.state.settings = dsettings
    app.state.service = service
    app.include_router(subscriptions.router)
    return TestClient(app)


def link(text: str, path: str) -> str:
    match = re.search(re.escape(BASE + path) + r"\?token=[\w.\-]+", text)
    assert match, f"no {path} link in:\n{text}"
    return match.group(0).removeprefix(BASE)


def statuses(service: Service) -> dict[str, int]:
    return DigestStore(service.store.engine).status_counts()


def test_web_flow_email_headers_parts_and_links(
    client: TestClient, service: Service, smtp: SmtpServer, dsettings: Settings
) -> None:
    first = client.post("/subscribe", data={"email": "Reader@Example.com", "categories": "cs.CL"})
    assert first.status_code == 200 and "Check your inbox" in first.text
    (confirm_mail,) = smtp.handler.wait_to("reader@example.com")
    confirm_path = link(parts(confirm_mail)["text/plain"], "/subscribe/confirm")
    assert client.get("/subscribe/confirm?token=forged").status_code == 400
    assert client.post("/subscribe/confirm", data={"token": "forged"}).status_code == 400
    confirm_token = confirm_path.split("token=")[1]
    confirmed = confirm(client, service, confirm_path, "reader@example.com")
    assert confirmed.status_code == 200 and "reader@example.com will receive" in confirmed.text
    assert client.get(confirm_path).text.count("will receive") == 1  # confirmed: says so
    again_confirmed = client.post("/subscribe/confirm", data={"token": confirm_token})
    assert again_confirmed.status_code == 200  # the button pressed twice: still subscribed

    # subscribing again: same page as for a stranger; the owner gets a manage link
    again = client.post("/subscribe", data={"email": "reader@example.com"})
    stranger = client.post("/subscribe", data={"email": "stranger@example.com"})
    assert again.text == stranger.text == first.text
    client.post("/subscribe", data={"email": "stranger@example.com"})  # asking again at once:
    assert len(smtp.handler.wait_to("stranger@example.com")) == 1  # no second (anti-bombing)
    manage_path = link(
        parts(smtp.handler.wait_to("reader@example.com", 2)[1])["text/plain"], "/subscribe/manage"
    )
    saved = client.post(
        "/subscribe/manage",
        data={
            "token": manage_path.split("token=")[1],
            "frequency": "daily",
            "categories": "cs.CL",
            "saved_searches": "language model",
            "max_papers": "8",
            "timezone": "Europe/Berlin",
            "send_time": "07:30",
        },
    )
    assert saved.status_code == 200 and "preferences are saved" in saved.text
    bad = client.post(
        "/subscribe/manage",
        data={
            "token": manage_path.split("token=")[1],
            "timezone": "Nowhere/Here",
            "frequency": "weekly",
            "weekday": "4",
            "max_papers": "12",
        },
    )
    assert bad.status_code == 400 and "IANA" in bad.text
    # the form shows what was submitted, to fix the one field (it reverted to the stored)
    assert 'value="Nowhere/Here"' in bad.text and 'value="12"' in bad.text
    assert '<option value="weekly" selected>' in bad.text
    assert '<option value="4" selected>' in bad.text
    assert 'value="cs.CL"' in bad.text  # not submitted: the stored value

    composed, sent = service.digest.run(DAY)
    assert (composed.composed, sent.sent) == (1, 1)  # the stranger never confirmed
    digest = smtp.handler.to("reader@example.com")[-1]
    assert digest["From"] == dsettings.mail_from and digest["To"] == "reader@example.com"
    assert abs(parsedate_to_datetime(str(digest["Date"])) - datetime.now(UTC)) < timedelta(
        minutes=5
    )
    assert re.fullmatch(
        r"<digest\.\d+\.daily\.2025-03-20\.[0-9a-f]{16}@paperwire\.test>", str(digest["Message-ID"])
    )
    assert digest.get_content_type() == "multipart/alternative"
    body = parts(digest)
    assert set(body) == {"text/plain", "text/html"}
    assert "Matches your search 'language model'" in body["text/plain"]
    assert "Trending in cs.CL" in body["text/plain"] and "Trending in cs.CL" in body["text/html"]
    ids = re.findall(re.escape(BASE) + r"/papers/([\d.]+)", body["text/plain"])
    assert 1 <= len(ids) <= 8 and len(set(ids)) == len(ids)
    assert all(service.paper(i) is not None for i in ids)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = str(digest["List-Unsubscribe"]).strip("<>")
    assert unsubscribe_url.startswith(BASE + "/unsubscribe?token=")

    manage = client.get(link(body["text/plain"], "/subscribe/manage"))
    assert (
        manage.status_code == 200
        and "reader@example.com" in manage.text
        and "language model" in manage.text
    )
    assert client.get(unsubscribe_url.removeprefix(BASE)).status_code == 200  # confirmation page
    one_click = client.post(
        unsubscribe_url.removeprefix(BASE),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "no more digests" in one_click.text
    assert service.digest.store.get_by_email("reader@example.com").status == "unsubscribed"  # type: ignore[union-attr]

    before = len(smtp.handler.received)
    service.digest.run(DAY + timedelta(days=1))
    service.digest.run(DAY)
    assert len(smtp.handler.received) == before  # unsubscribed: nothing more; rerun: no repeat
    assert statuses(service) == {"sent": 1}

    status = client.get("/admin/digest/status")
    assert status.status_code == 401
    status = client.get("/admin/digest/status", headers={"Authorization": "Bearer admin-secret"})
    assert status.status_code == 200 and status.json()["counts"] == {"sent": 1}


def confirm(client: TestClient, service: Service, confirm_path: str, email: str) -> Any:
    """Open the emailed link (as a mail scanner does: nothing changes; HEAD, which the
    site answers as GET, in tests/test_digest_site.py), then press the page's button
    (POST with the token)."""
    page = client.get(confirm_path)
    assert page.status_code == 200
    sub = service.digest.store.get_by_email(email)
    assert sub is not None and sub.status == "pending"
    assert f"Send the paperwire digest to <strong>{email}</strong>?" in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token and token.group(1) == confirm_path.split("token=")[1]
    assert 'action="/subscribe/confirm"' in page.text
    return client.post("/subscribe/confirm", data={"token": token.group(1)})


def test_subscribe_refuses_what_is_not_one_plain_address(
    client: TestClient, service: Service, smtp: SmtpServer
) -> None:
    """Each spelling was a new subscriber with its own mail limit, and every confirmation
    went to victim@example.com: a mail bomb through the form. Now each is refused."""
    spellings = [f"g{n}:victim@example.com" for n in range(3)]
    spellings += [f"({n})victim@example.com" for n in range(3)]
    spellings += ["Victim <victim@example.com>", "victim@example.com (x)"]
    for spelling in spellings:
        r = client.post("/subscribe", data={"email": spelling})
        assert r.status_code == 400 and "not an email address" in r.text, spelling
    assert service.digest.list_subscribers() == []
    assert client.post("/subscribe", data={"email": "victim@example.com"}).status_code == 200
    smtp.handler.wait_to("victim@example.com")
    assert [r.rcpt for r in smtp.handler.received] == [["victim@example.com"]]


def test_plus_tag_spellings_of_one_mailbox_share_its_mail_limit(
    client: TestClient, service: Service, smtp: SmtpServer
) -> None:
    """victim+1@…, victim+2@… were each a new subscriber with a limit of its own, and most
    mail services deliver them all to victim@…: one confirmation per request, a mail bomb.
    They share the mailbox's limit now; another mailbox is not held back."""
    for email in ["victim@example.com"] + [f"victim+{n}@example.com" for n in range(4)]:
        r = client.post("/subscribe", data={"email": email})
        assert r.status_code == 200 and "Check your inbox" in r.text, email
    assert client.post("/subscribe", data={"email": "victimized@example.com"}).status_code == 200
    smtp.handler.wait_to("victimized@example.com")
    time.sleep(0.5)
    assert sorted(r.rcpt[0] for r in smtp.handler.received) == [
        "victim@example.com",
        "victimized@example.com",
    ]


def test_an_unconfirmed_resubscribe_keeps_the_stored_preferences(
    client: TestClient, service: Service, smtp: SmtpServer
) -> None:
    """Anyone may type an unsubscribed address into /subscribe: that re-opened the row as
    pending and overwrote its saved searches and papers-per-email with the form's
    defaults. Now the row is re-opened with what it had; its owner confirms (and
    changes preferences through the manage link)."""
    kept = {"saved_searches": "graph neural", "max_papers": "7", "categories": "cs.LG"}
    sub = service.digest.add_subscriber("owner@example.com", kept)
    service.digest.unsubscribe(service.digest.links(sub).unsubscribe.split("token=")[1])
    r = client.post("/subscribe", data={"email": "owner@example.com", "categories": "math.AG"})
    assert r.status_code == 200 and "Check your inbox" in r.text
    reopened = service.digest.store.get(sub.id)
    assert reopened is not None and reopened.status == "pending"
    assert reopened.saved_searches == ["graph neural"] and reopened.max_papers == 7
    assert reopened.categories == ["cs.LG"]
    (mail,) = smtp.handler.wait_to("owner@example.com")
    confirmed = confirm(
        client, service, link(parts(mail)["text/plain"], "/subscribe/confirm"), "owner@example.com"
    )
    assert confirmed.status_code == 200
    back = service.digest.store.get(sub.id)
    assert back is not None and back.status == "active"
    assert (back.saved_searches, back.max_papers, back.categories) == (
        ["graph neural"],
        7,
        ["cs.LG"],
    )


def subscribe_many(service: Service, count: int, **prefs: object) -> list[str]:
    emails = [f"user{i:02d}@example.com" for i in range(count)]
    for address in emails:
        service.digest.add_subscriber(address, dict(prefs))
    return emails


def test_fault_injection_4xx_5xx_and_dropped_connection(
    dsettings: Settings, smtp: SmtpServer
) -> None:
    service = Service(dsettings.model_copy(update={"digest_send_workers": 3}))
    emails = subscribe_many(service, 12)
    h = smtp.handler
    h.temp_fail = {emails[0]: 1, emails[1]: 1, emails[2]: 2}
    h.perm_fail = {emails[3], emails[4]}
    h.drop_on_data = {5}  # the 5th message never arrives: connection cut mid-batch

    composed, first = service.digest.run(DAY)
    assert composed.composed == 12
    assert (first.sent, first.retrying, first.failed) == (6, 4, 2)
    _, second = service.digest.run(DAY)
    assert (second.sent, second.retrying, second.failed) == (3, 1, 0)
    _, third = service.digest.run(DAY)
    assert (third.sent, third.retrying, third.failed) == (1, 0, 0)
    _, fourth = service.digest.run(DAY)
    assert (fourth.sent, fourth.retrying, fourth.failed) == (0, 0, 0)

    ids = h.message_ids()
    assert len(ids) == 10 and set(ids.values()) == {1}  # every deliverable one exactly once
    delivered = {r.rcpt[0] for r in h.received}
    assert delivered == set(emails) - {emails[3], emails[4]}
    assert statuses(service) == {"sent": 10, "failed": 2}
    status = service.digest.status()
    failed = [p for p in status["problems"] if p["status"] == "failed"]
    assert {p["recipient"] for p in failed} == {emails[3], emails[4]}
    assert all(p["last_reply"].startswith("550") for p in failed)
    third_try = [m for m in service.digest.store.messages() if m.recipient == emails[2]]
    assert third_try[0].attempts == 3 and third_try[0].status == "sent"


def test_backoff_is_honoured(service: Service, smtp: SmtpServer, dsettings: Settings) -> None:
    (address,) = subscribe_many(service, 1)
    smtp.handler.temp_fail = {address: 1}
    slow = Service(dsettings.model_copy(update={"digest_retry_base": 60.0}), store=service.store)
    _, sent = slow.digest.run(DAY)
    assert sent.retrying == 1
    (msg,) = service.digest.store.messages()
    assert msg.next_attempt_at is not None
    wait = (msg.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 50 < wait <= 60
    _, again = slow.digest.run(DAY)
    assert again.sent == 0 and smtp.handler.received == []  # not due yet


def test_unsubscribe_mid_batch_receives_nothing_more(service: Service, smtp: SmtpServer) -> None:
    emails = subscribe_many(service, 5)
    leaver = service.digest.store.get_by_email(emails[3])
    assert leaver is not None
    smtp.handler.on_data = lambda n: service.digest.store.unsubscribe(leaver.id) if n == 2 else None
    composed, sent = service.digest.run(DAY)
    assert (composed.composed, sent.sent) == (5, 4)
    assert smtp.handler.to(emails[3]) == []
    assert statuses(service) == {"sent": 4, "cancelled": 1}
    service.digest.run(DAY + timedelta(days=1))
    assert smtp.handler.to(emails[3]) == []


def test_two_concurrent_senders_send_each_digest_once(
    service: Service, smtp: SmtpServer, dsettings: Settings
) -> None:
    subscribe_many(service, 20)
    service.digest.compose(day=DAY)
    workers = [Service(dsettings) for _ in range(2)]
    threads = [threading.Thread(target=w.digest.send_due) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in workers:
        w.close()
    ids = smtp.handler.message_ids()
    assert len(ids) == 20 and set(ids.values()) == {1}
    assert statuses(service) == {"sent": 20}


def test_papers_never_sent_twice_across_overlapping_periods(
    service: Service, smtp: SmtpServer
) -> None:
    (address,) = subscribe_many(service, 1, categories=["cs.CV"], max_papers=30)
    service.digest.run(DAY)
    service.digest.run(DAY + timedelta(days=1))  # window overlaps DAY
    mails = smtp.handler.to(address)
    assert len(mails) == 2
    first, second = (set(re.findall(r"/papers/([\d.]+)", parts(m)["text/plain"])) for m in mails)
    assert first and second and not first & second


def test_empty_digest_is_recorded_not_sent(service: Service, smtp: SmtpServer) -> None:
    subscribe_many(service, 2, categories=["nucl-th"])  # no such papers in the subset
    composed, sent = service.digest.run(DAY)
    assert (composed.composed, composed.empty, sent.sent) == (0, 2, 0)
    assert statuses(service) == {"empty": 2} and smtp.handler.received == []


def test_scheduler_sends_at_local_time(
    service: Service, smtp: SmtpServer, dsettings: Settings
) -> None:
    today = datetime.now(UTC).date()
    service.store.upsert_papers(
        [
            Paper(
                "2699.00001",
                "Fresh paper",
                "Abstract",
                [Author("A B")],
                ["cs.AI"],
                listing_date=today,
            )
        ]
    )
    sub = service.digest.add_subscriber(
        "early@example.com", {"send_time": "00:00", "timezone": "UTC"}
    )
    assert sub.confirmed_at is not None and sub.confirmed_at.date() == today

    def app_with(settings: Settings) -> FastAPI:
        app = FastAPI()
        app.state.settings = settings
        app.include_router(subscriptions.router)  # brings the scheduler's lifespan along
        return app

    idle = app_with(dsettings)  # digest_scheduler is off: nothing starts
    with TestClient(idle):
        assert getattr(idle.state, "digest_scheduler", None) is None
    fast = dsettings.model_copy(update={"digest_scheduler": True, "digest_scheduler_interval": 0.2})
    app = app_with(fast)
    with TestClient(app):
        assert app.state.digest_scheduler is not None
        deadline = time.monotonic() + 20
        while not smtp.handler.received and time.monotonic() < deadline:
            time.sleep(0.1)
    assert app.state.digest_scheduler is None  # stopped with the app
    (mail,) = smtp.handler.to("early@example.com")
    assert "Fresh paper" in parts(mail)["text/plain"]
    assert statuses(service) == {"sent": 1}


def test_unreachable_server_loses_nothing_and_counts_no_attempt(
    service: Service, smtp: SmtpServer, dsettings: Settings
) -> None:
    subscribe_many(service, 4)
    down = Service(dsettings.model_copy(update={"smtp_port": free_port()}), store=service.store)
    composed, sent = down.digest.run(DAY)
    assert (composed.composed, sent.sent, sent.retrying, sent.failed) == (4, 0, 1, 0)
    assert statuses(service) == {"retrying": 1, "composed": 3}  # the round stopped at once
    assert all(m.attempts == 0 for m in service.digest.store.messages())
    _, sent = service.digest.run(DAY)
    assert sent.sent == 4 and len(smtp.handler.message_ids()) == 4


def test_the_scheduler_logs_an_smtp_server_it_cannot_use(
    service: Service, dsettings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Inside `serve` nobody sees an exit code: every tick says why nothing is sent."""
    subscribe_many(service, 2)
    settings = dsettings.model_copy(
        update={"smtp_port": free_port(), "digest_scheduler_interval": 0.1}
    )
    down = Service(settings, store=service.store)
    scheduler = DigestScheduler(settings, lambda: down.digest.run(DAY))
    with caplog.at_level(logging.WARNING, logger="paperwire.digest.scheduler"):
        scheduler.start()
        deadline = time.monotonic() + 20
        while scheduler.ticks < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        scheduler.stop()
    warnings = [r.getMessage() for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) >= 2  # also on ticks with nothing due, while messages wait
    assert f"127.0.0.1:{settings.smtp_port}" in warnings[0] or settings.smtp_host in warnings[0]
    assert "stay queued" in warnings[-1]
    assert statuses(service).keys() <= {"composed", "retrying"}


def test_saved_searches_go_through_the_search_engine(service: Service, smtp: SmtpServer) -> None:
    (address,) = subscribe_many(service, 1, saved_searches=["language model"], max_papers=5)
    sub = service.digest.store.get_by_email(address)
    assert sub is not None
    # a query stored before validation existed: skipped, the rest of the digest still goes
    service.digest.store.update_preferences(sub.id, {"saved_searches": ["au:", "language model"]})
    period_hits = service.search(
        "language model since:2025-03-19 until:2025-03-20", per_page=50, mode="lexical"
    ).hits
    assert period_hits
    service.digest.run(DAY)
    (mail,) = smtp.handler.to(address)
    text = parts(mail)["text/plain"]
    assert "Matches your search 'language model'" in text and "'au:'" not in text
    sent = re.findall(r"/papers/([\d.]+)", text)
    assert sent[0] == period_hits[0].paper.arxiv_id  # the engine's best hit leads


def test_scheduled_run_uses_each_subscribers_local_day(service: Service) -> None:
    """`digest run` without --date: one instant, three local calendars."""
    moment = (datetime.now(UTC) + timedelta(days=2)).replace(hour=19, minute=30)
    for address, tz, at in [
        ("nz@example.com", "Pacific/Auckland", "07:00"),  # already tomorrow morning there
        ("la@example.com", "America/Los_Angeles", "07:00"),  # today, after 07:00
        ("de@example.com", "Europe/Berlin", "23:30"),  # today's time not reached: yesterday's
    ]:
        service.digest.add_subscriber(address, {"timezone": tz, "send_time": at})
    report = service.digest.compose(now=moment)
    assert report.composed + report.empty == 3
    periods = {m.recipient: m.period for m in service.digest.store.messages()}
    today = moment.date()
    assert periods == {
        "nz@example.com": f"daily:{today + timedelta(days=1)}",
        "la@example.com": f"daily:{today}",
        "de@example.com": f"daily:{today - timedelta(days=1)}",
    }
    again = service.digest.compose(now=moment + timedelta(minutes=5))
    assert again.skipped == 3 and again.composed + again.empty == 0  # idempotent


def test_a_run_after_days_of_downtime_mails_everything_listed_since_the_last_digest(
    service: Service, smtp: SmtpServer
) -> None:
    """Digests on day 1, then nothing until day 5: day 5's digest covers days 1..5, so the
    papers of days 2 and 3 (outside its own [4, 5] window) are mailed, each once."""
    first = datetime.now(UTC).date() + timedelta(days=3)
    days = [first + timedelta(days=n) for n in range(5)]
    hopper = [Author("Grace Hopper")]
    service.store.upsert_papers(
        [
            Paper(f"2699.1000{n}", f"Paper {n}", "Abstract", hopper, ["cs.PL"], listing_date=day)
            for n, day in enumerate(days)
        ]
    )
    service.digest.add_subscriber(
        "hopper-fan@example.com", {"send_time": "08:00", "followed_authors": ["Grace Hopper"]}
    )

    def at_nine(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=9)

    service.digest.run(now=at_nine(days[0]))
    composed, sent = service.digest.run(now=at_nine(days[4]))  # days 1..3 got no run
    mails = smtp.handler.to("hopper-fan@example.com")
    mailed = [re.findall(r"/papers/([\d.]+)", parts(m)["text/plain"]) for m in mails]
    assert [sorted(set(ids)) for ids in mailed] == [
        ["2699.10000"],
        ["2699.10001", "2699.10002", "2699.10003", "2699.10004"],
    ]
    assert len({m["Message-ID"] for m in mails}) == 2
    assert (composed.composed, composed.caught_up, sent.sent) == (1, 1, 1)  # and it says so
    again, resent = service.digest.run(now=at_nine(days[4]))  # exactly once: nothing new
    assert (again.skipped, again.composed, resent.sent) == (1, 0, 0)
    assert statuses(service) == {"sent": 2}


def test_concurrent_runs_each_report_only_what_they_composed(
    service: Service, smtp: SmtpServer, dsettings: Settings
) -> None:
    """Run B has found the digests not composed yet; run A writes them just before B
    does. B writes none of them and says so (it reported them as composed too)."""
    subscribe_many(service, 3)
    first = Service(dsettings)
    first_report: list[tuple[Any, Any]] = []

    def first_gets_there_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not first_report and statement.startswith("INSERT INTO digest_outbox"):
            first_report.append(first.digest.run(DAY))

    second = Service(dsettings)
    try:
        sa.event.listen(second.store.engine, "before_cursor_execute", first_gets_there_first)
        composed, sent = second.digest.run(DAY)
        ((first_composed, first_sent),) = first_report
    finally:
        first.close()
        second.close()
    assert (first_composed.composed, first_composed.skipped, first_sent.sent) == (3, 0, 3)
    assert (composed.composed, composed.empty, composed.skipped, sent.sent) == (0, 0, 3, 0)
    assert len(smtp.handler.message_ids()) == 3 and statuses(service) == {"sent": 3}


def run_without_hanging(service: Service) -> Any:
    """service.digest.run(DAY) on a thread, its send report; fails if it hangs."""
    outcome: list[Any] = []
    run = threading.Thread(target=lambda: outcome.append(service.digest.run(DAY)), daemon=True)
    run.start()
    run.join(120)
    assert not run.is_alive(), "digest run hung"
    return outcome[0][1]


def test_an_address_the_server_cannot_take_fails_alone_and_the_batch_goes_on(
    service: Service, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored address with a non-ASCII local part (accepted before; now refused when
    added) made smtplib raise UnicodeEncodeError at RCPT: the send worker died, the row
    stayed 'sending' with no reply, and with a few such rows every worker died and the
    run hung on its full queue. Now that message fails with the reason, once."""
    store = service.digest.store
    odd = ["zoë@example.org", "jörg@example.org", "josé@example.org", "müller@example.org"]
    for i, address in enumerate(odd):  # stored before the address check refused them
        sub = service.digest.add_subscriber(f"odd{i}@example.org")
        with service.store.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE subscribers SET email = :e WHERE id = :i"),
                {"e": address, "i": sub.id},
            )
    emails = subscribe_many(service, 8)
    sent = run_without_hanging(service)
    assert (sent.sent, sent.failed, sent.errors) == (8, 4, 0)
    assert {r.rcpt[0] for r in smtp.handler.received} == set(emails)
    failed = [m for m in store.messages() if m.status == "failed"]
    assert sorted(m.recipient for m in failed) == sorted(odd)
    # refused before any SMTP command (it was UnicodeEncodeError at RCPT before the
    # sender checked every recipient with the address check)
    assert all("not a plain email address" in (m.last_reply or "") for m in failed)
    assert statuses(service) == {"sent": 8, "failed": 4}
    _, again = service.digest.run(DAY)  # failed for good: not tried again
    assert (again.sent, again.failed, again.retrying) == (0, 0, 0)


def test_a_4xx_reply_to_the_final_dot_is_retried_under_at_most_once(
    dsettings: Settings, smtp: SmtpServer
) -> None:
    """452 to the final "." says the server did not take the message. Under at-most-once
    (digest_resend_interrupted=false) that digest was failed after one try as "may have
    been delivered"; it is retried like any 4xx and arrives once."""
    service = Service(dsettings.model_copy(update={"digest_resend_interrupted": False}))
    (grey, other) = subscribe_many(service, 2)
    smtp.handler.refuse_data = {grey: 1}
    _, first = service.digest.run(DAY)
    assert (first.sent, first.retrying, first.failed) == (1, 1, 0)
    _, second = service.digest.run(DAY)
    assert (second.sent, second.retrying, second.failed) == (1, 0, 0)
    assert len(smtp.handler.to(grey)) == 1 and len(smtp.handler.to(other)) == 1
    assert statuses(service) == {"sent": 2}


def test_a_message_whose_sender_dies_every_time_fails_after_max_attempts(
    service: Service, smtp: SmtpServer, dsettings: Settings
) -> None:
    """A row left 'sending' by a sender that died before any reply is taken again once
    its lease ran out; each claim counts a try. One that has had digest_max_attempts
    tries (a message that kills its process every time) is failed, not taken forever."""
    (address,) = subscribe_many(service, 1)
    store = service.digest.store
    assert service.digest.runner.compose(day=DAY).composed == 1
    (row,) = store.messages()
    past = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(dsettings.digest_max_attempts):  # each sender "died" holding it
        taken = store.claim(row.id, datetime.now(UTC), past, True, dsettings.digest_max_attempts)
        assert taken is not None
    assert store.claim(row.id, datetime.now(UTC), past, True, dsettings.digest_max_attempts) is None
    (row,) = store.messages()
    assert row.status == "failed" and row.attempts == dsettings.digest_max_attempts
    assert (row.last_reply or "").startswith(f"gave up after {row.attempts} attempts")
    _, sent = service.digest.run(DAY)
    assert sent.sent == 0 and smtp.handler.to(address) == []


def test_a_database_error_on_one_message_leaves_the_rest_of_the_batch_going(
    service: Service, smtp: SmtpServer
) -> None:
    """Recording one message as sent fails (here the database refuses it): that message
    is left for its lease to run out and counted as an error; the worker goes on and
    the others are delivered and recorded (the worker thread died, and the run hung)."""
    emails = subscribe_many(service, 6)
    with service.store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_sent BEFORE UPDATE ON digest_outbox "
                f"WHEN NEW.status = 'sent' AND NEW.recipient = '{emails[2]}' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_sent() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_sent BEFORE UPDATE ON digest_outbox FOR EACH ROW "
                f"WHEN (NEW.status = 'sent' AND NEW.recipient = '{emails[2]}') "
                "EXECUTE FUNCTION refuse_sent()"
            )
    sent = run_without_hanging(service)
    assert (sent.sent, sent.errors) == (6, 1)  # the server took all six
    assert {r.rcpt[0] for r in smtp.handler.received} == set(emails)
    assert statuses(service) == {"sent": 5, "sending": 1}
