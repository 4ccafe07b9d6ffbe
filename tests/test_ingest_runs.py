"""Runs left 'running' by a SIGKILLed process are marked interrupted by the next run and
shown by `paperwire stats`; a run still going in another process is left alone."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from paperwire import liveness
from paperwire.config import Settings
from paperwire.ingest import PARALLEL_MIN_BYTES, IngestInterrupted
from paperwire.models import IngestReport
from paperwire.service import Service
from paperwire.store import open_store
from paperwire.store.schema import ingest_runs
from tests.test_import import daily_lines

HOLD_RUN = """
import sys, time
from paperwire.store import open_store
store = open_store(sys.argv[1])
print(store.start_run("snapshot", "held by a live process"), flush=True)
time.sleep(120)
"""


def cli(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "paperwire", "--data-dir", str(data_dir), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def runs(url: str) -> dict[int, tuple[str, str | None]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ingest_runs.c.id, ingest_runs.c.status, ingest_runs.c.error))
        found = {r.id: (r.status, r.error) for r in rows}
    engine.dispose()
    return found


def kill_import_midway(source: Path, data_dir: Path, env: dict[str, str], url: str) -> None:
    command = [sys.executable, "-m", "paperwire", "--data-dir", str(data_dir), "import"]
    proc = subprocess.Popen([*command, str(source)], env=env, stderr=subprocess.DEVNULL)
    engine = sa.create_engine(url)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with engine.connect() as conn:
                    if conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one() >= 800:
                        break
            except sa.exc.DBAPIError:
                pass
            time.sleep(0.02)
        assert proc.poll() is None, "the import finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        engine.dispose()


def test_sigkilled_import_is_marked_interrupted_live_run_is_not(
    tmp_path: Path, db_url: str
) -> None:
    source = tmp_path / "part.jsonl"
    source.write_text("".join(daily_lines(8000)), encoding="utf-8")
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": db_url, "PAPERWIRE_BATCH_SIZE": "400"}
    data_dir = tmp_path / "d"
    kill_import_midway(source, data_dir, env, db_url)
    (killed,) = runs(db_url)
    assert runs(db_url)[killed] == ("running", None)  # what SIGKILL leaves behind
    committed = committed_papers(db_url)
    assert committed >= 800

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_RUN, db_url], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        held = int(holder.stdout.readline())
        stats = cli(data_dir, env, "stats")
        assert stats.returncode == 0, stats.stderr
        status = runs(db_url)
        assert status[killed][0] == "interrupted" and "resumes" in str(status[killed][1])
        assert status[held] == ("running", None)  # really still going: left alone
        shown = " ".join(stats.stdout.split())
        assert f"run {killed} (snapshot {source}) interrupted: its process ended" in shown
        assert "interrupted: interrupted" not in shown  # the reason says it once
        assert "interrupted" in shown and "running" in shown
        # its counts are what it committed (each batch adds its own), not 0
        assert run_counts(db_url)[0] == ("interrupted", committed, 0)
        again = cli(data_dir, env, "import", str(source))  # resumes, and is left alone too
        assert again.returncode == 0, again.stderr
        assert runs(db_url)[held] == ("running", None)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        cli(data_dir, env, "import", str(tmp_path / "part.jsonl"))  # the next run marks it
        status = runs(db_url)
        assert status[held][0] == "interrupted"
        assert [s for s, _ in status.values()].count("ok") == 2
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_other_hosts_runs_are_judged_by_their_heartbeat(db_url: str) -> None:
    store = open_store(db_url)
    try:
        now = datetime.now(UTC)
        elsewhere = "other-host|boot|123|456"
        beats = {"silent": now - timedelta(minutes=6), "beating": now - timedelta(minutes=1)}
        ids = {name: store.start_run("arxiv_oai", name) for name in beats}
        for name, beat in beats.items():
            with store.engine.begin() as conn:
                conn.execute(
                    ingest_runs.update()
                    .where(ingest_runs.c.id == ids[name])
                    .values(owner=elsewhere, heartbeat_at=beat)
                )
        assert store.mark_interrupted_runs() == 1
        status = {r["detail"]: r["status"] for r in store.stats()["runs"]}
        assert status == {"silent": "interrupted", "beating": "running"}
        store.heartbeat_run(ids["beating"])
    finally:
        store.close()


def test_owner_tokens_tell_live_dead_and_reused_pids() -> None:
    assert not liveness.owner_gone(liveness.owner_token())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = liveness.owner_token(child.pid)
    child.wait()
    assert liveness.owner_gone(token)
    host, boot, pid, started = liveness.owner_token().split("|")
    assert started  # Linux: the start time is known
    assert liveness.owner_gone("|".join((host, boot, pid, str(int(started) + 1))))  # pid reused
    assert not liveness.owner_gone(f"{socket.gethostname()}x|{boot}|1|1")  # other host


def test_a_running_run_beats(db_url: str) -> None:
    store = open_store(db_url)
    try:
        run = store.start_run("snapshot", "beating")

        def beat() -> datetime:
            with store.engine.connect() as conn:
                query = sa.select(ingest_runs.c.heartbeat_at).where(ingest_runs.c.id == run)
                return conn.execute(query).scalar_one()  # type: ignore[no-any-return]

        first = beat()
        with liveness.RunHeartbeat(store, run, every=0.05):
            time.sleep(0.5)
        assert beat() > first
    finally:
        store.close()


def committed_papers(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
    except sa.exc.DBAPIError:  # not created yet
        return 0
    finally:
        engine.dispose()


def run_counts(url: str) -> list[tuple[str, int, int]]:
    """(status, new, unchanged) of every run, oldest first."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        query = sa.select(ingest_runs.c.status, ingest_runs.c.new, ingest_runs.c.unchanged)
        found = [tuple(r) for r in conn.execute(query.order_by(ingest_runs.c.id))]
    engine.dispose()
    return found  # type: ignore[return-value]


