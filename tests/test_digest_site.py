"""The subscription pages inside the full site (web issue's create_app): the home page's
form with its CSRF token, the base layout, confirm/manage/one-click unsubscribe links from
real emails, and the scheduler starting with the app. Skipped until the web app exists."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import DAILY_FILE
from digest_support import SmtpServer, daily_subset, parts
from paperwire.config import Settings
from paperwire.service import Service

web_app = pytest.importorskip("paperwire.web.app", reason="web app not merged yet")
BASE = "http://testserver"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def site_settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    settings = Settings(
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        base_url=BASE,
        secret_key="site-secret",
        digest_send_workers=1,
    )
    with Service(settings) as service:
        service.import_snapshot(daily_subset(DAILY_FILE, tmp_path / "subset.jsonl", 400))
    return settings


def test_subscription_flow_through_the_site(site_settings: Settings, smtp: SmtpServer) -> None:
    app = web_app.create_app(site_settings)
    with TestClient(app) as client:
        home = client.get("/")
        token = TOKEN_FIELD.search(home.text)
        assert home.status_code == 200 and token and 'action="/subscribe"' in home.text
        refused = client.post("/subscribe", data={"email": "site@example.com"})
        assert refused.status_code == 403  # no CSRF token
        done = client.post(
            "/subscribe", data={"email": "site@example.com", "csrf_token": token.group(1)}
        )
        assert done.status_code == 200 and "Check your inbox" in done.text
        assert 'href="/static/' in done.text  # rendered in the site's base layout
        text = parts(smtp.handler.wait_to("site@example.com")[0])["text/plain"]
        confirm = re.search(r"http://testserver(/subscribe/confirm\?token=\S+)", text)
        assert confirm
        service = app.state.service
        page = client.head(confirm.group(1)), client.get(confirm.group(1))  # a mail scanner
        assert [r.status_code for r in page] == [200, 200] and 'href="/static/' in page[1].text
        assert service.digest.store.get_by_email("site@example.com").status == "pending"
        form = dict(re.findall(r'name="(csrf_token|token)" value="([^"]+)"', page[1].text))
        assert set(form) == {"csrf_token", "token"}
        no_csrf = client.post("/subscribe/confirm", data={"token": form["token"]})
        assert no_csrf.status_code == 403
        assert service.digest.store.get_by_email("site@example.com").status == "pending"
        confirmed = client.post("/subscribe/confirm", data=form)
        assert confirmed.status_code == 200 and "site@example.com will receive" in confirmed.text

        sub = service.digest.store.get_by_email("site@example.com")
        assert sub is not None and sub.status == "active"
        manage_path = service.digest.links(sub).manage.removeprefix(BASE)
        page = client.get(manage_path)
        form_token = TOKEN_FIELD.search(page.text)
        assert page.status_code == 200 and form_token
        signed = manage_path.split("token=")[1]
        no_csrf = client.post("/subscribe/manage", data={"token": signed, "max_papers": "3"})
        assert no_csrf.status_code == 403
        saved = client.post(
            "/subscribe/manage",
            data={"token": signed, "max_papers": "3", "csrf_token": form_token.group(1)},
        )
        assert saved.status_code == 200 and "saved" in saved.text

        composed, sent = service.digest.run(date(2025, 3, 18))
        assert (composed.composed, sent.sent) == (1, 1)
        digest = smtp.handler.to("site@example.com")[-1]
        paper_link = re.search(r"http://testserver(/papers/[\d.]+)", parts(digest)["text/plain"])
        assert paper_link and client.get(paper_link.group(1)).status_code == 200
        one_click = str(digest["List-Unsubscribe"]).strip("<>").removeprefix(BASE)
        with TestClient(app) as mail_provider:  # no cookie, no CSRF token: RFC 8058
            r = mail_provider.post(
                one_click,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert r.status_code == 200
        assert service.digest.store.get(sub.id).status == "unsubscribed"


def test_scheduler_runs_inside_the_site_when_enabled(
    site_settings: Settings, smtp: SmtpServer
) -> None:
    settings = site_settings.model_copy(
        update={"digest_scheduler": True, "digest_scheduler_interval": 0.2}
    )
    app = web_app.create_app(settings)
    with TestClient(app):
        scheduler = app.state.digest_scheduler
        deadline = time.monotonic() + 10
        while scheduler.ticks == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduler.ticks >= 1
    assert app.state.digest_scheduler is None
