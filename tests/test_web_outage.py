"""A live server whose PostgreSQL database goes away: requests answer 503 with Retry-After
(JSON for the API, the error page for pages), and each is one log line, not a traceback
logged twice."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from conftest import new_postgres_url
from paperwire.config import Settings
from webkit import assert_error_headers, live_server


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    loggers = [logging.getLogger(n) for n in ("paperwire", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_dropped_database_is_503_and_one_line_per_request(
    tmp_path: object, postgres_server: str, lines: Lines
) -> None:
    url = new_postgres_url(postgres_server)
    settings = Settings(data_dir=f"{tmp_path}/data", database_url=url)  # type: ignore[arg-type]
    with live_server(settings) as live:
        assert httpx.get(f"{live.url}/api/v1/collections").status_code == 401
        live.service.store.engine.dispose()
        name = sa.make_url(url).database
        admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        lines.records.clear()
        api = httpx.get(f"{live.url}/api/daily_papers", timeout=30)
        page = httpx.get(f"{live.url}/", timeout=30)
    assert api.status_code == 503 and api.headers["retry-after"] == "5"
    assert "database is unavailable" in api.json()["error"]
    assert page.status_code == 503 and "database is unavailable" in page.text
    assert_error_headers(page, api)
    errors = [r for r in lines.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, [r.getMessage() for r in errors]
    assert all(
        r.exc_info is None and "database unavailable on GET" in r.getMessage() for r in errors
    )
