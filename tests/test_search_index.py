"""The lexical index follows the store: ingest batches, updates, deletions, rebuilds —
on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import lzma
import shutil
import time
from pathlib import Path
from typing import Any

import tantivy

from conftest import DAILY_FILE
from paperwire.config import Settings
from paperwire.harvest import commit_page
from paperwire.models import IngestReport, Paper
from paperwire.search.lexical_docs import id_key, key_id
from paperwire.service import Service


def read_records(start: int, stop: int) -> list[dict[str, Any]]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in itertools.islice(handle, start, stop)]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def index_ids(service: Service) -> list[str]:
    lexical = service.search_engine.lexical
    found = lexical.search(tantivy.Query.all_query(), limit=100_000)
    return sorted(i for i, _ in found.ids)


def live_ids(service: Service) -> list[str]:
    return sorted(
        p.arxiv_id for batch in service.store.iter_papers() for p in batch if not p.deleted
    )


def search_ids(service: Service, query: str) -> set[str]:
    return {h.paper.arxiv_id for h in service.search(query, per_page=200, mode="lexical").hits}


def test_index_follows_adds_updates_deletes_and_rebuild(settings: Settings, tmp_path: Path) -> None:
    first = read_records(0, 300)
    settings = settings.model_copy(update={"batch_size": 100})
    with Service(settings) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", first))
        assert index_ids(service) == live_ids(service) and len(live_ids(service)) == 300

        # 40 papers get a new title, 100 new papers arrive: searchable right after import.
        renamed = [{**r, "title": f"Zyxwvut protocol for {r['title']}"} for r in first[:40]]
        service.import_snapshot(write(tmp_path / "b.jsonl", renamed + read_records(300, 400)))
        assert search_ids(service, "zyxwvut") == {r["id"] for r in renamed}
        assert index_ids(service) == live_ids(service) and len(live_ids(service)) == 400
        old_title_word = first[0]["title"].split()[0]
        assert first[0]["id"] in search_ids(service, f'ti:"{old_title_word}"')  # still in new title

        # Deletions arrive through the same ingest path and leave the index.
        gone = [Paper(arxiv_id=r["id"], title="", abstract="", deleted=True) for r in first[:25]]
        for start in range(0, len(gone), 10):  # in batches, as a harvest commits pages
            commit_page(
                service.store,
                gone[start : start + 10],
                IngestReport(),
                on_changed=service._on_changed(),
            )
        assert index_ids(service) == live_ids(service) and len(live_ids(service)) == 375
        assert search_ids(service, "zyxwvut") == {r["id"] for r in renamed[25:]}

        before = {
            q: search_ids(service, q) for q in ("segmentation", '"language model"', "au:wang")
        }
        assert service.rebuild_index() == 400  # deleted papers are read and skipped
        assert index_ids(service) == live_ids(service)
        assert {q: search_ids(service, q) for q in before} == before


def test_other_processes_see_commits_and_an_empty_index_says_rebuild(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with Service(settings) as writer, Service(settings) as reader:
        writer.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 50)))
        assert reader.search("", mode="lexical").total == 50
        writer.import_snapshot(write(tmp_path / "b.jsonl", read_records(50, 80)))
        time.sleep(1.1)  # readers pick up other writers' commits within a second
        assert reader.search("", mode="lexical").total == 80

    shutil.rmtree(settings.data_dir / "index")
    with Service(settings) as service:
        result = service.search("segmentation", mode="lexical")
        assert result.total == 0 and any("index rebuild" in n for n in result.notes)
        assert service.rebuild_index() == 80
        result = service.search("", mode="lexical")
        assert result.total == 80 and not any("index rebuild" in n for n in result.notes)


def test_batches_committed_but_not_indexed_are_caught_up(
    settings: Settings, tmp_path: Path
) -> None:
    """A process killed between committing a batch and indexing it: the next process
    that opens the index indexes what it missed."""
    with Service(settings) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 100)))
        assert service.search_engine.lexical.synced_until is not None
    extra = read_records(100, 160)
    with Service(settings) as crashed:  # commits without the indexing hook
        from paperwire.sources.snapshot import parse_daily_listing

        crashed.store.upsert_papers([parse_daily_listing(r) for r in extra])
    with Service(settings) as service:
        result = service.search("", mode="lexical")
        assert result.total == 160 and not any("rebuild" in n for n in result.notes)
        assert index_ids(service) == live_ids(service)


def test_cli_index_rebuild(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    with Service(Settings(data_dir=data)) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 120)))
    shutil.rmtree(data / "index")
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(data)}
    run = [sys.executable, "-m", "paperwire"]
    done = subprocess.run(
        [*run, "index", "rebuild"], env=env, capture_output=True, text=True, check=True
    )
    assert "indexed 120 papers" in done.stdout and "120 searchable" in done.stdout
    found = subprocess.run(
        [*run, "search", "--json", "--mode", "lexical", ""],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(found.stdout)["total"] == 120
    helptext = subprocess.run(
        [*run, "index", "rebuild", "--help"], env=env, capture_output=True, text=True
    )
    assert "Rebuild the lexical search index" in helptext.stdout


def test_trending_sort_follows_upvotes_as_they_change(tmp_path: Path) -> None:
    from dataclasses import replace

    with Service(Settings(data_dir=tmp_path / "data")) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 60)))
        stored = [p for batch in service.store.iter_papers() for p in batch]
        votes = {p.arxiv_id: (i * 37) % 101 for i, p in enumerate(stored[:30])}
        voted = [replace(p, hf_upvotes=votes[p.arxiv_id], sources=["hf"]) for p in stored[:30]]
        commit_page(service.store, voted, IngestReport(), on_changed=service._on_changed())
        result = service.search("", sort="trending", per_page=10, mode="lexical")
        top = sorted(votes.values(), reverse=True)[:10]
        assert [h.paper.hf_upvotes for h in result.hits] == top
        assert result.sort == "trending" and result.total == 60


# -- catch-up re-indexes only papers whose documents are not current ---------------------


def test_opening_after_an_import_reindexes_nothing(settings: Settings, tmp_path: Path) -> None:
    """Every paper of a fresh import was changed within the sync margin; a process that
    opens the index afterwards compares them and finds each document current."""
    with Service(settings) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 400)))
    with Service(settings) as service:
        engine = service.search_engine
        lexical = engine.lexical
        assert engine.opening_catch_up == 0
        assert engine.catch_up() == 0
        assert lexical.segment_counts() == (400, 0)  # no document was replaced
        assert lexical.num_docs == 400 and index_ids(service) == live_ids(service)


def test_catch_up_reindexes_exactly_the_papers_changed_behind_its_back(
    settings: Settings, tmp_path: Path
) -> None:
    from dataclasses import replace

    with Service(settings) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 300)))
        stored = [p for batch in service.store.iter_papers() for p in batch]
    renamed = replace(stored[10], title=f"Qwxyzzy estimation of {stored[10].title}")
    gone = replace(stored[20], deleted=True)
    added = read_records(300, 301)[0]
    with Service(settings) as crashed:  # commits without the indexing hook
        from paperwire.sources.snapshot import parse_daily_listing

        crashed.store.upsert_papers([renamed, gone, parse_daily_listing(added)])
    with Service(settings) as service:
        engine = service.search_engine
        assert engine.lexical.num_docs == 300  # opening the index caught it up
        assert engine.opening_catch_up == 3
        assert search_ids(service, "qwxyzzy") == {renamed.arxiv_id}
        assert index_ids(service) == live_ids(service) and len(live_ids(service)) == 300
        assert added["id"] in index_ids(service) and gone.arxiv_id not in index_ids(service)
        assert engine.lexical.segment_counts()[1] <= 2  # only the renamed and deleted papers
        assert engine.catch_up() == 0


def test_an_index_of_an_older_version_is_cleared_and_asks_for_a_rebuild(
    tmp_path: Path,
) -> None:
    """An index written by paperwire before documents carried digests (schema 1)."""
    settings = Settings(data_dir=tmp_path / "data")
    with Service(settings) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 50)))
        paper = service.store.get_paper(read_records(0, 1)[0]["id"])
    path = settings.data_dir / "index" / "lexical"
    shutil.rmtree(path)
    path.mkdir(parents=True)
    old = tantivy.SchemaBuilder()
    old.add_text_field("arxiv_id", stored=True, tokenizer_name="raw")
    for name in ("title", "abstract", "authors"):
        old.add_text_field(name)
    old.add_text_field("category", tokenizer_name="raw", index_option="basic")
    old.add_integer_field("day", fast=True, indexed=True)
    old.add_integer_field("upvotes", fast=True)
    index = tantivy.Index(old.build(), path=str(path))
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    assert paper is not None
    writer.add_document(tantivy.Document(arxiv_id=paper.arxiv_id, title=paper.title))
    writer.commit()
    writer.wait_merging_threads()
    (path / "paperwire.json").write_text(
        json.dumps({"schema_version": 1, "synced_until": "2026-01-01T00:00:00+00:00"})
    )
    with Service(settings) as service:
        result = service.search("", mode="lexical")
        assert result.total == 0
        assert any("older version" in n and "index rebuild" in n for n in result.notes)
    with Service(settings) as service:  # still said by the next process, until rebuilt
        assert any("older version" in n for n in service.search("", mode="lexical").notes)
        assert service.rebuild_index() == 50
        assert service.search_engine.lexical.searcher().num_segments == 1  # fastest to search
    with Service(settings) as service:
        result = service.search("", mode="lexical")
        assert result.total == 50 and not any("rebuild" in n for n in result.notes)
        assert service.search_engine.opening_catch_up == 0  # set when search opened it


def test_result_ids_of_every_arxiv_id_form(settings: Settings) -> None:
    # Results read modern ids from the `key` fast field and old-style ids (no key) from
    # the stored document; both must come back exactly, in one result list.
    ids = ["0704.0001", "1501.00001", "2503.12345", "9912.9999", "hep-th/9901001",
           "math.GT/0309136", "cs/0112017"]  # fmt: skip
    for arxiv_id in ids[:4]:
        assert id_key(arxiv_id) > 0 and key_id(id_key(arxiv_id)) == arxiv_id
    assert [id_key(i) for i in ids[4:]] == [0, 0, 0]
    assert id_key("2503.123") == id_key("25031.2345") == id_key("２５０３.１２３４") == 0
    assert len({id_key(i) for i in ids[:4]}) == 4 and id_key("0704.0001") != id_key("0704.00001")
    papers = [
        Paper(arxiv_id=i, title=f"Quokka survey {n}", abstract="Quokkas.", version=1)
        for n, i in enumerate(ids)
    ]
    with Service(settings) as service:
        _report, changed = service.store.upsert_papers(papers)
        service.search_engine.index_changed(changed)
        assert sorted(search_ids(service, "quokka")) == sorted(ids)
        assert search_ids(service, 'ti:"quokka survey 5"') == {"math.GT/0309136"}


def test_a_catch_up_that_cannot_record_its_time_still_searches(
    settings: Settings, tmp_path: Path
) -> None:
    """On a full disk the first search after start answered 500: the catch-up it runs
    writes the index's sync time. The write is now best effort (a real OS error here: a
    directory where the meta file's temporary copy goes), and the old meta stays whole."""
    with Service(settings) as service:
        service.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 50)))
        meta = settings.data_dir / "index" / "lexical" / "paperwire.json"
        before = meta.read_text()
    blocker = meta.with_suffix(".tmp")
    blocker.mkdir()
    try:
        with Service(settings) as service:
            title = read_records(3, 4)[0]["title"]
            assert read_records(3, 4)[0]["id"] in search_ids(service, str(title))
            assert service.search_engine.catch_up() == 0
    finally:
        blocker.rmdir()
    assert meta.read_text() == before