def test_ctrl_c_mid_import_ends_cleanly_counts_committed_batches_and_resumes(
    tmp_path: Path, db_url: str
) -> None:
    source = tmp_path / "part.jsonl"
    source.write_text("".join(daily_lines(8000)), encoding="utf-8")
    assert source.stat().st_size >= PARALLEL_MIN_BYTES  # parsed by a second process too
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": db_url, "PAPERWIRE_BATCH_SIZE": "200"}
    command = [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "d"), "import"]
    proc = subprocess.Popen(
        [*command, str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while committed_papers(db_url) < 200 and proc.poll() is None:
            assert time.monotonic() < deadline, "the first batch was never committed"
            time.sleep(0.02)
        assert proc.poll() is None, "the import finished before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr + stdout and "locked" not in stderr + stdout
    message = [line for line in stderr.splitlines() if "interrupted" in line]
    assert len(message) == 1, stderr
    stored = committed_papers(db_url)
    assert 0 < stored < 8000
    assert f"{stored:,} new" in message[0] and "resumes" in message[0]
    assert run_counts(db_url) == [("interrupted", stored, 0)]

    again = cli(tmp_path / "d", env, "import", str(source))
    assert again.returncode == 0, again.stderr
    assert committed_papers(db_url) == 8000  # nothing lost, nothing twice
    assert run_counts(db_url) == [("interrupted", stored, 0), ("ok", 8000 - stored, 0)]


def test_ctrl_c_inside_a_batch_write_waits_for_its_commit(
    settings: Settings, tmp_path: Path
) -> None:
    """SIGINT once a batch's INSERT ran: the batch commits, then the import stops. A
    KeyboardInterrupt inside the transaction left SQLite locked: recording the run failed
    with "database is locked" after the busy timeout."""
    source = tmp_path / "part.jsonl"
    source.write_text("".join(daily_lines(600)), encoding="utf-8")
    signalled: list[str] = []

    def ctrl_c_mid_insert(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not signalled and statement.startswith("INSERT INTO papers"):
            signalled.append(statement)
            os.kill(os.getpid(), signal.SIGINT)  # handled before this function returns

    stopped: KeyboardInterrupt | None = None
    with Service(settings.model_copy(update={"batch_size": 200})) as service:
        sa.event.listen(service.store.engine, "after_cursor_execute", ctrl_c_mid_insert)
        try:
            service.import_snapshot(source)
        except KeyboardInterrupt as exc:  # not pytest's: it would end the session
            stopped = exc
        assert signalled
        assert isinstance(stopped, IngestInterrupted)
        assert (stopped.report.new, stopped.report.seen) == (200, 200)
        assert service.paper_count() == 200
        (run,) = service.stats()["runs"]
        assert (run["status"], run["new"]) == ("interrupted", 200)
        assert service.import_snapshot(source).new == 400  # resumes after the batch


def test_a_second_import_of_a_file_being_imported_refuses_and_says_by_whom(
    settings: Settings, tmp_path: Path
) -> None:
    """While an import of a file is between two batches, `paperwire import` of the same
    file (another process, same database) stops at once and says which import runs. It
    took the first one's checkpoint as its own and resumed from it (QA: "new 0, updated
    0, unchanged 0", a success). It refuses before opening the search index (that took
    about 4 s at 1 M) and is no run in `stats` (it showed as a failed one)."""
    source = tmp_path / "part.jsonl"
    source.write_text("".join(daily_lines(600)), encoding="utf-8")
    first_batch, go_on = threading.Event(), threading.Event()

    def hold_after_first_batch(_records: int) -> None:
        if not first_batch.is_set():
            first_batch.set()
            assert go_on.wait(60)

    settings = settings.model_copy(update={"batch_size": 200, "index_on_ingest": False})
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": settings.resolved_database_url}
    with Service(settings) as service:
        done: list[IngestReport] = []
        first = threading.Thread(
            target=lambda: done.append(service.import_snapshot(source, hold_after_first_batch))
        )
        first.start()
        try:
            assert first_batch.wait(60)
            second = cli(tmp_path / "other", env, "import", str(source))
        finally:
            go_on.set()
            first.join(60)
        assert second.returncode == 1, second.stdout
        said = " ".join(second.stderr.split())
        assert f"another import of {source} is running (run 1, started " in said
        assert f"by pid {os.getpid()} on host {socket.gethostname()}); nothing was" in said
        assert "Wait for that import to finish" in said and "Traceback" not in said
        assert done[0].new == 600 and service.paper_count() == 600
        # it stopped before opening the search index, and left no failed run behind
        assert not (tmp_path / "other" / "index" / "lexical").exists()
        assert runs(settings.resolved_database_url) == {1: ("ok", None)}
        again = cli(tmp_path / "other", env, "import", str(source))  # once it is done: fine
        assert again.returncode == 0, again.stderr
        assert "600" in again.stdout and service.paper_count() == 600


# an insert into papers fails as a whole, not row by row as a refused value (a trigger
# writing to a table since dropped, as a half-migrated schema might; a raised exception)
FAIL_INSERTS = {
    "sqlite": [
        "CREATE TABLE gone (x)",
        "CREATE TRIGGER fail BEFORE INSERT ON papers BEGIN INSERT INTO gone VALUES (1); END",
        "DROP TABLE gone",
    ],
    "postgresql": [
        "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'no such table: gone'; END $$",
        "CREATE TRIGGER fail BEFORE INSERT ON papers FOR EACH ROW EXECUTE FUNCTION fail()",
    ],
}


def test_a_failed_runs_reason_is_one_short_line_without_the_sql_or_its_rows(
    settings: Settings, tmp_path: Path
) -> None:
    """A database error ending an import was stored whole as the run's reason (and shown
    by `stats`): SQLAlchemy's text with the statement and `[parameters: …]`, every row of
    the batch (kilobytes of titles and abstracts)."""
    lines = daily_lines(50)
    source = tmp_path / "part.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    with Service(settings) as service:
        with service.store.engine.begin() as conn:
            for statement in FAIL_INSERTS[service.store.engine.dialect.name]:
                conn.execute(sa.text(statement))
        with contextlib.suppress(sa.exc.DBAPIError):
            service.import_snapshot(source)
        run = service.stats()["runs"][0]
    assert run["status"] == "failed", run
    reason = run["error"]
    assert "no such table" in reason and "gone" in reason, reason  # the driver's own words kept
    assert "\n" not in reason and len(reason) <= 300, reason
    assert "[parameters" not in reason and "INSERT" not in reason, reason
    titles = [json.loads(line)["title"] for line in lines]
    assert not any(title[:30] in reason for title in titles), reason
