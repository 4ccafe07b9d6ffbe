"""Two writers of the same papers at once, on real SQLite and PostgreSQL: every paper is
stored once, merged by codec.merge as if one batch had come after the other, and the
counts add up. Driven step by step (one writer held between reading and writing) where a
race can be made deterministic; two real import processes where it is the real thing."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from paperwire.config import Settings
from paperwire.service import Service
from paperwire.sources.snapshot import parse_daily_listing
from paperwire.store import Store, open_store
from paperwire.store.codec import merge
from tests.test_import import daily_lines
from tests.test_store import make_paper

HASH_READ = "SELECT papers.arxiv_id, papers.content_hash"


class Held:
    """Holds the writer on `store` at the first statement starting with `prefix` (after
    or before running it), until released."""

    def __init__(self, store: Store, when: str, prefix: str) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        self.prefix = prefix
        sa.event.listen(store.engine, f"{when}_cursor_execute", self._hold)

    def _hold(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(self.prefix) and not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(60), "never released"


def run_in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # looked at by the test
            result.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


@pytest.mark.parametrize(
    ("new_papers", "when", "prefix"),
    [(10, "after", HASH_READ), (0, "before", "UPDATE papers")],
    ids=["new-after-read", "known-before-update"],
)
def test_a_batch_read_before_another_commits_merges_onto_it(
    db_url: str, new_papers: int, when: str, prefix: str
) -> None:
    """Writer A reads what is stored; writer B then stores a revision of the known papers
    and inserts the new ones; A goes on. A must neither fail on B's new rows
    (UniqueViolation) nor write its merge over B's revision (a lost update)."""
    first, second = open_store(db_url), open_store(db_url)
    try:
        known = [make_paper(f"2401.{n:05d}", sources=["listing"]) for n in range(10)]
        first.upsert_papers(known)
        fresh = [make_paper(f"2402.{n:05d}", sources=["listing"]) for n in range(new_papers)]
        from_a = [replace(p, doi=f"10.1/{p.arxiv_id}", sources=["snapshot"]) for p in known]
        from_a += [replace(p, sources=["snapshot"]) for p in fresh]
        from_b = [
            replace(p, version=2, title=f"Revised {p.arxiv_id}", sources=["arxiv_api"])
            for p in [*known, *fresh]
        ]
        held = Held(first, when, prefix)
        writer_a, result_a = run_in_thread(lambda: first.upsert_papers(from_a))
        assert held.reached.wait(30)
        writer_b, result_b = run_in_thread(lambda: second.upsert_papers(list(reversed(from_b))))
        writer_b.join(1)  # done on PostgreSQL; waits for A's write lock on SQLite
        held.release.set()
        writer_a.join(60)
        writer_b.join(60)
        failed = [r for r in result_a + result_b if isinstance(r, BaseException)]
        assert not failed, failed
        (report_a, _), (report_b, _) = result_a[0], result_b[0]
        assert report_a.new + report_b.new == new_papers  # each new paper counted new once
        assert report_a.seen == report_b.seen == 10 + new_papers
        stored = first.get_papers([p.arxiv_id for p in from_a])
        assert first.count_papers() == 10 + new_papers
        for a, b in zip(from_a, from_b, strict=True):
            base = next((p for p in known if p.arxiv_id == a.arxiv_id), None)
            a_first = merge(merge(base, a), b) if base else merge(a, b)
            b_first = merge(merge(base, b), a) if base else merge(b, a)
            assert stored[a.arxiv_id] in (a_first, b_first), a.arxiv_id
            assert stored[a.arxiv_id].title == f"Revised {a.arxiv_id}"
            assert set(stored[a.arxiv_id].sources) >= {"snapshot", "arxiv_api"}
    finally:
        first.close()
        second.close()


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def import_together(
    db_url: str, tmp_path: Path, files: list[Path], batch_size: int
) -> list[subprocess.CompletedProcess[str]]:
    """`paperwire import` of each file at once, each from its own data directory, into
    one database (each prints its counts)."""
    env = {
        **os.environ,
        "PAPERWIRE_DATABASE_URL": db_url,
        "PAPERWIRE_BATCH_SIZE": str(batch_size),
        "PAPERWIRE_INDEX_ON_INGEST": "false",
    }
    command = [sys.executable, "-m", "paperwire", "--data-dir"]
    procs = [
        subprocess.Popen(
            [*command, str(tmp_path / f"d{n}"), "import", str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, path in enumerate(files)
    ]
    done: list[subprocess.CompletedProcess[str]] = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return done


def counts(run: subprocess.CompletedProcess[str]) -> list[int]:
    """new, updated, unchanged, deleted, rejected from an import's printed table."""
    row = next(line for line in run.stdout.splitlines() if line.startswith("│"))
    return [int(cell.replace(",", "")) for cell in row.strip("│").split("│")[:5]]


def failures(runs: list[subprocess.CompletedProcess[str]]) -> list[str]:
    """The error lines of the runs that failed (not their pages of SQL parameters)."""
    return [
        line[:300]
        for run in runs
        if run.returncode
        for line in run.stderr.splitlines()
        if "Error" in line or "error" in line
    ]


def test_two_imports_of_the_same_new_papers_at_once_both_finish(
    db_url: str, tmp_path: Path
) -> None:
    """Two real imports of the same 1,500 new papers, each shuffled, small batches: they
    race to insert the same papers (a unique violation on PostgreSQL and SQLite)."""
    open_store(db_url).close()  # created and migrated before
    records = [orjson.loads(line) for line in daily_lines(1500)]
    rng = random.Random(7)
    shuffled = [rng.sample(records, len(records)) for _ in range(2)]
    files = [write_jsonl(tmp_path / f"new{n}.jsonl", r) for n, r in enumerate(shuffled)]
    runs = import_together(db_url, tmp_path, files, batch_size=20)
    assert [r.returncode for r in runs] == [0, 0], failures(runs)
    assert sum(counts(r)[0] for r in runs) == 1500  # every paper counted new once
    assert all(sum(counts(r)) == 1500 for r in runs)
    store = open_store(db_url)
    try:
        assert store.count_papers() == 1500
    finally:
        store.close()


def test_imports_into_a_new_database_at_once_all_finish(db_url: str, tmp_path: Path) -> None:
    """Three imports started together on a database not yet created: each found no schema
    and all but one failed creating it ("table papers already exists")."""
    lines = daily_lines(300)
    files = [write_jsonl(tmp_path / f"part{n}.jsonl", []) for n in range(3)]
    for n, path in enumerate(files):
        path.write_text("".join(lines[n * 100 : n * 100 + 100]), encoding="utf-8")
    runs = import_together(db_url, tmp_path, files, batch_size=50)
    assert [r.returncode for r in runs] == [0, 0, 0], failures(runs)
    assert [counts(r)[0] for r in runs] == [100, 100, 100]


def test_two_imports_revising_the_same_papers_at_once_both_finish(
    db_url: str, tmp_path: Path
) -> None:
    """Two real imports revising every one of 1,500 stored papers, each in its own order:
    updating them in file order took row locks against each other (a deadlock on
    PostgreSQL)."""
    records = [orjson.loads(line) for line in daily_lines(1500)]
    settings = Settings(data_dir=tmp_path / "d", database_url=db_url, index_on_ingest=False)
    with Service(settings) as service:
        service.import_snapshot(write_jsonl(tmp_path / "first.jsonl", records))
    rng = random.Random(7)
    revised = [
        [{**r, "title": f"{r['title']} {label}"} for r in rng.sample(records, len(records))]
        for label in ("revised", "revised again")
    ]
    files = [write_jsonl(tmp_path / f"rev{n}.jsonl", r) for n, r in enumerate(revised)]
    runs = import_together(db_url, tmp_path, files, batch_size=50)
    assert [r.returncode for r in runs] == [0, 0], failures(runs)
    assert all(sum(counts(r)) == 1500 for r in runs)
    store = open_store(db_url)
    try:
        assert store.count_papers() == 1500
        titles: dict[str, set[str]] = {}
        for record in revised[0] + revised[1]:
            paper = parse_daily_listing(record)
            titles.setdefault(paper.arxiv_id, set()).add(paper.title)
        stored = store.get_papers(list(titles))
        assert len(stored) == 1500
        # same version: the later writer's title stands, whichever that was per paper
        assert all(paper.title in titles[i] for i, paper in stored.items())
    finally:
        store.close()