def test_a_catch_up_leaves_an_import_s_papers_to_the_import(
    settings: Settings, tmp_path: Path
) -> None:
    """While an import holds the index writer for its uncommitted documents, another
    process opening the index neither waits for the lock nor fails: it searches the last
    commit, and the import's commit makes the papers searchable everywhere."""
    from paperwire.search.lexical import LOCK_WAIT_SECONDS
    from paperwire.sources.snapshot import parse_daily_listing
    from paperwire.store.codec import encode_paper

    with Service(settings) as importer:
        importer.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 50)))
        rows = [encode_paper(parse_daily_listing(r)) for r in read_records(50, 80)]
        with importer.search_engine.bulk_load() as load:
            load.add(importer.store.upsert_encoded(rows)[1])  # stored, not yet committed
            started = time.monotonic()
            with Service(settings) as other:
                assert other.search("", mode="lexical").total == 50
            assert time.monotonic() - started < LOCK_WAIT_SECONDS
        assert load.commits == 1
    with Service(settings) as service:
        assert service.search("", mode="lexical").total == 80
        assert service.search_engine.opening_catch_up == 0
        assert index_ids(service) == live_ids(service)


def test_a_rebuild_by_another_process_ends_the_rebuild_note(
    settings: Settings, tmp_path: Path
) -> None:
    """`paperwire index rebuild` run beside a serving process: that process's next catch-up
    (when asked, or every lexical_catch_up_seconds) stops saying the index is empty."""
    with Service(settings) as filler:
        filler.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 60)))
    shutil.rmtree(settings.data_dir / "index")
    periodic = settings.model_copy(update={"lexical_catch_up_seconds": 0.2})
    with Service(settings) as asked, Service(periodic) as timed:
        for serving in (asked, timed):
            notes = serving.search("", mode="lexical").notes
            assert any("index is empty" in n for n in notes)
        with Service(settings) as rebuilder:
            assert rebuilder.rebuild_index() == 60
        asked.search_engine.catch_up()
        result = asked.search("", mode="lexical")
        assert result.total == 60 and not any("rebuild" in n for n in result.notes)
        deadline = time.monotonic() + 10
        while any("rebuild" in n for n in timed.search("", mode="lexical").notes):
            assert time.monotonic() < deadline, "the timed catch-up kept the note"
            time.sleep(0.1)
        assert timed.search("", mode="lexical").total == 60


