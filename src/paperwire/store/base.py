"""Store: engine, migrations and the paper/ingest tables."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from paperwire import liveness
from paperwire.config import shown_database_url
from paperwire.models import IngestReport, Paper, Rejected
from paperwire.store.codec import EncodedRow, encode_paper, row_to_paper
from paperwire.store.outage import privilege_missing
from paperwire.store.schema import checkpoints, ingest_runs, papers, rejects
from paperwire.store.web_tables import votes
from paperwire.store.writer import (
    StoredMeanwhile,
    load_papers,
    rows_after,
    write_papers,
    write_papers_sifting,
)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_PAGE_SIZE = 16384  # measured: 35% less write time than 4096 for abstract-sized rows
RAW_LIMIT = 20_000  # characters of a rejected record kept for inspection
INTERRUPTED = (
    "its process ended without finishing (killed or crashed); the batches it committed "
    "are kept (the counts here) and running the same command again resumes"
)
RESTORED_MID_RUN = (
    "running when the backup this database was restored from was taken; the batches it "
    "had committed by then are here, and running the same command again resumes"
)
STOPPED = (
    "stopped by Ctrl-C (SIGINT) between batches; the batches it committed are kept (the "
    "counts here) and running the same command again resumes"
)


# SQLSTATEs of a PostgreSQL transaction that lost a race with another one and may simply
# run again: deadlock_detected, serialization_failure, unique_violation.
RETRY_SQLSTATES = frozenset({"40P01", "40001", "23505"})
WRITE_ATTEMPTS = 10
_T = TypeVar("_T")


def _lost_a_race(exc: Exception) -> bool:
    if isinstance(exc, StoredMeanwhile):
        return True
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRY_SQLSTATES


def refused_content(exc: BaseException) -> bool:
    """Whether the database refused what a write held, not how it ran: a value it cannot
    store (DataError: too long, out of range, a byte it cannot encode) or a constraint
    the row breaks (IntegrityError), other than a race another writer won."""
    return isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError) and not _lost_a_race(exc)


CHECKPOINT_NAME_LIMIT = 256  # characters of checkpoints.name


def checkpoint_name(name: str) -> str:
    """The checkpoints row of `name`: `name` itself when it fits the column (every name
    stored before keeps its row), else its first 200 characters and a digest of all of it
    (a snapshot's long path, a long OAI base URL or set)."""
    if len(name) <= CHECKPOINT_NAME_LIMIT:
        return name
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=16)
    return f"{name[:200]}#{digest.hexdigest()}"


class CheckpointHeld(RuntimeError):
    """A run that is still going holds the checkpoint asked for (Store.claim_checkpoint)."""

    def __init__(self, run_id: int, started_at: datetime, owner: str | None) -> None:
        self.run_id, self.owner = run_id, owner or ""
        aware = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
        self.started_at = aware.astimezone(UTC)
        super().__init__(f"checkpoint held by run {run_id}")


DRIVER_HINT = "paperwire talks to PostgreSQL through psycopg: use postgresql+psycopg://…"


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message says what to do."""


class WriteRefused(StoreError):
    """The database could not write (a full disk, a file size limit, a failing disk)."""


# What SQLite and PostgreSQL say when they cannot write for want of space (or a disk
# that fails): a message holding one of these is a WriteRefused, not a bug.
_NO_SPACE = ("database or disk is full", "could not extend file", "no space left on device")
_DISK_ERROR = ("disk i/o error", "could not write", "file too large")


def write_refused(exc: BaseException) -> WriteRefused | None:
    """`exc` as a WriteRefused when the database refused a write for want of disk space
    (or a failing disk); None for anything else."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    reason = " ".join(str(exc.orig).split())
    said = reason.lower()
    if any(text in said for text in _NO_SPACE):
        cause = "the disk is full"
    elif any(text in said for text in _DISK_ERROR):
        cause = "a disk error: the disk may be full or failing"
    else:
        return None
    return WriteRefused(f"the database refused the write, {cause} ({reason[:200]})")


_LISTED_DAY = sa.func.coalesce(papers.c.listing_date, papers.c.hf_date)


_RUN_COUNTS = ("new", "updated", "unchanged", "rejected", "deleted")


def _count_batch(conn: Connection, run: int, report: IngestReport) -> None:
    """Add a committed batch's counts to its ingest run's row."""
    counts = {name: getattr(ingest_runs.c, name) + getattr(report, name) for name in _RUN_COUNTS}
    conn.execute(ingest_runs.update().where(ingest_runs.c.id == run).values(**counts))


