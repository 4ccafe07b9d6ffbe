"""A row the database refuses for a reason no check before it caught does not fail its
batch: it is kept as a reject with the database's own reason, and every other row of
the batch, its rejects and the import's checkpoint commit together. The refusal here is
the database's own (a CHECK constraint on PostgreSQL, a trigger on SQLite), on papers
that pass every check of the parsers; before this, the import stopped at that batch on
every re-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.service import Service
from paperwire.sources import snapshot
from paperwire.store import Store, write_refused
from paperwire.store.writer import REFUSED_SOURCE
from tests.conftest import KAGGLE_FILE

POISON = "POISONED"


def _refuse_poisoned_titles(store: Store) -> None:
    """Make the database itself refuse any paper whose title holds POISON."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for event in ("INSERT", "UPDATE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER poison_{event.lower()} BEFORE {event} ON papers "
                    f"WHEN NEW.title LIKE '%{POISON}%' "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned title'); END"
                )
        else:
            conn.exec_driver_sql(
                f"ALTER TABLE papers ADD CONSTRAINT poisoned_title "
                f"CHECK (position('{POISON}' in title) = 0)"
            )


def _records() -> list[dict[str, object]]:
    with KAGGLE_FILE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _papers(path: Path) -> list[Paper]:
    return [p for _, p in snapshot.read_snapshot(path) if isinstance(p, Paper)]


def test_a_row_the_database_refuses_is_a_reject_and_the_rest_of_its_batch_is_stored(
    settings: Settings, tmp_path: Path
) -> None:
    records = _records()
    poisoned = {1, 57, 58, 199}  # a lone one, two side by side, the last of the file
    for i in poisoned:
        records[i]["title"] = f"{POISON} {records[i]['title']}"
    path = _write(tmp_path / "snapshot.jsonl", records)
    with Service(settings) as service:
        _refuse_poisoned_titles(service.store)
        report = service.import_snapshot(path)
        refused = [r for r in service.rejects() if r.source == REFUSED_SOURCE]
        stored = service.store.get_papers([str(r["id"]) for r in records])
        hits = {h.paper.arxiv_id for h in service.search(str(records[0]["title"])).hits}
        again = service.import_snapshot(path)
    assert report.new == len(records) - len(poisoned)
    assert report.rejected == len(poisoned)
    assert set(stored) == {str(r["id"]) for i, r in enumerate(records) if i not in poisoned}
    assert sorted(r.key for r in refused) == sorted(str(records[i]["id"]) for i in poisoned)
    for reject in refused:
        assert reject.reason.startswith("the database refused this paper: ")
        assert "poison" in reject.reason.lower()
        assert json.loads(reject.raw)["arxiv_id"] == reject.key
        assert POISON in json.loads(reject.raw)["title"]
    assert str(records[0]["id"]) in hits  # what was stored was indexed too
    # a re-run of the finished file: the same papers unchanged, the same ones refused
    assert (again.new, again.unchanged, again.rejected) == (0, len(stored), len(poisoned))


def test_a_refused_revision_keeps_the_stored_paper_and_the_others_revisions(
    store: Store, tmp_path: Path
) -> None:
    records = _records()[:20]
    first = _papers(_write(tmp_path / "a.jsonl", records))
    store.upsert_papers(first)
    _refuse_poisoned_titles(store)
    revised = [dict(r) for r in records]
    for i, record in enumerate(revised):
        record["title"] = f"{POISON} again" if i == 3 else f"{record['title']} (revised)"
    report, changed = store.upsert_papers(_papers(_write(tmp_path / "b.jsonl", revised)))
    assert report.updated == 19 and report.rejected == 1
    assert str(records[3]["id"]) not in changed and len(changed) == 19
    kept = store.get_papers([str(r["id"]) for r in records])
    assert kept[first[3].arxiv_id].title == first[3].title
    assert all(
        kept[str(r["id"])].title.endswith("(revised)") for i, r in enumerate(records) if i != 3
    )


def test_an_error_that_is_not_a_refusal_still_fails_the_write(store: Store) -> None:
    papers = _papers(KAGGLE_FILE)[:5]
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE papers RENAME TO papers_gone")
    with pytest.raises(sa.exc.DBAPIError) as caught:
        store.upsert_papers(papers)
    assert not isinstance(caught.value, sa.exc.DataError | sa.exc.IntegrityError)


@pytest.mark.parametrize(
    ("said", "cause"),
    [
        ("database or disk is full", "the disk is full"),
        ('could not extend file "base/16384/2619": No space left on device', "the disk is full"),
        ("disk I/O error", "a disk error: the disk may be full or failing"),
        ("no such table: papers", None),
    ],
)
def test_a_write_refused_for_want_of_space_is_named(said: str, cause: str | None) -> None:
    refused = write_refused(sa.exc.OperationalError("INSERT …", {}, Exception(said)))
    if cause is None:
        assert refused is None
    else:
        assert refused is not None
        assert str(refused) == f"the database refused the write, {cause} ({said})"