def test_a_serving_host_catches_up_while_idle_and_answers_its_first_query_current(
    settings: Settings, tmp_path: Path
) -> None:
    """Another host stores papers while this one is idle: the first query after the
    interval finds them (and so do similar papers), as the README says each host catches
    up every lexical_catch_up_seconds. The catch-up used to start only on a query once
    the interval had passed, in the background, and that query was answered stale."""
    from fastapi.testclient import TestClient

    from paperwire.web.app import create_app

    with Service(settings) as filler:
        filler.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 20)))
    here = settings.model_copy(
        update={"data_dir": tmp_path / "host-b", "lexical_catch_up_seconds": 0.3,
                "embed_in_background": False, "recommend_warm_up": False}
    )  # fmt: skip
    later = read_records(20, 60)
    wanted = later[-1]
    with TestClient(create_app(here, background_jobs=True)) as client:
        client.app.state.service.rebuild_index()  # this host's index, in sync
        first = client.get("/api/v1/search", params={"q": wanted["title"], "mode": "lexical"})
        assert wanted["id"] not in str(first.json())  # not stored yet
        with Service(settings) as other_host:  # its own data dir and index
            other_host.import_snapshot(write(tmp_path / "b.jsonl", later))
        time.sleep(2.0)  # idle: no query for several intervals
        found = client.get("/api/v1/search", params={"q": wanted["title"], "mode": "lexical"})
        ids = [hit["paper"]["arxiv_id"] for hit in found.json()["results"]]
        similar = client.get(f"/api/v1/papers/{later[0]['id']}/similar")
        assert similar.status_code == 200, similar.text
        newer = {r["id"] for r in later}  # 40 of its 59 candidates: some are among them
        assert newer & {hit["arxiv_id"] for hit in similar.json()}, similar.json()
        assert wanted["id"] in ids[:3], found.json()


