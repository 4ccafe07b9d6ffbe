"""An import's bulk indexing (search.lexical_load.BulkLoad): commits in the middle of an
import run in the background while later batches are held; every row handed in ends up
indexed, and a failed commit is reported without moving synced_until past its rows."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
import tantivy

from conftest import DAILY_FILE
from digest_support import daily_subset
from paperwire.config import Settings
from paperwire.search.lexical import LexicalIndex
from paperwire.search.lexical_load import BulkLoad
from paperwire.service import Service
from paperwire.store.codec import ENCODED_COLUMNS, EncodedRow

ID = ENCODED_COLUMNS.index("arxiv_id")


def stored_rows(settings: Settings, tmp_path: Path, count: int) -> list[EncodedRow]:
    """Rows of `count` real papers as the store wrote them (no indexing on import)."""
    settings = settings.model_copy(update={"index_on_ingest": False})
    with Service(settings) as service:
        service.import_snapshot(daily_subset(DAILY_FILE, tmp_path / "subset.jsonl", count))
        return [row for batch in service.store.iter_rows() for row in batch]


def indexed_ids(index: LexicalIndex) -> set[str]:
    found = index.search(tantivy.Query.all_query(), limit=100_000)
    return {arxiv_id for arxiv_id, _ in found.ids}


class SlowCommits:
    """Holds every commit of `index` until released, to catch what runs meanwhile."""

    def __init__(self, index: LexicalIndex, fail_first: bool = False) -> None:
        self.real = index.commit_writer
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail_first = fail_first
        self.calls = 0

    def __call__(self, writer: tantivy.IndexWriter) -> None:
        self.calls += 1
        self.started.set()
        assert self.release.wait(30)
        if self.fail_first and self.calls == 1:
            writer.rollback()  # as commit_writer does on failure: roll back, let go
            writer.wait_merging_threads()
            raise OSError("disk full (test)")
        self.real(writer)


def test_rows_added_during_a_background_commit_are_held_then_indexed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = stored_rows(settings, tmp_path, 400)
    index = LexicalIndex(tmp_path / "lexical")
    slow = SlowCommits(index)
    monkeypatch.setattr(index, "commit_writer", slow)
    synced: list[datetime] = []
    with BulkLoad(index, on_commit=synced.append, commit_every=150) as load:
        for start in range(0, 250, 50):  # the 3rd batch starts a commit; two more wait
            load.add(rows[start : start + 50])
        assert slow.started.wait(10) and slow.calls == 1
        assert len(load._held) == 100 and synced == []  # add() did not wait for the commit
        slow.release.set()
        load.add(rows[250:])
    assert indexed_ids(index) == {row[ID] for row in rows}
    assert load.commits == slow.calls == len(synced) >= 2
    assert synced == sorted(synced)


def test_a_failed_background_commit_is_raised_and_synced_until_stays(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = stored_rows(settings, tmp_path, 300)
    index = LexicalIndex(tmp_path / "lexical")
    slow = SlowCommits(index, fail_first=True)
    monkeypatch.setattr(index, "commit_writer", slow)
    synced: list[datetime] = []
    load = BulkLoad(index, on_commit=synced.append, commit_every=100)
    with pytest.raises(OSError, match="disk full"), load:
        load.add(rows[:100])  # starts the commit that fails
        load.add(rows[100:150])  # held
        slow.release.set()
        load.add(rows[150:])  # raises the failure
    # The rows after the failed commit are still indexed on exit, but nothing is
    # reported as synced: catch-up re-indexes the failed commit's rows from the store.
    assert synced == []
    assert {row[ID] for row in rows[100:]} <= indexed_ids(index)
    assert not indexed_ids(index) & {row[ID] for row in rows[:100]}