def _listed(start: date, end: date) -> sa.Select[Any]:
    """Live papers whose listing day (or HF day) is in [start, end], newest first."""
    return (
        sa.select(papers)
        .where(start <= _LISTED_DAY, end >= _LISTED_DAY, papers.c.deleted.is_(False))
        .order_by(_LISTED_DAY.desc(), papers.c.arxiv_id.desc())
    )


def _edge_day(
    conn: Connection, newest: bool, below: date | None = None, above: date | None = None
) -> date | None:
    """The newest (or oldest) listing day of a live paper strictly between `above` and
    `below`: max/min of coalesce(listing_date, hf_date), as _listed lists, each column
    read along its own index (the coalesce has none) and stopping at the first live one."""
    found: list[date] = []
    for column, *only in (
        (papers.c.listing_date,),
        (papers.c.hf_date, papers.c.listing_date.is_(None)),  # HF only: its HF day
    ):
        query = sa.select(column).where(column.is_not(None), papers.c.deleted.is_(False), *only)
        if below is not None:
            query = query.where(column < below)
        if above is not None:
            query = query.where(column > above)
        query = query.order_by(column.desc() if newest else column.asc()).limit(1)
        if (value := _as_date(conn.execute(query).scalar())) is not None:
            found.append(value)
    if not found:
        return None
    return max(found) if newest else min(found)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):  # SQLite returns aggregate dates as text
        return date.fromisoformat(value[:10])
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def _dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


_JSON: dict[str, Any] = {"json_serializer": _dump_json, "json_deserializer": orjson.loads}


def sqlite_file(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for any other URL, or in memory)."""
    if not url.startswith("sqlite"):
        return None
    path = sa.engine.make_url(url).database
    return Path(path) if path and path != ":memory:" else None


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60}, **_JSON)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # takes effect on a new file
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
            cur.close()

        return engine
    if url.startswith("postgresql"):
        return sa.create_engine(url, pool_pre_ping=True, **_JSON)
    raise StoreError(  # never the URL itself: it may hold a password
        f"unsupported database URL (a {url.split(':', 1)[0][:20]!r} URL): use "
        "sqlite:///path.db or postgresql+psycopg://…"
    )


# pg_advisory_xact_lock key held while migrating: one process migrates at a time
_MIGRATION_LOCK = 0x70617065  # "pape"


def _migrate(engine: Engine) -> None:
    """Bring the database to the newest schema. Processes opening a new database at once
    (two imports, `serve` workers) take turns: each read the schema as missing, and all
    but the first failed creating it ("table papers already exists")."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, until it commits
        else:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(url: str) -> Store:
    """Open (creating and migrating if needed) the database at `url`."""
    try:
        engine = _make_engine(url)
        _migrate(engine)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open database {shown_database_url(url)}: {exc.orig}") from exc
    except sa.exc.ProgrammingError as exc:  # a role without the privileges it needs
        missing = privilege_missing(exc, sa.engine.make_url(url).username)
        if missing is None:  # e.g. an option libpq does not know (?foo=bar)
            raise StoreError(f"cannot open database {shown_database_url(url)}: {exc.orig}") from exc
        raise StoreError(missing) from exc
    except ImportError as exc:  # a driver paperwire does not ship: +psycopg2, +asyncpg
        raise StoreError(f"{DRIVER_HINT} (no module {exc.name!r})") from exc
    return Store(engine)


