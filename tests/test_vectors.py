"""The float16 HNSW vector index above its ANN threshold, on real MiniLM vectors: recall
against exact numpy search, through changes, saves (patch and merge) and reloads; and the
bulk path that gives a data directory precomputed vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paperwire.config import Settings
from paperwire.search import semantic as semantic_module
from paperwire.search.embed import Embedder
from paperwire.search.semantic import SemanticIndex
from paperwire.search.vectors import VectorIndex
from paperwire.store import Store
from tests.test_semantic import daily_papers, daily_records

pytestmark = pytest.mark.skipif(not SemanticIndex.installed(), reason="paperwire[semantic]")
THRESHOLD = 500  # well below the corpus here, so the graph answers


@pytest.fixture(scope="module")
def real(model_dir: Path) -> tuple[list[str], np.ndarray]:
    """3,000 real arXiv titles' vectors."""
    records = daily_records(3000)
    vectors = Embedder(cache_dir=model_dir).embed([str(r["title"]) for r in records])
    return [str(r["id"]) for r in records], vectors


def recall_at_10(index: VectorIndex, live: dict[str, np.ndarray], queries: np.ndarray) -> float:
    """Mean overlap of the index's top 10 with exact float32 search over `live`."""
    ids = list(live)
    matrix = np.vstack([live[i] for i in ids])
    found = 0
    for query in queries:
        truth = {ids[n] for n in np.argsort(-(matrix @ query))[:10]}
        hits = [i for i, _ in index.search(query, 10)]
        assert len(hits) == 10 and set(hits) <= set(live)
        found += len(truth & set(hits))
    return found / (10 * len(queries))


def test_graph_recall_through_changes_saves_and_reloads(
    real: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    ids, vectors = real
    queries = vectors[2800:]  # 200 titles the index never holds
    live = dict(zip(ids[:2000], vectors[:2000], strict=True))
    VectorIndex.build("m", ids[:2000], ["h"] * 2000, vectors[:2000], THRESHOLD).save(tmp_path)
    loaded = VectorIndex.load(tmp_path, "m", THRESHOLD)
    assert loaded.uses_ann and len(loaded) == 2000
    assert recall_at_10(loaded, live, queries) >= 0.95

    # a few changes on top of the memory-mapped base: removals, replaced vectors, new papers
    loaded.remove(ids[:50])
    loaded.upsert({i: ("h2", vectors[2000 + n]) for n, i in enumerate(ids[50:100])})
    loaded.upsert({i: ("h", v) for i, v in zip(ids[2100:2190], vectors[2100:2190], strict=True)})
    for i in ids[:50]:
        del live[i]
    live.update({i: vectors[2000 + n] for n, i in enumerate(ids[50:100])})
    live.update(zip(ids[2100:2190], vectors[2100:2190], strict=True))
    assert len(loaded) == len(live) == 2040
    assert recall_at_10(loaded, live, queries) >= 0.95
    before = [loaded.search(q, 10) for q in queries[:20]]
    base = sorted(tmp_path.glob("rows-*.npy"))

    loaded.save(tmp_path)  # 190 changes, under a tenth of the base: saved as a patch
    assert sorted(tmp_path.glob("rows-*.npy")) == base
    patched = VectorIndex.load(tmp_path, "m", THRESHOLD)
    assert [patched.search(q, 10) for q in queries[:20]] == before
    assert patched.hashes[ids[50]] == "h2" and ids[0] not in patched

    patched.upsert({i: ("h", v) for i, v in zip(ids[2200:2700], vectors[2200:2700], strict=True)})
    live.update(zip(ids[2200:2700], vectors[2200:2700], strict=True))
    assert recall_at_10(patched, live, queries) >= 0.95
    patched.save(tmp_path)  # past a tenth: folded into a new base, the graph updated
    assert sorted(tmp_path.glob("rows-*.npy")) != base
    assert len(list(tmp_path.glob("rows-*.npy"))) == len(list(tmp_path.glob("graph-*"))) == 1
    merged = VectorIndex.load(tmp_path, "m", THRESHOLD)
    assert len(merged) == 2540 and merged.changes == 0
    assert recall_at_10(merged, live, queries) >= 0.95
    own = merged.search(vectors[2500], 1)  # stored as float16: cosine to itself ~1
    assert own[0][0] == ids[2500] and own[0][1] == pytest.approx(1.0, abs=1e-3)
    assert merged.search(vectors[2000], 3, exclude=ids[50])[0][0] != ids[50]


def test_old_format_files_are_dropped_and_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "ids.json").write_text(json.dumps({"model": "m", "generation": "x", "ids": []}))
    np.save(tmp_path / "vectors-x.npy", np.zeros((0, 384), dtype=np.float32))
    assert len(VectorIndex.load(tmp_path, "m")) == 0  # format 1: rebuilt from the store
    index = VectorIndex("m")
    index.upsert({"2501.00001": ("h", np.eye(384, dtype=np.float32)[0])})
    index.save(tmp_path)
    assert not (tmp_path / "ids.json").exists() and not list(tmp_path.glob("vectors-*"))
    assert VectorIndex.load(tmp_path, "m").search(np.eye(384, dtype=np.float32)[0], 1)[0][0] == (
        "2501.00001"
    )


