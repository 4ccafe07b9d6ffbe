"""Helpers for the website tests: a live uvicorn server in a thread, a loopback SMTP server
that keeps what it receives, papers with hostile text, and the steps every headless-Chromium
test takes (launch, a page that records script errors, sign in by the emailed link,
screenshots)."""

from __future__ import annotations

import email
import email.policy
import lzma
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from paperwire.config import Settings
from paperwire.models import Author, Paper
from paperwire.service import Service
from paperwire.web.app import create_app
from paperwire.web.auth import Auth


def write_subset(source: Path, target: Path, lines: int) -> Path:
    """The first `lines` records of the shared daily arXiv file, as a plain JSONL file."""
    with lzma.open(source, "rt", encoding="utf-8") as src, target.open("w") as out:
        for n, line in enumerate(src):
            if n >= lines:
                break
            out.write(line)
    return target


CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Live:
    url: str
    settings: Settings
    service: Service


@contextmanager
def live_server(settings: Settings, **overrides: Any) -> Iterator[Live]:
    """Run create_app(settings) under uvicorn on a free loopback port, in a thread."""
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (else 40 ms ACK delays)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(update={"base_url": url, **overrides})
    service = Service(settings)
    app = create_app(settings, service)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Live(url, settings, service)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def signed_in(
    live: Live, email: str, csrf_page: str = "/", timeout: float = 30
) -> tuple[httpx.Client, str, int]:
    """A client with a real session cookie for `email`, the CSRF token that `csrf_page`
    shows it, and the user's id."""
    accounts = live.service.accounts
    user = accounts.get_or_create_user(email)
    value, _ = Auth(live.settings, accounts).start_session(user)
    client = httpx.Client(base_url=live.url, cookies={"pw_session": value}, timeout=timeout)
    match = CSRF.search(client.get(csrf_page).text)
    assert match, f"{csrf_page} has no CSRF token"
    return client, match.group(1), user.id


@dataclass
class Mailbox:
    """Messages received by the loopback SMTP server."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 10.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in reversed(self.messages):
                    if str(message["To"]).lower() == to.lower():
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no email to {to} within {timeout}s")

    def login_link(self, to: str) -> str:
        body = self.wait_for(to).get_body(("plain",))
        assert body is not None
        match = re.search(r"(http://\S+/login/verify\?\S+)", body.get_content())
        assert match, "no sign-in link in the email"
        return match.group(1)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    box.port = sock.getsockname()[1]
    sock.close()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def hostile_paper(arxiv_id: str, day: date) -> Paper:
    """A paper whose text tries HTML/script injection and contains LaTeX."""
    return Paper(
        arxiv_id=arxiv_id,
        title='<script>alert("t")</script> Tom & Jerry <b>bold</b> x < y',
        abstract=(
            "We prove $\\alpha < \\beta$ & <img src=x onerror=alert(1)> "
            "<script>document.title='pwned'</script> and $$\\sum_{i=1}^n i^2$$ holds."
        ),
        authors=[Author("Eve <i>Evil</i> O'Brien"), Author("Mallory & Co")],
        categories=["cs.CL"],
        version=2,
        submitted=day,
        updated=day,
        listing_date=day,
        sources=["test"],
    )


def listed_paper(n: int, title: str, authors: list[str], day: date, abstract: str = "") -> Paper:
    """Paper 2506.<n> in cs.LG, listed on `day`; by default its abstract studies its title."""
    return Paper(
        arxiv_id=f"2506.{n:05d}",
        title=title,
        abstract=abstract or f"We study {title.lower()}.",
        authors=[Author(a) for a in authors],
        categories=["cs.LG"],
        listing_date=day,
        submitted=day,
        sources=["test"],
    )


def imported_settings(data: Path, snapshot: Path, extra: Iterable[Paper] = ()) -> Settings:
    """Settings on a new SQLite store in `data` holding `snapshot` (and the `extra` papers)."""
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'pw.db'}")
    with Service(settings) as service:
        service.import_snapshot(snapshot)
        service.store.upsert_papers(list(extra))
    return settings


@contextmanager
def live_server_with_mail(settings: Settings) -> Iterator[tuple[Live, Mailbox]]:
    """A live server whose mail goes to a loopback SMTP server, and that server's mailbox."""
    with (
        smtp_server() as box,
        live_server(settings, smtp_host=box.host, smtp_port=box.port) as live,
    ):
        yield live, box


# -- headless Chromium ---------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def desktop_page(browser: Any) -> tuple[Any, Any, list[str]]:
    """A new 1280x900 context, its page, and the script errors the page raises."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def sign_in(page: Any, live: Live, box: Mailbox, email: str, next_path: str) -> None:
    """Sign in from the login page by the emailed link; ends on `next_path`."""
    page.goto(f"{live.url}/login?next={next_path}")
    page.fill("#login-email", email)
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    page.goto(box.login_link(email))
    page.click("#confirm-login")
    page.wait_for_url(live.url + next_path)


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


__all__ = [
    "CHROMIUM",
    "Live",
    "Mailbox",
    "chromium",
    "desktop_page",
    "hostile_paper",
    "imported_settings",
    "listed_paper",
    "live_server",
    "live_server_with_mail",
    "shot",
    "sign_in",
    "signed_in",
    "smtp_server",
]


def assert_error_headers(page: httpx.Response, api: httpx.Response) -> None:
    """500 and 503 answers were made outside the middleware that adds the security
    headers: no CSP, X-Frame-Options, nosniff, Referrer-Policy or Cache-Control."""
    for answer in (page, api):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["set-cookie"].startswith("pw_csrf=")  # the page's forms work
