"""An import's index process (search.lexical_load): killed mid-import, the import stops,
the index keeps only whole commits, and a rerun leaves every paper indexed exactly once
and searchable — on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import lzma
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tantivy

from paperwire.config import Settings
from paperwire.search import engine, lexical_load
from paperwire.search.lexical import LexicalIndex
from paperwire.search.lexical_load import PROCESS_NAME, IndexProcessFailed
from paperwire.service import Service
from tests.conftest import DAILY_FILE


def write_records(path: Path, count: int) -> list[dict[str, Any]]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in itertools.islice(handle, count)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def indexed_ids(service: Service) -> list[str]:
    """The id of every document in the index (duplicates kept), sorted."""
    found = service.search_engine.lexical.search(tantivy.Query.all_query(), limit=100_000)
    return sorted(i for i, _ in found.ids)


def stored_ids(service: Service) -> list[str]:
    return sorted(p.arxiv_id for batch in service.store.iter_papers() for p in batch)


def index_process() -> Any:
    (process,) = [p for p in mp.active_children() if p.name == PROCESS_NAME]
    return process


def test_a_killed_index_process_stops_the_import_and_a_rerun_indexes_each_paper_once(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commits every 500 documents, and synced_until exactly at the handed-over time (no
    # margin): a synced_until moved past uncommitted rows would hide them from catch-up.
    monkeypatch.setattr(lexical_load, "COMMIT_EVERY", 500)
    monkeypatch.setattr(engine, "SYNC_MARGIN", timedelta(0))
    records = write_records(tmp_path / "part.jsonl", 3000)
    settings = settings.model_copy(update={"batch_size": 100})
    lexical = LexicalIndex(settings.data_dir / "index" / "lexical")
    batches = 0

    def stop_after_two_commits_then_kill(_count: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 12:  # 1,200 stored, 1,100 handed over
            deadline = time.monotonic() + 60
            while lexical.searcher(fresh=True).num_docs < 1000 and time.monotonic() < deadline:
                time.sleep(0.01)  # the second commit (batches 6-10)
            process = index_process()
            os.kill(process.pid, signal.SIGSTOP)  # handing over batch 12 fills the pipe and waits
            threading.Timer(1.0, os.kill, (process.pid, signal.SIGKILL)).start()

    with Service(settings) as service:
        started = time.monotonic()
        with pytest.raises(IndexProcessFailed, match=r"stopped \(exit code -9\)"):
            service.import_snapshot(
                tmp_path / "part.jsonl", progress=stop_after_two_commits_then_kill
            )
        assert time.monotonic() - started < 30
        stored, indexed = stored_ids(service), indexed_ids(service)
        assert len(stored) == 1200 and len(indexed) == 1000  # batch 11 was not committed
        assert len(set(indexed)) == len(indexed) and set(indexed) < set(stored)
        assert not mp.active_children()

    with Service(settings) as service:  # opening the index catches up, the import resumes
        report = service.import_snapshot(tmp_path / "part.jsonl")
        assert report.new == 1800 and service.search_engine.opening_catch_up == 200
        assert indexed_ids(service) == stored_ids(service) == sorted(r["id"] for r in records)
        for record in (records[1150], records[2999]):  # stored before the kill, and after
            hits = service.search(f'ti:"{record["title"]}"', mode="lexical", per_page=50).hits
            assert record["id"] in {h.paper.arxiv_id for h in hits}


def child_pids(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_a_killed_import_takes_its_index_process_along(tmp_path: Path) -> None:
    """SIGKILL of `paperwire import` ends its parser and index processes at once, so the
    index writer lock is free for the rerun (the index process may be half way through
    reading a batch the importer was writing when it died)."""
    write_records(tmp_path / "part.jsonl", 6000)  # big enough for a parser process
    data = tmp_path / "d"
    env = {**os.environ, "PAPERWIRE_BATCH_SIZE": "200"}
    cmd = [sys.executable, "-m", "paperwire", "--data-dir", str(data), "import"]
    proc = subprocess.Popen([*cmd, str(tmp_path / "part.jsonl")], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(child_pids(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    children = child_pids(proc.pid)
    assert len(children) == 2, "the import ended before both helpers ran; make it bigger"
    time.sleep(0.3)  # batches in flight
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while not all(gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(gone(pid) for pid in children)
    LexicalIndex(data / "index" / "lexical")._writer(15_000_000, 1, wait=0.5).rollback()