def test_precomputed_vectors_load_in_one_pass(
    real: tuple[list[str], np.ndarray],
    settings: Settings,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers = daily_papers(800)
    store.upsert_papers(papers)
    ids, vectors = real
    by_id = dict(zip(ids, vectors, strict=True))
    given = [p.arxiv_id for p in papers] + ["9999.99999"]  # not in the store: skipped
    matrix = np.vstack([by_id[p.arxiv_id] for p in papers] + [vectors[:1]])
    semantic = SemanticIndex(settings, store, ann_threshold=THRESHOLD)
    assert semantic.load_precomputed(given, matrix) == 800
    assert semantic.coverage() == (800, 800)
    assert semantic.embed_pending() == 0  # the stored text hashes match: nothing re-embedded
    reader = SemanticIndex(settings, store, ann_threshold=THRESHOLD)  # another process
    assert reader.refresh().uses_ann and len(reader.refresh()) == 800
    assert reader.neighbours(papers[7].arxiv_id, 5)[0][0] != papers[7].arxiv_id
    top = reader.refresh().search(by_id[papers[7].arxiv_id], 1)
    assert top[0][0] == papers[7].arxiv_id

    # a reader far enough behind a newer saved generation loads it instead of piling up changes
    monkeypatch.setattr(semantic_module, "RELOAD_CHANGES", 1)
    folder = semantic.folder
    for extra in daily_papers(2, skip=800):
        store.upsert_papers([extra])
        assert semantic.embed_pending() == 1  # the writer saves a new generation each time
        reader.refresh(force=True)
    assert reader.refresh().generation == VectorIndex.saved_generation(folder)
    assert len(reader.refresh()) == 802


def test_the_graph_library_loads_before_the_model_runtime_without_crashing() -> None:
    """A serve worker opens the vector graph (usearch) before its first query loads the
    model runtime (onnxruntime); in that order the native modules segfaulted the process."""
    import subprocess
    import sys

    code = (
        "from paperwire.search.vectors import _usearch_index\n"
        "_usearch_index()\n"
        "import usearch.index, onnxruntime\n"
        "print(usearch.index.Index(ndim=4).ndim, bool(onnxruntime.get_available_providers()))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert run.stdout.split() == ["4", "True"]


def test_vectors_of_gathers_base_and_patch_rows_in_the_order_asked(
    real: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    """One gather for hybrid search's smoothing: the memory-mapped float16 base, replaced
    vectors from the patch, new papers, removed and unknown ids left out; each row the
    index's own vector of that id."""
    ids, vectors = real
    VectorIndex.build("m", ids[:1000], ["h"] * 1000, vectors[:1000], THRESHOLD).save(tmp_path)
    index = VectorIndex.load(tmp_path, "m", THRESHOLD)
    assert index._rows.dtype == np.float16  # the base is the mapped file
    index.upsert({ids[5]: ("h2", vectors[2000]), ids[1500]: ("h", vectors[1500])})
    index.remove([ids[7]])
    asked = [ids[1500], ids[9], "nope", ids[7], ids[5], ids[3]]
    found, matrix = index.vectors_of(asked)
    assert found == [ids[1500], ids[9], ids[5], ids[3]]
    assert matrix.dtype == np.float32 and matrix.shape == (4, 384)
    for row, arxiv_id in zip(matrix, found, strict=True):
        assert np.array_equal(row, index.vector(arxiv_id))
    assert np.allclose(matrix[2], vectors[2000], atol=1e-3)  # the replaced vector
    assert np.allclose(matrix[1], vectors[9], atol=1e-3)
    assert index.vectors_of([]) == ([], pytest.approx(np.zeros((0, 384))))


def test_hashes_follow_labels_through_frees_saves_and_reloads(tmp_path: Path) -> None:
    """A removed paper's row is reused by the next new one; the saved hashes (one per
    label) keep up, and files written by json.dumps (before orjson) still load."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((8, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"2501.0000{n}" for n in range(8)]
    index = VectorIndex.build("m", ids[:5], [f"h{n}" for n in range(5)], vectors[:5])
    index.remove([ids[1], ids[3]])
    index.upsert({ids[5]: ("h5", vectors[5]), ids[0]: ("h0b", vectors[6])})
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, "m")
    expected = {ids[0]: "h0b", ids[2]: "h2", ids[4]: "h4", ids[5]: "h5"}
    assert loaded.hashes == index.hashes == expected
    assert loaded.search(vectors[5], 1)[0][0] == ids[5]
    loaded.upsert({ids[6]: ("h6", vectors[7])})  # takes the last free row
    assert len(loaded) == 5 and "" not in loaded.hashes

    generation = VectorIndex.saved_generation(tmp_path)
    names_file = tmp_path / f"ids-{generation}.json"
    saved = json.loads(names_file.read_bytes())
    assert saved["hashes"] == [expected.get(i, "") for i in saved["ids"]]
    names_file.write_text(json.dumps(saved))  # the older writer's spacing
    assert VectorIndex.load(tmp_path, "m").hashes == expected