class Store:
    """Typed access to every table. Each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # -- papers ---------------------------------------------------------------

    def upsert_papers(
        self,
        batch: Sequence[Paper],
        rejected: Sequence[Rejected] = (),
        checkpoint: tuple[str, Any] | None = None,
        run: int | None = None,
    ) -> tuple[IngestReport, list[str]]:
        """Insert or merge `batch`, keep `rejected`, and save `checkpoint`, atomically;
        the batch's counts are added to ingest run `run`'s in the same transaction.

        Returns the counts and the ids whose stored content changed (for indexing).
        Duplicate ids inside one batch are merged in order, each record counted once.
        """
        rows = [encode_paper(p) for p in batch]
        report, changed = self.upsert_encoded(rows, rejected, checkpoint, run)
        return report, [row[0] for row in changed]

    def upsert_encoded(
        self,
        rows: Sequence[EncodedRow],
        rejected: Sequence[Rejected] = (),
        checkpoint: tuple[str, Any] | None = None,
        run: int | None = None,
    ) -> tuple[IngestReport, list[EncodedRow]]:
        """upsert_papers for rows already made by codec.encode_paper (e.g. in a parser
        process): same rules, same single transaction. Returns the counts and the stored
        rows of the papers whose content changed (to index them as written).

        A row the database refuses (a value or constraint no check before it caught) does
        not fail the batch: it is kept as a reject with the database's reason (source
        "database") and counted as rejected; the other rows, the rejects and the
        checkpoint commit together as ever (writer.write_papers_sifting)."""

        def write(conn: Connection, sift: bool) -> tuple[IngestReport, list[EncodedRow]]:
            now = _now()
            refused: list[Rejected] = []
            if sift:
                report, changed, refused = write_papers_sifting(conn, rows, now, refused_content)
            else:
                report, changed = write_papers(conn, rows, now)
            report.rejected = len(rejected) + len(refused)
            self._add_rejects(conn, [*rejected, *refused], now)
            if checkpoint is not None:
                self._set_checkpoint(conn, checkpoint[0], checkpoint[1], now)
            if run is not None:  # a run that dies later shows what it committed
                _count_batch(conn, run, report)
            return report, changed

        try:
            return self._write_retrying(lambda conn: write(conn, sift=False))
        except sa.exc.DBAPIError as exc:
            if not refused_content(exc):
                raise
        # The database refused the batch for something no check before it caught: the
        # rows it refuses become rejects with its reason, and the rest is stored.
        return self._write_retrying(lambda conn: write(conn, sift=True))

    def _write_retrying(self, write: Callable[[Connection], _T]) -> _T:
        """Run `write` in one transaction that reads and then writes what it read.

        SQLite: the transaction takes the database's write lock before its first read
        (BEGIN IMMEDIATE), so writers (other processes too) take turns and none writes
        over what another wrote after its read. PostgreSQL: writers run side by side; a
        transaction that lost a race with another (a deadlock, a serialization failure, a
        row it meant to insert inserted meanwhile) is rolled back and run again, reading
        afresh, up to WRITE_ATTEMPTS times."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "sqlite":
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    return write(conn)
            except (sa.exc.DBAPIError, StoredMeanwhile) as exc:
                if attempt == WRITE_ATTEMPTS or not _lost_a_race(exc):
                    raise
                time.sleep(random.uniform(0, 0.02 * attempt))  # let the winner go on
        raise AssertionError("unreachable")

    def get_paper(self, arxiv_id: str) -> Paper | None:
        return self.get_papers([arxiv_id]).get(arxiv_id)

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        """Papers by id (missing ids are absent from the result). An id holding NUL, as a
        URL can (`%00`), is no stored paper's, and PostgreSQL would refuse the query."""
        with self.engine.connect() as conn:
            return load_papers(conn, [i for i in ids if "\x00" not in i])

    def iter_papers(
        self, modified_since: datetime | None = None, batch_size: int = 2000
    ) -> Iterator[list[Paper]]:
        """All papers in batches by id, or those modified after `modified_since` in order
        of modification (see _paper_rows)."""
        for rows in self._paper_rows(list(papers.c), modified_since, batch_size):
            yield [row_to_paper(r) for r in rows]

    def iter_rows(self, batch_size: int = 5000) -> Iterator[list[EncodedRow]]:
        """Every stored paper (deleted too) as codec.encode_paper's row, in batches by id,
        a batch per connection: what a search index rebuild reads, without decoding."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = rows_after(conn, last, batch_size)
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def iter_content_hashes(
        self, modified_since: datetime, batch_size: int = 5000
    ) -> Iterator[list[tuple[str, str, bool]]]:
        """(arxiv_id, content_hash, deleted) of the papers modified after `modified_since`,
        in batches in order of modification: enough to tell whether a copy elsewhere is
        current."""
        columns = [papers.c.arxiv_id, papers.c.content_hash, papers.c.deleted]
        for rows in self._paper_rows(columns, modified_since, batch_size):
            yield [(r.arxiv_id, r.content_hash, bool(r.deleted)) for r in rows]

    def _paper_rows(
        self, columns: list[Any], modified_since: datetime | None, batch_size: int
    ) -> Iterator[Sequence[sa.Row[Any]]]:
        """`columns` of papers, a batch per connection (keyset paging: no transaction is
        held between batches): all of them in id order, or those modified after
        `modified_since` in order of modification. The latter pages on (modified_at,
        arxiv_id) so that the modified_at index bounds each batch: paged by id, SQLite
        walked every row for it (3.2 s at 1 M papers for a catch-up that found none). A
        paper modified again meanwhile may come twice."""
        if modified_since is None:
            yield from self._rows_by_id(columns, batch_size)
            return
        at = papers.c.modified_at
        after: sa.Select[Any] = sa.select(*columns, at)
        last_at, last_id = modified_since, None
        while True:
            query = (
                after.where(at > last_at)
                if last_id is None
                else after.where(at >= last_at, sa.or_(at > last_at, papers.c.arxiv_id > last_id))
            )
            query = query.order_by(at, papers.c.arxiv_id).limit(batch_size)
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            yield rows
            last_at, last_id = rows[-1].modified_at, rows[-1].arxiv_id

    def _rows_by_id(self, columns: list[Any], batch_size: int) -> Iterator[Sequence[sa.Row[Any]]]:
        last = ""
        while True:
            query = sa.select(*columns).where(papers.c.arxiv_id > last)
            query = query.order_by(papers.c.arxiv_id).limit(batch_size)
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            yield rows
            last = rows[-1].arxiv_id

    def papers_listed(
        self, start: date, end: date, limit: int | None = None, offset: int = 0
    ) -> list[Paper]:
        """Live papers whose listing date (or HF date when unlisted) is in [start, end]."""
        query = _listed(start, end).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [row_to_paper(r) for r in conn.execute(query)]

    def iter_papers_listed(
        self, start: date, end: date, batch_size: int = 2000
    ) -> Iterator[list[Paper]]:
        """papers_listed(start, end) in batches, read through one cursor: the caller
        need not hold every Paper at once (100,000 of them took ~350 MB)."""
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(_listed(start, end))
            for rows in result.partitions():
                yield [row_to_paper(r) for r in rows]

    def count_listed(self, start: date, end: date) -> int:
        """How many live papers papers_listed(start, end) would return."""
        query = sa.select(sa.func.count()).where(
            start <= _LISTED_DAY, end >= _LISTED_DAY, papers.c.deleted.is_(False)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def neighbour_days(self, day: date) -> tuple[date | None, date | None]:
        """The nearest listing days (or HF days) with live papers before and after `day`:
        a day whose papers were all deleted lists none, so it is no neighbour."""
        with self.engine.connect() as conn:
            return _edge_day(conn, newest=True, below=day), _edge_day(conn, newest=False, above=day)

    def vote_tallies(self, start: date, end: date) -> list[tuple[str, date, int, int]]:
        """(arxiv_id, day, HF upvotes, our upvotes) for live papers listed in [start, end]:
        what trending ranks (trending.rank_tallies)."""
        day = _LISTED_DAY.label("day")
        ours = (
            sa.select(votes.c.arxiv_id, sa.func.count().label("n"))
            .group_by(votes.c.arxiv_id)
            .subquery()
        )
        query = (
            sa.select(papers.c.arxiv_id, day, papers.c.hf_upvotes, ours.c.n)
            .select_from(papers.outerjoin(ours, ours.c.arxiv_id == papers.c.arxiv_id))
            .where(day >= start, day <= end, papers.c.deleted.is_(False))
        )
        with self.engine.connect() as conn:
            return [
                (str(r.arxiv_id), _as_date(r.day) or start, int(r.hf_upvotes or 0), int(r.n or 0))
                for r in conn.execute(query)
            ]

    def count_papers(self, include_deleted: bool = False) -> int:
        query = sa.select(sa.func.count()).select_from(papers)
        if not include_deleted:
            query = query.where(papers.c.deleted.is_(False))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def nth_newest_day(self, count: int) -> date | None:
        """The listing day (or HF day) of the `count`-th newest paper, deleted ones too
        (None when fewer papers have a day): from that day on, at least `count` papers."""
        query = sa.select(_LISTED_DAY).where(_LISTED_DAY.is_not(None))
        query = query.order_by(_LISTED_DAY.desc()).offset(count - 1).limit(1)
        with self.engine.connect() as conn:
            return _as_date(conn.execute(query).scalar())

    def latest_listing_date(self) -> date | None:
        """The newest day that lists live papers: the listing day, or the HF day of a paper
        that only Hugging Face listed (the day listings and neighbour_days go by)."""
        with self.engine.connect() as conn:
            return _edge_day(conn, newest=True)

    # -- rejects, checkpoints, runs ------------------------------------------

    def _add_rejects(self, conn: Connection, items: Iterable[Rejected], now: datetime) -> None:
        rows: list[dict[str, Any]] = [
            {
                "source": r.source,
                "key": r.key[:1000],
                "reason": r.reason,
                "raw": r.raw[:RAW_LIMIT],
                "at": now,
            }
            for r in items
        ]
        if not rows:
            return
        # A record rejected again (re-run, restarted harvest) replaces its earlier entry.
        for source in {r["source"] for r in rows}:
            keys = sorted({str(r["key"]) for r in rows if r["source"] == source})
            for start in range(0, len(keys), 500):
                conn.execute(
                    rejects.delete().where(
                        rejects.c.source == source, rejects.c.key.in_(keys[start : start + 500])
                    )
                )
        conn.execute(rejects.insert(), rows)

    def add_rejects(self, items: Sequence[Rejected]) -> None:
        with self.engine.begin() as conn:
            self._add_rejects(conn, items, _now())

    def list_rejects(self, limit: int = 100) -> list[Rejected]:
        query = sa.select(rejects).order_by(rejects.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Rejected(r.source, r.key, r.reason, r.raw) for r in conn.execute(query)]

    def _set_checkpoint(self, conn: Connection, name: str, value: Any, now: datetime) -> None:
        name = checkpoint_name(name)
        done = conn.execute(
            checkpoints.update()
            .where(checkpoints.c.name == name)
            .values(value=value, updated_at=now)
        )
        if done.rowcount == 0:
            conn.execute(checkpoints.insert().values(name=name, value=value, updated_at=now))

    def claim_checkpoint(self, name: str, run_id: int) -> dict[str, Any]:
        """The state saved under checkpoint `name` (a dict; empty when none), which run
        `run_id` now holds: the saved state names it (under "run") until the run saves
        a state without it. Raises CheckpointHeld when another run holds it and is still
        going (liveness: see mark_interrupted_runs), changing nothing. One claim at a
        time: SQLite's write lock, PostgreSQL's lock on the checkpoint's row."""
        self.mark_interrupted_runs()

        def claim(conn: Connection) -> dict[str, Any]:
            query = sa.select(checkpoints.c.value).where(
                checkpoints.c.name == checkpoint_name(name)
            )
            if conn.dialect.name != "sqlite":
                query = query.with_for_update()
            value = conn.execute(query).scalar()
            state = dict(value) if isinstance(value, dict) else {}
            holder = state.pop("run", None)
            if isinstance(holder, int) and holder != run_id:
                run = conn.execute(
                    sa.select(
                        ingest_runs.c.status, ingest_runs.c.started_at, ingest_runs.c.owner
                    ).where(ingest_runs.c.id == holder)
                ).first()
                if run is not None and run.status == "running":
                    raise CheckpointHeld(holder, run.started_at, run.owner)
            self._set_checkpoint(conn, name, {**state, "run": run_id}, _now())
            return state

        return self._write_retrying(claim)

    def set_checkpoint(self, name: str, value: Any) -> None:
        with self.engine.begin() as conn:
            self._set_checkpoint(conn, name, value, _now())

    def get_checkpoint(self, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(checkpoints.c.value).where(checkpoints.c.name == checkpoint_name(name))
            ).scalar()

    def clear_checkpoint(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(checkpoints.delete().where(checkpoints.c.name == checkpoint_name(name)))

    def start_run(self, source: str, detail: str) -> int:
        """Record a run of this process; first mark earlier runs whose process is gone as
        interrupted (see mark_interrupted_runs)."""
        self.mark_interrupted_runs()
        now = _now()
        with self.engine.begin() as conn:
            result = conn.execute(
                ingest_runs.insert().values(
                    source=source,
                    detail=detail,
                    status="running",
                    owner=liveness.owner_token(),
                    heartbeat_at=now,
                    started_at=now,
                    new=0,
                    updated=0,
                    unchanged=0,
                    rejected=0,
                    deleted=0,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def heartbeat_run(self, run_id: int) -> None:
        """The run is still going (sent every liveness.HEARTBEAT_SECONDS while it runs)."""
        with self.engine.begin() as conn:
            conn.execute(
                ingest_runs.update()
                .where(ingest_runs.c.id == run_id, ingest_runs.c.status == "running")
                .values(heartbeat_at=_now())
            )

    def mark_interrupted_runs(self) -> int:
        """Runs left 'running' by a process that is gone (killed, crashed, rebooted away)
        become 'interrupted'. Gone means: provably not running on this host, or silent for
        longer than liveness.RUN_LEASE. Returns how many were marked."""
        now = _now()
        silent_since = now - liveness.RUN_LEASE
        with self.engine.begin() as conn:
            running = conn.execute(
                sa.select(ingest_runs.c.id, ingest_runs.c.owner, ingest_runs.c.heartbeat_at)
                .where(ingest_runs.c.status == "running")
                .add_columns(
                    sa.func.coalesce(ingest_runs.c.heartbeat_at, ingest_runs.c.started_at)
                    < silent_since
                )
            ).all()
            gone = [r.id for r in running if r[3] or (r.owner and liveness.owner_gone(r.owner))]
            if gone:
                conn.execute(
                    ingest_runs.update()
                    .where(ingest_runs.c.id.in_(gone), ingest_runs.c.status == "running")
                    .values(status="interrupted", finished_at=now, error=INTERRUPTED)
                )
        return len(gone)

    def end_restored_runs(self) -> int:
        """After a restore: runs the backup holds as 'running' (it was taken while they
        ran) become 'interrupted' — their processes write to the database the backup came
        from, never to this copy, and their heartbeats would only have timed out after
        liveness.RUN_LEASE. Returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                ingest_runs.update()
                .where(ingest_runs.c.status == "running")
                .values(status="interrupted", finished_at=_now(), error=RESTORED_MID_RUN)
            )
        return int(done.rowcount or 0)

    def discard_run(self, run_id: int) -> None:
        """Forget a run that read and changed nothing (an import refused before it
        began because another import of its file runs)."""
        with self.engine.begin() as conn:
            conn.execute(ingest_runs.delete().where(ingest_runs.c.id == run_id))

    def finish_run(
        self,
        run_id: int,
        report: IngestReport,
        error: str | None = None,
        *,
        interrupted: bool = False,
    ) -> None:
        """Record how a run ended: ok, failed (`error`) or interrupted (by Ctrl-C), with
        the counts of what it committed."""
        status = "interrupted" if interrupted else "failed" if error else "ok"
        error = STOPPED if interrupted else error
        with self.engine.begin() as conn:
            conn.execute(
                ingest_runs.update()
                .where(ingest_runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=_now(),
                    new=report.new,
                    updated=report.updated,
                    unchanged=report.unchanged,
                    rejected=report.rejected,
                    deleted=report.deleted,
                    error=error,
                )
            )

    # -- statistics ------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts of live papers by source, primary category and listing day, and the
        latest runs (runs whose process is gone are marked interrupted first)."""
        self.mark_interrupted_runs()
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
            deleted = conn.execute(
                sa.select(sa.func.count()).select_from(papers).where(papers.c.deleted.is_(True))
            ).scalar_one()
            by_category: dict[str | None, int] = dict(
                conn.execute(
                    sa.select(papers.c.primary_category, sa.func.count())
                    .where(papers.c.deleted.is_(False))
                    .group_by(papers.c.primary_category)
                    .order_by(sa.func.count().desc())
                ).all()
            )
            by_source: dict[str, int] = {}
            live = sa.select(papers.c.sources).where(papers.c.deleted.is_(False))
            for (sources,) in conn.execute(live):
                for name in sources:
                    by_source[name] = by_source.get(name, 0) + 1
            # the listing days the lists show: live papers, by coalesce(listing_date, hf_date)
            by_date: dict[date, int] = dict(
                conn.execute(
                    sa.select(_LISTED_DAY, sa.func.count())
                    .where(_LISTED_DAY.is_not(None), papers.c.deleted.is_(False))
                    .group_by(_LISTED_DAY)
                    .order_by(_LISTED_DAY)
                ).all()
            )
            runs = (
                conn.execute(sa.select(ingest_runs).order_by(ingest_runs.c.id.desc()).limit(10))
                .mappings()
                .all()
            )
            reject_count = conn.execute(
                sa.select(sa.func.count()).select_from(rejects)
            ).scalar_one()
        return {
            "papers": int(total) - int(deleted),
            "deleted": int(deleted),
            "rejected": int(reject_count),
            "by_source": dict(sorted(by_source.items(), key=lambda kv: -kv[1])),
            "by_category": {k or "(none)": int(v) for k, v in by_category.items()},
            "by_listing_date": {d.isoformat(): int(n) for d, n in by_date.items() if d},
            "runs": [dict(r) for r in runs],
        }
