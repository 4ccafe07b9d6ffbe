"""Honest answers when the mail server is down (issue 14, defect 2), through the real
server and a real SMTP server on loopback that is down, then up, then down again.

Subscribe and sign-in spend their per-address limit only on a mail that went out, so a
retry after a failure really sends; and while mail is down both say so the same way for
every address (an address just submitted is not told apart by 503 vs 200)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from aiosmtpd.controller import Controller

from digest_support import free_port
from paperwire.config import Settings
from paperwire.mail import MAIL_DOWN
from webkit import Live, Mailbox, live_server

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
DOWN = MAIL_DOWN.split(",")[0]  # "We could not send email just now"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def live(settings: Settings, port: int) -> Iterator[Live]:
    with live_server(settings, smtp_host="127.0.0.1", smtp_port=port) as running:
        yield running


@contextmanager
def mail_up(port: int) -> Iterator[Mailbox]:
    box = Mailbox(port=port)
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def post(client: httpx.Client, path: str, email: str) -> httpx.Response:
    match = CSRF.search(client.get(path).text)
    assert match, f"{path} has no CSRF token"
    return client.post(path, data={"email": email, "csrf_token": match.group(1)})


def sent_to(box: Mailbox, email: str) -> int:
    time.sleep(0.3)  # a mail the server took is in the box before the answer; allow stragglers
    with box.lock:
        return sum(1 for m in box.messages if str(m["To"]) == email)


def test_subscribe_retry_after_a_mail_failure_sends_and_never_reveals(
    live: Live, port: int
) -> None:
    with httpx.Client(base_url=live.url) as client:
        first = post(client, "/subscribe", "reader@example.com")
        again = post(client, "/subscribe", "reader@example.com")
        other = post(client, "/subscribe", "other@example.com")
        assert first.status_code == again.status_code == other.status_code == 503
        assert DOWN in again.text and again.text == other.text  # nothing to tell them apart
        with mail_up(port) as box:
            retry = post(client, "/subscribe", "reader@example.com")
            assert retry.status_code == 200 and "Check your inbox" in retry.text
            body = box.wait_for("reader@example.com").get_body(("plain",))
            assert body is not None and "/subscribe/confirm?token=" in body.get_content()
            limited = post(client, "/subscribe", "reader@example.com")
            fresh = post(client, "/subscribe", "fresh@example.com")
            assert limited.status_code == fresh.status_code == 200
            assert limited.text == fresh.text
            assert sent_to(box, "reader@example.com") == 1  # the limit holds once mail went out
        just_sent = post(client, "/subscribe", "reader@example.com")  # limited, mail down again
        stranger = post(client, "/subscribe", "stranger@example.com")
        assert just_sent.status_code == stranger.status_code == 503
        assert just_sent.text == stranger.text


def test_login_says_when_no_link_was_sent_and_a_retry_sends_one(live: Live, port: int) -> None:
    with httpx.Client(base_url=live.url) as client:
        for _ in range(7):  # more than LINKS_PER_HOUR: failures do not spend the limit
            down = post(client, "/login", "reader@example.org")
            assert down.status_code == 503
            assert DOWN in down.text and "Check your inbox" not in down.text
        with mail_up(port) as box:
            up = post(client, "/login", "reader@example.org")
            assert up.status_code == 200 and "Check your inbox" in up.text
            assert client.get(box.login_link("reader@example.org")).status_code == 200
            answers = {post(client, "/login", "reader@example.org").status_code for _ in range(5)}
            assert answers == {200}
            assert sent_to(box, "reader@example.org") == 5  # LINKS_PER_HOUR, then limited
        limited = post(client, "/login", "reader@example.org")
        fresh = post(client, "/login", "fresh@example.org")
        assert limited.status_code == fresh.status_code == 503
        assert DOWN in limited.text and DOWN in fresh.text