def test_a_server_rebuilds_an_index_that_needs_it_without_being_told(
    settings: Settings, tmp_path: Path
) -> None:
    """After an upgrade clears the index (a new schema version) or on a new host, `serve`
    said "run `paperwire index rebuild`" until someone did: it rebuilds it now, in the
    background, and its searches find every paper without the note."""
    from fastapi.testclient import TestClient

    from paperwire.web.app import create_app

    with Service(settings) as filler:
        filler.import_snapshot(write(tmp_path / "a.jsonl", read_records(0, 40)))
    meta = settings.data_dir / "index" / "lexical" / "paperwire.json"
    meta.write_text(json.dumps({"schema_version": 1}))  # as an older paperwire left it
    here = settings.model_copy(
        update={"lexical_catch_up_seconds": 0.2, "embed_in_background": False,
                "recommend_warm_up": False}
    )  # fmt: skip
    wanted = read_records(0, 40)[-1]
    with TestClient(create_app(here, background_jobs=True)) as client:
        deadline = time.monotonic() + 30
        while True:
            asked = {"q": wanted["title"], "mode": "lexical"}
            body = client.get("/api/v1/search", params=asked).json()
            ids = [hit["paper"]["arxiv_id"] for hit in body["results"]]
            if ids[:1] == [wanted["id"]] and not any("rebuil" in n for n in body["notes"]):
                break
            assert time.monotonic() < deadline, body["notes"]
            time.sleep(0.2)
    with Service(settings) as service:
        assert index_ids(service) == live_ids(service)
