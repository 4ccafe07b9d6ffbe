"""Sign-in by emailed link (real SMTP on loopback), sessions, CSRF and votes, through a
real running server on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

from paperwire.config import Settings
from paperwire.models import User
from paperwire.service import Service
from paperwire.web.app import RedactTokens
from paperwire.web.auth import Auth, load_secret_key
from webkit import Live, Mailbox, hostile_paper, live_server, smtp_server

DAY = date(2025, 6, 2)
IDS = [f"2506.{n:05d}" for n in range(1, 6)]
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def seeded(settings: Settings) -> Settings:
    with Service(settings) as service:
        service.store.upsert_papers([hostile_paper(i, DAY) for i in IDS])
    return settings


@pytest.fixture
def live(settings: Settings, mailbox: Mailbox) -> Iterator[Live]:
    seeded(settings)
    with live_server(settings, smtp_host=mailbox.host, smtp_port=mailbox.port) as running:
        yield running


def csrf_of(client: httpx.Client, path: str = "/login") -> str:
    match = CSRF.search(client.get(path).text)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: httpx.Client, mailbox: Mailbox, email: str) -> None:
    token = csrf_of(client)
    sent = client.post("/login", data={"email": email, "csrf_token": token, "next": "/trending"})
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    link = mailbox.login_link(email)
    confirm = client.get(link)
    assert confirm.status_code == 200 and f"Sign in as {email.lower()}?" in confirm.text
    login_token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert login_token
    done = client.post(
        "/login/verify",
        data={"token": login_token.group(1), "csrf_token": csrf_of(client), "next": "/trending"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/trending"
    cookie = done.headers["set-cookie"].lower()
    assert "pw_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_magic_link_sign_in_vote_toggle_and_sign_out(live: Live, mailbox: Mailbox) -> None:
    with httpx.Client(base_url=live.url) as client:
        sign_in(client, mailbox, "Reader@Example.org")
        home = client.get("/")
        assert "reader@example.org" in home.text and "Sign out" in home.text
        token = CSRF.search(home.text).group(1)  # type: ignore[union-attr]
        up = client.post("/vote", data={"arxiv_id": IDS[0], "action": "up", "csrf_token": token})
        assert up.status_code == 303
        api = client.get(f"/api/v1/papers/{IDS[0]}").json()
        assert api["upvotes"] == 1
        page = client.get(f"/papers/{IDS[0]}").text
        assert 'aria-pressed="true"' in page
        again = client.post(
            "/vote",
            data={"arxiv_id": IDS[0], "action": "up", "csrf_token": token},
            headers={"accept": "application/json"},
        )
        assert again.json() == {"arxiv_id": IDS[0], "voted": True, "upvotes": 1}
        down = client.post(
            "/vote",
            data={"arxiv_id": IDS[0], "action": "down", "csrf_token": token},
            headers={"accept": "application/json"},
        )
        assert down.json()["upvotes"] == 0
        out = client.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303
        assert "Sign in" in client.get("/").text
        refused = client.put(f"/api/v1/votes/{IDS[0]}", headers={"x-csrf-token": token})
        assert refused.status_code == 401


def test_reused_tampered_and_foreign_tokens_are_refused(live: Live, mailbox: Mailbox) -> None:
    with httpx.Client(base_url=live.url) as client:
        sign_in(client, mailbox, "once@example.org")
        link = mailbox.login_link("once@example.org")
        token = httpx.URL(link).params["token"]
        reuse = client.post("/login/verify", data={"token": token, "csrf_token": csrf_of(client)})
        assert reuse.status_code == 400 and "already used" in reuse.text
        # the confirm page says so too, instead of offering a button that cannot work
        again = client.get("/login/verify", params={"token": token})
        assert again.status_code == 400 and "already used" in again.text
        assert "Sign in as" not in again.text
        tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
        for bad in (
            tampered,
            "garbage",
            URLSafeTimedSerializer("other key", salt="paperwire-login").dumps(
                {"e": "once@example.org", "n": "x"}
            ),
        ):
            r = client.get("/login/verify", params={"token": bad})
            assert r.status_code == 400 and "not valid" in r.text
            r = client.post("/login/verify", data={"token": bad, "csrf_token": csrf_of(client)})
            assert r.status_code == 400 and "pw_session" not in r.headers.get("set-cookie", "")


def test_sign_in_emails_are_rate_limited_per_address(live: Live, mailbox: Mailbox) -> None:
    with httpx.Client(base_url=live.url) as client:
        for _ in range(7):
            r = client.post(
                "/login", data={"email": "spam@example.org", "csrf_token": csrf_of(client)}
            )
            assert r.status_code == 200 and "Check your inbox" in r.text
        mailbox.wait_for("spam@example.org")
        time.sleep(0.5)
        sent = [m for m in mailbox.messages if m["To"] == "spam@example.org"]
        assert len(sent) == 5
        assert "token" not in sent[0]["Subject"]
        # +tag spellings reach the same inbox: they share its limit
        for n in range(3):
            r = client.post(
                "/login", data={"email": f"spam+{n}@example.org", "csrf_token": csrf_of(client)}
            )
            assert r.status_code == 200 and "Check your inbox" in r.text
        time.sleep(0.5)
        assert not [m for m in mailbox.messages if m["To"].startswith("spam+")]


def test_sign_in_refuses_what_is_not_one_plain_address_that_can_be_mailed(
    live: Live, mailbox: Mailbox
) -> None:
    """ "(0)victim@example.org", "(1)victim@…" and "g0:victim@example.org" each had a limit
    counter of their own, yet SMTP mailed them all to victim@example.org (mail bombing,
    and an account per spelling); "jörg@example.org" was told "we sent a link" while the
    send failed. Each is now refused as the subscribe form refuses it, and nothing goes
    out."""
    spellings = [f"({n})victim@example.org" for n in range(7)]
    spellings += ["g0:victim@example.org", "Victim <victim@example.org>", '"v"@example.org']
    with httpx.Client(base_url=live.url) as client:
        for spelling in spellings:
            r = client.post("/login", data={"email": spelling, "csrf_token": csrf_of(client)})
            assert r.status_code == 400 and "not an email address" in r.text, spelling
            assert "Check your inbox" not in r.text
        r = client.post("/login", data={"email": "jörg@example.org", "csrf_token": csrf_of(client)})
        assert r.status_code == 400 and "ASCII before the @" in r.text
    time.sleep(0.5)  # a send runs on a background thread: give one the time to arrive
    assert mailbox.messages == []


def test_a_link_used_by_parallel_requests_signs_in_once(live: Live) -> None:
    auth = Auth(live.settings, live.service.accounts)
    token = httpx.URL(auth.issue_login_link("race@example.org")).params["token"]
    clients = [httpx.Client(base_url=live.url) for _ in range(8)]
    forms = [{"token": token, "csrf_token": csrf_of(c)} for c in clients]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(
            pool.map(
                lambda n: clients[n].post("/login/verify", data=forms[n]).status_code, range(8)
            )
        )
    assert sorted(codes) == [303] + [400] * 7
    for client in clients:
        client.close()


def test_expired_link_is_refused(settings: Settings, mailbox: Mailbox) -> None:
    seeded(settings)
    overrides = {"smtp_host": mailbox.host, "smtp_port": mailbox.port, "login_link_max_age": 1}
    with live_server(settings, **overrides) as live, httpx.Client(base_url=live.url) as client:
        client.post("/login", data={"email": "late@example.org", "csrf_token": csrf_of(client)})
        link = mailbox.login_link("late@example.org")
        time.sleep(2.2)
        r = client.get(link)
        assert r.status_code == 400 and "expired" in r.text


def test_every_form_refuses_posts_without_a_valid_csrf_token(live: Live) -> None:
    forms = {
        "/login": {"email": "x@example.org"},
        "/login/verify": {"token": "abc"},
        "/logout": {},
        "/vote": {"arxiv_id": IDS[0]},
        "/subscribe": {"email": "x@example.org"},
    }
    with httpx.Client(base_url=live.url) as client:
        good = csrf_of(client)
        for path, data in forms.items():
            assert client.post(path, data=data).status_code == 403, path
            wrong = {**data, "csrf_token": "0" * 64}
            assert client.post(path, data=wrong).status_code == 403, path
        # a token is bound to this browser's cookie: another browser cannot replay it
        with httpx.Client(base_url=live.url) as other:
            other.get("/")
            r = other.post("/login", data={"email": "x@example.org", "csrf_token": good})
            assert r.status_code == 403
        ok = client.post("/login", data={"email": "x@example.org", "csrf_token": good})
        assert ok.status_code == 200 and "Check your inbox" in ok.text


def test_concurrent_votes_stay_consistent(live: Live) -> None:
    """30 users vote in parallel over real HTTP, each voting several times on the same paper
    and toggling another; counts equal the number of distinct final votes."""
    auth = Auth(live.settings, live.service.accounts)
    users: list[User] = [
        live.service.accounts.get_or_create_user(f"u{n}@example.org") for n in range(30)
    ]
    clients = []
    for user in users:
        value, _ = auth.start_session(user)
        client = httpx.Client(base_url=live.url, cookies={"pw_session": value}, timeout=30)
        clients.append((client, csrf_of(client, "/")))

    def vote(job: tuple[int, int]) -> int:
        n, attempt = job
        client, token = clients[n]
        headers = {"x-csrf-token": token}
        r = client.put(f"/api/v1/votes/{IDS[1]}", headers=headers)
        if attempt == 0 and n % 2 == 0:  # even users also upvote then withdraw IDS[2]
            client.put(f"/api/v1/votes/{IDS[2]}", headers=headers)
            client.delete(f"/api/v1/votes/{IDS[2]}", headers=headers)
        elif attempt == 0:
            client.put(f"/api/v1/votes/{IDS[2]}", headers=headers)
        return r.status_code

    jobs = [(n, attempt) for attempt in range(3) for n in range(len(users))]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(vote, jobs))
    assert statuses == [200] * len(jobs)
    counts = live.service.accounts.vote_counts(IDS)
    assert counts.get(IDS[1]) == 30
    assert counts.get(IDS[2]) == 15
    api = httpx.get(f"{live.url}/api/v1/papers/{IDS[1]}").json()
    assert api["upvotes"] == 30
    for client, _ in clients:
        client.close()


def test_api_vote_needs_csrf_header(live: Live) -> None:
    auth = Auth(live.settings, live.service.accounts)
    value, _ = auth.start_session(live.service.accounts.get_or_create_user("h@example.org"))
    with httpx.Client(base_url=live.url, cookies={"pw_session": value}) as client:
        token = csrf_of(client, "/")
        assert client.put(f"/api/v1/votes/{IDS[3]}").status_code == 403
        r = client.put(f"/api/v1/votes/{IDS[3]}", headers={"x-csrf-token": token})
        assert r.json() == {"arxiv_id": IDS[3], "voted": True, "upvotes": 1}
        r = client.put("/api/v1/votes/2999.00001", headers={"x-csrf-token": token})
        assert r.status_code == 404
        client.put(f"/api/v1/votes/{IDS[4]}v1", headers={"x-csrf-token": token})
        assert client.get("/api/v1/votes").json() == [IDS[4], IDS[3]]
    assert httpx.get(f"{live.url}/api/v1/votes").status_code == 401


def test_secret_key_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = load_secret_key(settings)
    assert len(first) >= 40 and load_secret_key(settings) == first
    mode = stat.S_IMODE((tmp_path / "d" / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert load_secret_key(settings.model_copy(update={"secret_key": "given"})) == "given"
    # workers starting together all end up with one and the same key
    racing = Settings(data_dir=tmp_path / "race")
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_secret_key(racing), range(16)))
    assert len(keys) == 1 and len(keys.pop()) >= 40
    assert [p.name for p in (tmp_path / "race").iterdir()] == ["secret_key"]


def test_access_log_hides_sign_in_tokens() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/login/verify?token=eyJlIjoi.secret&next=%2F", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    text = record.getMessage()
    assert "secret" not in text and "token=[redacted]&next" in text
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("uvicorn.access").filters)
