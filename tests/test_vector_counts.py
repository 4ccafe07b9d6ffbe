"""The vector fingerprint and coverage counts (store/embeddings.py) on both backends:
they are read from indexes (migration 0010_counts) instead of joining every paper, and
must still change exactly when the set of live vectors does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search.embed import MODEL_ID
from paperwire.search.semantic import SemanticIndex
from paperwire.store import Store
from paperwire.store.embeddings import EmbeddingStore, StoredVector
from tests.test_semantic import daily_papers

MODEL = "test-model"


def vector_rows(papers: list[Paper], seed: int = 0) -> list[StoredVector]:
    rng = np.random.default_rng(seed)
    return [
        StoredVector(p.arxiv_id, "paper-hash", f"t{seed}", rng.random(384, np.float32).tobytes())
        for p in papers
    ]


def test_fingerprint_and_coverage_follow_live_vectors(store: Store) -> None:
    papers = daily_papers(6)
    store.upsert_papers(papers)
    table = EmbeddingStore(store)
    assert table.coverage(MODEL) == (0, 6)
    empty = table.version(MODEL)

    table.save(MODEL, vector_rows(papers[:4]))
    assert table.coverage(MODEL) == (4, 6)
    four = table.version(MODEL)
    assert four != empty
    assert table.version(MODEL) == four  # nothing changed: the same fingerprint

    # a paper's metadata changes (no new vector): the live set, and the fingerprint, stay
    store.upsert_papers([replace(papers[5], hf_upvotes=7)])
    assert table.version(MODEL) == four

    # an embedded paper is deleted: one live vector fewer; an unembedded one: one paper fewer
    store.upsert_papers([replace(papers[0], deleted=True)])
    assert table.coverage(MODEL) == (3, 5)
    one_gone = table.version(MODEL)
    assert one_gone != four and one_gone != empty
    store.upsert_papers([replace(papers[5], deleted=True)])
    assert table.coverage(MODEL) == (3, 4)
    assert set(table.live_hashes(MODEL)) == {p.arxiv_id for p in papers[1:4]}

    # it comes back: its vector is live again
    store.upsert_papers([replace(papers[0], deleted=False)])
    assert table.coverage(MODEL) == (4, 5)
    assert table.version(MODEL) not in (one_gone, four)

    # vectors of another model are not this model's
    table.save("other-model", vector_rows(papers[1:2], seed=1))
    assert table.coverage(MODEL) == (3, 5)
    assert table.coverage("other-model") == (1, 5)


def test_a_reader_syncs_only_what_changed(settings: Settings, store: Store) -> None:
    """A reader's index follows new, replaced and deleted vectors by reading only the
    changes (the full read of every live hash happens once, at load), and falls back to
    the full read when a paper comes back from deletion, ending equal to the store."""
    papers = daily_papers(30)
    store.upsert_papers(papers)
    table = EmbeddingStore(store)
    table.save(MODEL_ID, vector_rows(papers[:10]))
    reader = SemanticIndex(settings, store)
    full_reads = 0
    live_hashes = reader.vectors_store.live_hashes

    def counted(model: str) -> dict[str, str]:
        nonlocal full_reads
        full_reads += 1
        return live_hashes(model)

    reader.vectors_store.live_hashes = counted  # type: ignore[method-assign]
    assert len(reader.refresh(force=True)) == 10 and full_reads == 1
    table.save(MODEL_ID, vector_rows(papers[10:20], seed=1))  # ten new
    table.save(MODEL_ID, vector_rows(papers[0:2], seed=2))  # two replaced (new text)
    store.upsert_papers([replace(papers[3], deleted=True)])  # one deleted
    index = reader.refresh(force=True)
    assert full_reads == 1
    assert index.hashes == live_hashes(MODEL_ID) and len(index) == 19
    assert index.hashes[papers[0].arxiv_id] == "t2"
    store.upsert_papers([replace(papers[3], deleted=False)])  # back: a full read tells
    index = reader.refresh(force=True)
    assert full_reads == 2 and index.hashes == live_hashes(MODEL_ID) and len(index) == 20
    assert reader.refresh(force=True) is index and full_reads == 2  # nothing changed


def test_a_reader_of_saved_files_starts_from_their_fingerprint(
    settings: Settings, store: Store
) -> None:
    """Files a writer saved name the store fingerprint they hold, so a new reader (another
    worker) loads them and reads only later changes, never every live hash."""
    papers = daily_papers(12)
    store.upsert_papers(papers)
    table = EmbeddingStore(store)
    table.save(MODEL_ID, vector_rows(papers[:8]))
    writer = SemanticIndex(settings, store)
    writer.refresh(force=True, save=True)
    table.save(MODEL_ID, vector_rows(papers[8:], seed=1))  # after the files were written
    reader = SemanticIndex(settings, store)
    live_hashes = reader.vectors_store.live_hashes

    def refused(model: str) -> dict[str, str]:
        raise AssertionError("a full read of every live hash")

    reader.vectors_store.live_hashes = refused  # type: ignore[method-assign]
    index = reader.refresh(force=True)
    assert len(index) == 12 and index.hashes == live_hashes(MODEL_ID)


def test_concurrent_savers_merge(store: Store) -> None:
    """Two savers of the same papers at once (two `paperwire embed` runs, a server's
    background embedder and an operator's run): neither fails with a duplicate key, each
    paper keeps one row, and on PostgreSQL its pgvector column holds the same vector as
    its `vector` bytes (one saver's, not a mix)."""
    import threading

    import sqlalchemy as sa

    papers = daily_papers(40)
    store.upsert_papers(papers)
    failures: list[BaseException] = []
    for round_ in range(8):
        barrier = threading.Barrier(2)

        def save(seed: int, barrier: threading.Barrier = barrier) -> None:
            table = EmbeddingStore(store)
            rows = vector_rows(papers, seed=seed)
            barrier.wait()
            try:
                table.save(MODEL, rows)
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=save, args=(2 * round_ + n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures[0]
    table = EmbeddingStore(store)
    assert table.coverage(MODEL) == (40, 40)
    stored = list(table.vectors(MODEL, [p.arxiv_id for p in papers]))
    assert len(stored) == 40 and {v.text_hash for v in stored} <= {"t14", "t15"}
    if table.fills_pgvector:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT vector, embedding::text FROM embeddings")).all()
        for blob, text in rows:
            halves = np.array(text.strip("[]").split(","), dtype=np.float32)
            assert np.allclose(np.frombuffer(blob, dtype=np.float32), halves, atol=1e-3)
