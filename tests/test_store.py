"""Store behaviour on real SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from paperwire.models import Author, Paper, Rejected
from paperwire.store import Store


def make_paper(arxiv_id: str = "2401.00001", **fields: object) -> Paper:
    base = Paper(
        arxiv_id=arxiv_id,
        title="A title",
        abstract="An abstract with <b>tags</b> & ampersands and $x^2$.",
        authors=[Author("Ada Lovelace", "Analytical Engines Ltd"), Author("Alan Turing")],
        categories=["cs.CL", "cs.AI"],
        version=1,
        submitted=date(2024, 1, 1),
        updated=date(2024, 1, 1),
        listing_date=date(2024, 1, 2),
        sources=["oai"],
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_insert_then_read_back_every_field(store: Store) -> None:
    paper = make_paper(comments="10 pages", doi="10.1/x", license="http://x", journal_ref="J 1")
    report, changed = store.upsert_papers([paper])
    assert (report.new, report.updated, report.unchanged) == (1, 0, 0)
    assert changed == ["2401.00001"]
    got = store.get_paper("2401.00001")
    assert got == paper


def test_papers_by_id_read_back_like_one_by_one(store: Store) -> None:
    # get_papers (and get_paper) read SQLite rows straight from the driver (search pages'
    # hot path); they must give what iter_papers gives through SQLAlchemy's typed rows,
    # over several IN chunks.
    papers = [
        make_paper(
            f"2401.{n:05d}",
            title=f"Title {n} — ünïcode “quotes”",
            hf_upvotes=n if n % 3 else None,
            hf_date=date(2024, 2, n % 28 + 1) if n % 2 else None,
            hf_github="https://github.com/x/y" if n % 5 == 0 else None,
            comments=None if n % 4 else "4 pages",
            deleted=n % 7 == 0,
            authors=[Author(f"Author {n}")] if n % 2 else [Author("A", "Inst"), Author("B")],
        )
        for n in range(1, 1101)
    ]
    store.upsert_papers(papers)
    wanted = [p.arxiv_id for p in papers] + ["9999.99999"]
    got = store.get_papers(wanted)
    assert len(got) == 1100 and "9999.99999" not in got
    typed = {p.arxiv_id: p for batch in store.iter_papers(batch_size=300) for p in batch}
    assert got == typed
    for n in (1, 2, 5, 7, 500, 501, 1100):
        arxiv_id = f"2401.{n:05d}"
        assert got[arxiv_id] == store.get_paper(arxiv_id) == typed[arxiv_id]
    assert store.get_paper("9999.99999") is None


def test_same_record_twice_is_unchanged(store: Store) -> None:
    store.upsert_papers([make_paper()])
    report, changed = store.upsert_papers([make_paper()])
    assert (report.new, report.updated, report.unchanged) == (0, 0, 1)
    assert changed == []
    assert store.count_papers() == 1


def test_new_version_updates_row_without_duplicate(store: Store) -> None:
    store.upsert_papers([make_paper()])
    v2 = make_paper(version=2, title="Better title", updated=date(2024, 3, 1), sources=["api"])
    report, _ = store.upsert_papers([v2])
    assert report.updated == 1
    got = store.get_paper("2401.00001")
    assert got is not None
    assert (got.version, got.title, got.updated) == (2, "Better title", date(2024, 3, 1))
    assert got.submitted == date(2024, 1, 1)  # v1 date kept
    assert got.sources == ["api", "oai"]
    assert store.count_papers() == 1


def test_older_version_only_fills_gaps(store: Store) -> None:
    store.upsert_papers([make_paper(version=3, title="v3 title", doi=None)])
    store.upsert_papers([make_paper(version=1, title="v1 title", doi="10.5/y")])
    got = store.get_paper("2401.00001")
    assert got is not None
    assert (got.version, got.title, got.doi) == (3, "v3 title", "10.5/y")


def test_missing_fields_do_not_erase_stored_values(store: Store) -> None:
    store.upsert_papers([make_paper(comments="5 figures")])
    hf = Paper(
        arxiv_id="2401.00001",
        title="A title",
        abstract="x",
        hf_upvotes=12,
        hf_date=date(2024, 1, 3),
        sources=["hf"],
    )
    store.upsert_papers([hf])
    got = store.get_paper("2401.00001")
    assert got is not None
    assert got.comments == "5 figures"
    assert got.hf_upvotes == 12
    assert got.categories == ["cs.CL", "cs.AI"]
    assert got.abstract == "x"  # same version (unknown): newest text wins


def test_deleted_record_marks_paper(store: Store) -> None:
    store.upsert_papers([make_paper()])
    tomb = Paper(arxiv_id="2401.00001", title="", abstract="", deleted=True, sources=["oai"])
    report, _ = store.upsert_papers([tomb])
    assert report.deleted == 1
    assert store.count_papers() == 0
    assert store.count_papers(include_deleted=True) == 1
    got = store.get_paper("2401.00001")
    assert got is not None and got.deleted and got.title == "A title"


def test_rejects_and_checkpoint_commit_with_batch(store: Store) -> None:
    store.upsert_papers(
        [make_paper("hep-th/9504118")],
        [Rejected("oai", "page 1", "empty title", "<record/>")],
        checkpoint=("harvest:cs", {"token": "abc"}),
    )
    assert store.get_checkpoint("harvest:cs") == {"token": "abc"}
    assert [r.reason for r in store.list_rejects()] == ["empty title"]
    assert store.get_paper("hep-th/9504118") is not None


def test_checkpoints_of_any_length(store: Store) -> None:
    """A checkpoint name longer than checkpoints.name (varchar(256)) is kept under a name
    that fits, told apart from others sharing its start; short names are stored as given."""
    long_names = [f"oai:https://mirror.example/{'p' * 250}:set={s}:from=*:until=*" for s in "ab"]
    for n, name in enumerate([*long_names, "harvest:cs"]):
        store.set_checkpoint(name, {"pages": n})
        store.set_checkpoint(name, {"pages": n + 10})  # the same row again
    assert [store.get_checkpoint(name) for name in long_names] == [{"pages": 10}, {"pages": 11}]
    with store.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM checkpoints ORDER BY name")).scalars()
        stored = list(names)
    assert len(stored) == 3 and "harvest:cs" in stored and max(map(len, stored)) <= 256
    store.clear_checkpoint(long_names[0])
    assert store.get_checkpoint(long_names[0]) is None
    assert store.get_checkpoint(long_names[1]) == {"pages": 11}


def test_duplicate_ids_in_one_batch_merge(store: Store) -> None:
    report, _ = store.upsert_papers([make_paper(), make_paper(version=2, title="T2")])
    assert report.new == 1
    got = store.get_paper("2401.00001")
    assert got is not None and got.title == "T2"


def test_listing_window_and_stats(store: Store) -> None:
    store.upsert_papers(
        [
            make_paper("2401.00001", listing_date=date(2024, 1, 2)),
            make_paper("2401.00002", listing_date=date(2024, 1, 3), categories=["cs.CV"]),
            make_paper("2401.00003", listing_date=date(2024, 1, 9)),
        ]
    )
    ids = [p.arxiv_id for p in store.papers_listed(date(2024, 1, 1), date(2024, 1, 3))]
    assert ids == ["2401.00002", "2401.00001"]
    stats = store.stats()
    assert stats["papers"] == 3
    assert stats["by_category"] == {"cs.CL": 2, "cs.CV": 1}
    assert stats["by_source"] == {"oai": 3}
    assert stats["by_listing_date"] == {"2024-01-02": 1, "2024-01-03": 1, "2024-01-09": 1}


def test_stats_counts_the_listing_days_the_lists_show(store: Store) -> None:
    """QA: stats counted a day whose only paper was deleted as the latest listing day
    and left out days only Hugging Face lists, which the lists show."""
    store.upsert_papers(
        [
            make_paper("2401.00001", listing_date=date(2024, 1, 2)),
            make_paper("2401.00002", listing_date=date(2024, 1, 3), deleted=True),
            make_paper("2401.00003", listing_date=None, hf_date=date(2024, 1, 6)),
        ]
    )
    stats = store.stats()
    assert stats["by_listing_date"] == {"2024-01-02": 1, "2024-01-06": 1}
    assert stats["papers"] == 2 and stats["deleted"] == 1
    assert stats["by_category"] == {"cs.CL": 2} and stats["by_source"] == {"oai": 2}


def test_changes_since_a_time_come_whole_across_batches_of_one_timestamp(store: Store) -> None:
    """Papers modified after a time are paged by (modified_at, id): every one comes once,
    over batches that split a run of papers written with one timestamp; papers not
    modified since do not come; a paper changed after the first page comes again."""
    store.upsert_papers([make_paper(f"2401.{n:05d}") for n in range(25)])
    (before,) = [b for b in store.iter_content_hashes(datetime.min.replace(tzinfo=UTC))]
    cut = datetime.now(UTC)
    store.upsert_papers([make_paper(f"2402.{n:05d}") for n in range(23)])  # one timestamp
    store.upsert_papers([make_paper("2401.00003", title="Retitled", deleted=True)])
    pages = store.iter_content_hashes(cut, batch_size=5)
    first = next(pages)
    store.upsert_papers([make_paper("2402.00000", title="Changed again")])
    seen = first + [row for page in pages for row in page]
    expected = {f"2402.{n:05d}" for n in range(23)} | {"2401.00003"}
    assert {i for i, _h, _d in seen} == expected and len(seen) == len(expected) + 1
    assert [i for i, _h, _d in seen].count("2402.00000") == 2
    assert [d for i, _h, d in seen if i == "2401.00003"] == [True]
    assert len(before) == 25 and len(first) == 5
    papers = [p for page in store.iter_papers(cut, batch_size=4) for p in page]
    assert {p.arxiv_id for p in papers} == expected and len(papers) == len(expected)


def test_changes_since_a_time_are_read_through_the_modified_at_index(store: Store) -> None:
    """The query behind a catch-up that finds nothing must not walk every paper (by id,
    SQLite did: 3.2 s at 1 M papers, every 10 s per serving worker). SQLite only: it
    plans without table statistics, PostgreSQL by them (a seq scan of 10 rows is right)."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL plans from table statistics")
    store.upsert_papers([make_paper(f"2401.{n:05d}") for n in range(10)])
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        if "modified_at" in sql:
            statements.append((sql, params))

    sa.event.listen(store.engine, "before_cursor_execute", keep)
    try:
        assert list(store.iter_content_hashes(datetime.now(UTC), batch_size=5)) == []
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", keep)
    ((sql, params),) = statements
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        rows = raw.cursor().execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    plan = " ".join(str(r) for r in rows)
    assert "USING INDEX ix_papers_modified_at" in plan, plan


def test_papers_listed_in_batches_are_papers_listed(store: Store) -> None:
    """iter_papers_listed: the same live papers in the same order, a batch at a time."""
    days = [date(2025, 3, d) for d in (3, 4, 5)]
    papers = [
        make_paper(f"2503.{n:05d}", listing_date=days[n % 3], deleted=n == 4) for n in range(11)
    ]
    store.upsert_papers(papers)
    whole = store.papers_listed(days[0], days[2])
    batches = list(store.iter_papers_listed(days[0], days[2], batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert [p.arxiv_id for b in batches for p in b] == [p.arxiv_id for p in whole]
    assert "2503.00004" not in {p.arxiv_id for p in whole}
    later = list(store.iter_papers_listed(days[1], days[2], batch_size=100))
    assert [p.arxiv_id for b in later for p in b] == [
        p.arxiv_id for p in whole if p.listing_date and p.listing_date >= days[1]
    ]
