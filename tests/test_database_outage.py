"""The database stops in the middle of `paperwire import` and `paperwire embed` (a real
PostgreSQL of the test's own, shut down under them): one line saying the database is
unavailable and that re-running resumes, as serve's 503 does; never a traceback, never
the rows the batch was writing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import start_postgres
from paperwire.search.embed import model_installed
from tests.test_import import daily_lines

Stop = Callable[[], None]


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Stop]]:
    """A PostgreSQL server of this test alone (the shared one must stay up) and a way to
    stop it at once (fast shutdown: every session is ended)."""
    with start_postgres("paperwire-pg-outage-") as server:
        yield server.url, server.stop


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    except sa.exc.DBAPIError:  # not created yet
        return 0
    finally:
        engine.dispose()


def stop_midway(command: list[str], env: dict[str, str], url: str, table: str, at: int,
                stop: Stop) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run `command`; once `table` holds `at` rows, stop the database; its result."""
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 240
        while count(url, table) < at:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"{table} never reached {at} rows"
            time.sleep(0.05)
        assert proc.poll() is None, "it finished before the database could be stopped"
        stop()
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def assert_one_line(done: subprocess.CompletedProcess[str], title_words: list[str]) -> None:
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "Traceback" not in said and "[parameters" not in said and "[SQL" not in said, said
    logged = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ")  # e.g. the model's preparation
    errors = [line for line in done.stderr.splitlines() if line.strip() and not logged.match(line)]
    assert len(errors) == 1, said
    assert errors[0].startswith("Error: the database is unavailable (") and "resumes" in errors[0]
    assert not any(word in said for word in title_words), said  # no row of the batch


def test_database_stopped_during_import(own_postgres: tuple[str, Stop], tmp_path: Path) -> None:
    url, stop = own_postgres
    lines = daily_lines(30_000)
    source = tmp_path / "big.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": url, "PAPERWIRE_BATCH_SIZE": "500"}
    command = [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "d"), "import"]
    done = stop_midway([*command, str(source)], env, url, "papers", 1000, stop)
    assert_one_line(done, ["abstract", "listing_date"])


@pytest.mark.skipif(not model_installed(), reason="needs paperwire[semantic]")
def test_database_stopped_during_embed(own_postgres: tuple[str, Stop], tmp_path: Path) -> None:
    url, stop = own_postgres
    source = tmp_path / "part.jsonl"
    source.write_text("".join(daily_lines(3000)), encoding="utf-8")
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": url}
    base = [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "d")]
    subprocess.run([*base, "import", str(source)], env=env, check=True, capture_output=True)
    embed = [*base, "embed", "--batch", "16", "--processes", "1", "--threads", "1"]
    done = stop_midway(embed, env, url, "embeddings", 32, stop)
    assert_one_line(done, ["embedded_at", "paper_hash"])
