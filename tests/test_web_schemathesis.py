"""Property-based API fuzzing with schemathesis over our OpenAPI document, against a real
running server: whatever it sends, the API answers without a 5xx; also signed in (a real
session from an emailed sign-in link, with the page's CSRF token), where the vote
endpoints must get past authentication, and search answers only 200 or 400."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from paperwire.config import Settings
from paperwire.service import Service
from webkit import Live, Mailbox, live_server, smtp_server

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, web_subset: Path, mailbox: Mailbox
) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("fuzz")
    cfg = Settings(data_dir=data, database_url=f"sqlite:///{data / 'pw.db'}")
    with Service(cfg) as service:
        service.import_snapshot(web_subset)
    with live_server(cfg, smtp_host=mailbox.host, smtp_port=mailbox.port) as running:
        yield running


def signed_in(live: Live, mailbox: Mailbox) -> tuple[requests.Session, str]:
    """A session signed in through the emailed link, and the CSRF token of its pages."""
    with httpx.Client(base_url=live.url) as client:

        def csrf(path: str) -> str:
            found = CSRF.search(client.get(path).text)
            assert found, f"{path} has no CSRF token"
            return found.group(1)

        client.post("/login", data={"email": "fuzz@example.org", "csrf_token": csrf("/login")})
        confirm = client.get(mailbox.login_link("fuzz@example.org"))
        token = re.search(r'name="token" value="([^"]+)"', confirm.text)
        assert token
        done = client.post(
            "/login/verify", data={"token": token.group(1), "csrf_token": csrf("/login")}
        )
        assert done.status_code == 303 and "pw_session" in client.cookies
        session = requests.Session()
        session.cookies.update(dict(client.cookies))
        return session, csrf("/")


def fuzz(
    operation: Any, examples: int, check: Callable[[Any, requests.Response], None], **call: Any
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        check(case, case.call(**call))

    run()


def test_api_never_answers_5xx(live: Live) -> None:
    """Every operation, a dozen generated requests each (deterministic), no 5xx answers."""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    seen: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call()
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, case.query)

        call()
    assert len(seen) >= 5 * len(operations)
    assert {200, 400} <= set(seen)  # valid and invalid requests were both generated


def test_api_signed_in_with_csrf_never_answers_5xx(live: Live, mailbox: Mailbox) -> None:
    """Every operation again, as a signed-in user sending the CSRF header: no 5xx, the
    vote endpoints answer as for a user (never 401/403 unless a generated API token is
    sent instead of the session), search only 200 or 400."""
    session, token = signed_in(live, mailbox)
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    seen: dict[str, set[int]] = {}

    def check(case: Any, response: requests.Response) -> None:
        bearer = any(name.lower() == "authorization" for name in case.headers or {})
        where = f"{case.method} {case.operation.path}" + (" with a token" if bearer else "")
        seen.setdefault(where, set()).add(response.status_code)
        assert response.status_code < 500, (where, case.formatted_path, case.query)
        if "/votes" in case.operation.path and not bearer:  # a made-up token is refused
            assert response.status_code not in (401, 403), (where, response.text)
        if case.operation.path.endswith("/search"):
            assert response.status_code in (200, 400), (where, case.query, response.text)
            if response.status_code == 400:
                assert response.json()["error"]

    for result in schema.get_all_operations():
        headers = {"X-CSRF-Token": token}
        fuzz(result.ok(), 15, check, session=session, headers=headers)
    assert seen["GET /api/v1/votes"] == {200}  # the session is really signed in
    assert 200 in seen["GET /api/v1/search"] and 400 in seen["GET /api/v1/search"]


def test_admin_status_without_an_admin_token_is_a_documented_404(live: Live) -> None:
    """No admin_token set: the admin API is off, and says so in the 404 it documents."""
    with httpx.Client(base_url=live.url) as client:
        off = client.get("/admin/digest/status", headers={"authorization": "Bearer x"})
        documented = client.get("/openapi.json").json()["paths"]["/admin/digest/status"]
    assert off.status_code == 404 and "PAPERWIRE_ADMIN_TOKEN" in off.json()["error"]
    assert "404" in documented["get"]["responses"]
