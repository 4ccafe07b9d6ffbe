"""On-disk vector index: unit vectors keyed by paper id, cosine (inner product) search.

Rows of a matrix are addressed by integer labels; ``ids[label]`` names the paper ("" marks a
free row). Below ``ann_threshold`` live vectors the search is exact (one matrix-vector
product); above it a usearch HNSW graph over the same labels, holding float16 vectors,
answers (recall@10 0.988 against exact float32 search at 1 M, benchmarks/bench_vectors.py).

The *base* is what was last written whole: ``rows-<base>.npy`` (float16) and
``graph-<base>.usearch``. Both are memory-mapped, read-only, so every serve worker shares
their pages. Changes since the base live in a small *patch* (vectors of new or replaced
labels, searched exactly) and a *stale* set (base labels whose vector is gone or replaced,
filtered out); a save writes them as ``patch-<generation>.npy`` and, once they pass
MERGE_AT changes, folds them into a new base instead (the graph is updated, not rebuilt).

``ids-<generation>.json`` holds labels -> ids, text hashes, the patch's labels and the
stale set; ``index.json`` (format, model, generation, base) is written last and names the
generation: readers see the old or the new generation whole. Files that do not agree are
discarded and the index is rebuilt from the database, which is the source of truth.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from paperwire.search.embed import DIMENSION, Vectors
from paperwire.search.vector_patch import Patch, best_rows

FORMAT = 2  # 2: float16 rows + usearch graph + patch; 1 (ids.json, hnswlib) is rebuilt
ANN_THRESHOLD = 20_000
GRAPH_CONNECTIVITY = 16  # HNSW "M"
GRAPH_EXPANSION_ADD = 128  # "ef_construction"
GRAPH_EXPANSION_SEARCH = 160  # "ef"
MERGE_AT = 20_000  # changes since the base (at most a tenth of it) before a save merges
LAZY_GRAPH_MAX = 100_000  # larger indexes without a saved graph answer exactly until saved
CHUNK = 65_536  # rows scored or written at a time


class VectorIndex:
    """Vectors of the papers that have one; add, replace, remove, search."""

    def __init__(self, model_id: str, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.model_id = model_id
        self.ann_threshold = ann_threshold
        self.ef_search = GRAPH_EXPANSION_SEARCH
        self.ids: list[str] = []
        self.hashes: dict[str, str] = {}
        self._label_hashes: list[str] = []  # hashes by label ("" for free rows), as saved
        self.generation = ""  # of the files this index was loaded from or saved as
        # the store's fingerprint this index holds everything up to (JSON, opaque here;
        # see vector_sync), saved with it; None when unknown
        self.synced_to: object = None
        self._label: dict[str, int] = {}
        self._free: list[int] = []
        self._rows: npt.NDArray[Any] = np.zeros((0, DIMENSION), dtype=np.float32)  # base
        self._graph: Any = None  # usearch Index over the base's live labels
        self._graph_file: Path | None = None  # the file `_graph` maps, None when in memory
        self._stale: set[int] = set()  # base labels whose row is gone or replaced
        self._patch = Patch()
        self.changes = 0  # upserts and removals since the base
        self.changes_at_load = 0  # of those, how many the loaded files held
        self._base = ""  # base name of the files in `_saved_in`, "" when not written
        self._saved_in: Path | None = None

    @classmethod
    def build(
        cls,
        model_id: str,
        ids: Sequence[str],
        hashes: Sequence[str],
        vectors: npt.NDArray[Any],
        ann_threshold: int = ANN_THRESHOLD,
    ) -> VectorIndex:
        """An index over these unit `vectors` (row n is `ids[n]`), made in one step; its
        graph is built by the first :meth:`save` (or search)."""
        index = cls(model_id, ann_threshold)
        index.ids = list(ids)
        index.hashes = dict(zip(ids, hashes, strict=True))
        index._label_hashes = list(hashes)
        index._label = {i: n for n, i in enumerate(index.ids)}
        index._rows = vectors
        return index

    def __len__(self) -> int:
        return len(self._label)

    def __contains__(self, arxiv_id: object) -> bool:
        return arxiv_id in self._label

    @property
    def uses_ann(self) -> bool:
        return len(self) >= self.ann_threshold

    # -- changes ---------------------------------------------------------------

    def upsert(self, items: dict[str, tuple[str, Vectors]]) -> None:
        """Add or replace vectors: {arxiv_id: (text_hash, unit vector)}."""
        for arxiv_id, (text_hash, vector) in items.items():
            label = self._label.get(arxiv_id)
            if label is None:
                label = self._free.pop() if self._free else len(self.ids)
                if label == len(self.ids):
                    self.ids.append(arxiv_id)
                    self._label_hashes.append(text_hash)
                else:
                    self.ids[label] = arxiv_id
                self._label[arxiv_id] = label
            if label < len(self._rows):
                self._stale.add(label)
            self._patch.put(label, vector)
            self.hashes[arxiv_id] = text_hash
            self._label_hashes[label] = text_hash
            self.changes += 1

    def remove(self, arxiv_ids: list[str]) -> None:
        for arxiv_id in arxiv_ids:
            label = self._label.pop(arxiv_id, None)
            if label is None:
                continue
            self.hashes.pop(arxiv_id, None)
            self.ids[label] = ""
            self._label_hashes[label] = ""
            self._free.append(label)
            self._patch.drop(label)
            if label < len(self._rows):
                self._stale.add(label)
            self.changes += 1

    def vector(self, arxiv_id: str) -> Vectors | None:
        label = self._label.get(arxiv_id)
        if label is None:
            return None
        patched = self._patch.get(label)
        if patched is not None:
            return patched
        return np.array(self._rows[label], dtype=np.float32)

    def vectors_of(self, arxiv_ids: Sequence[str]) -> tuple[list[str], Vectors]:
        """Those of `arxiv_ids` that have a vector, and their float32 vectors in that order:
        one gather from the base rows, then the patch's rows on top."""
        label = self._label
        found = [arxiv_id for arxiv_id in arxiv_ids if arxiv_id in label]
        labels = np.fromiter((label[i] for i in found), dtype=np.int64, count=len(found))
        in_base = labels < len(self._rows)
        if in_base.all():  # a gather makes a copy: ours to overlay
            matrix = _as_float32(self._rows[labels]).reshape(len(found), DIMENSION)
        else:
            matrix = np.zeros((len(found), DIMENSION), dtype=np.float32)
            matrix[in_base] = _as_float32(self._rows[labels[in_base]])
        self._patch.overlay(labels, matrix)
        return found, matrix

    def current_rows(self, start: int, stop: int) -> Vectors:
        """Float32 vectors of labels start..stop as they are now (zeros for free labels)."""
        part = np.zeros((stop - start, DIMENSION), dtype=np.float32)
        base_stop = min(stop, len(self._rows))
        if base_stop > start:
            part[: base_stop - start] = self._rows[start:base_stop]
        for label, vector in self._patch.items_between(start, stop):
            part[label - start] = vector
        for label in range(start, stop):
            if not self.ids[label]:
                part[label - start] = 0.0
        return part

    # -- search ----------------------------------------------------------------

    def search(
        self, query: Vectors, k: int, exclude: str | None = None, exact: bool = False
    ) -> list[tuple[str, float]]:
        """The `k` nearest ids to a unit `query` vector, cosine similarity, best first."""
        if not self._label or k <= 0:
            return []
        want = min(k + (1 if exclude else 0), len(self))
        query = np.asarray(query, dtype=np.float32)
        if self.uses_ann and not exact and self._ready_graph() is not None:
            pairs = self._search_graph(query, want)
        else:
            pairs = self._search_base_exact(query, want)
        pairs = _best([*pairs, *self._patch.search(query, want)], want)
        ids = self.ids
        return [(ids[lab], s) for lab, s in pairs if ids[lab] != exclude][:k]

    def _search_base_exact(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        rows = self._rows
        if not len(rows):
            return []
        if rows.dtype == np.float32:  # einsum, not BLAS: a threaded matvec thrashes busy hosts
            scores = np.einsum("ij,j->i", rows, query)
        else:  # float16 has no BLAS path: score in float32 chunks
            parts = [
                np.einsum("ij,j->i", rows[s : s + CHUNK].astype(np.float32), query)
                for s in range(0, len(rows), CHUNK)
            ]
            scores = np.concatenate(parts)
        if self._stale:
            scores[np.fromiter(self._stale, dtype=np.int64)] = -np.inf
        top = best_rows(scores, k)
        return list(zip(top.tolist(), scores[top].tolist(), strict=True))

    def _search_graph(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        graph = self._graph
        graph.expansion_search = max(self.ef_search, k)
        stale = self._stale
        fetch = k + min(len(stale), max(k, 10))
        while True:
            found = graph.search(query, min(fetch, graph.size), threads=1)
            labels: list[int] = found.keys.tolist()
            similarity: list[float] = (1.0 - found.distances).tolist()
            pairs = [
                (lab, s) for lab, s in zip(labels, similarity, strict=True) if lab not in stale
            ]
            if len(pairs) >= k or fetch >= k + len(stale) or len(labels) < fetch:
                return pairs[:k]
            fetch = k + len(stale)  # at most this many can be filtered out

    def _ready_graph(self) -> Any:
        """The graph; built here (in memory) for an index small enough to build at once."""
        if self._graph is None and len(self) <= LAZY_GRAPH_MAX:
            self.build_ann()
        return self._graph

    def build_ann(self) -> None:
        """(Re)build the HNSW graph over every live vector (the base absorbs the patch)."""
        self._rows = self.current_rows(0, len(self.ids))
        self._graph, self._graph_file = _new_graph(), None
        labels = np.asarray(sorted(self._label.values()), dtype=np.int64)
        _add_to_graph(self._graph, labels, self._rows)
        self._stale = set(self._free)
        self._patch = Patch()
        self.changes = 0
        self._base = ""

    # -- files -----------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write a new generation (a new base too when the patch is large), then point
        ``index.json`` at it, then drop the files no generation names."""
        folder.mkdir(parents=True, exist_ok=True)
        generation = uuid.uuid4().hex[:12]
        if self._saved_in != folder or not self._base or self.changes >= self._merge_at():
            self._write_base(folder, generation)
        patch_labels = self._patch.live_labels()
        _atomic(
            folder / f"patch-{generation}.npy", lambda p: np.save(p, self._patch.rows(patch_labels))
        )
        names = {
            "ids": self.ids,
            "hashes": self._label_hashes,
            "patch": patch_labels,
            "stale": sorted(self._stale),
            "changes": self.changes,
            "synced_to": self.synced_to,
        }
        # orjson: 0.03 s where json.dumps took 0.30 s for 1 M ids (each sync while embedding)
        _atomic(folder / f"ids-{generation}.json", lambda p: p.write_bytes(orjson.dumps(names)))
        head = {
            "format": FORMAT,
            "model": self.model_id,
            "generation": generation,
            "base": self._base,
        }
        _atomic(folder / "index.json", lambda p: p.write_text(json.dumps(head)))
        self.generation = generation
        keep = {f"rows-{self._base}.npy", f"graph-{self._base}.usearch"}
        _drop_unnamed(folder, keep | {f"patch-{generation}.npy", f"ids-{generation}.json"})

    def _merge_at(self) -> int:
        return min(MERGE_AT, max(1, len(self._rows) // 10))

    def _write_base(self, folder: Path, generation: str) -> None:
        """Fold the patch into new float16 rows and graph files named `generation`."""
        count = len(self.ids)
        rows_path = folder / f"rows-{generation}.npy"
        tmp = rows_path.with_name(f".tmp-{rows_path.name}")
        rows = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(count, DIMENSION))
        for start in range(0, count, CHUNK):
            rows[start : start + CHUNK] = self.current_rows(start, min(count, start + CHUNK))
        rows.flush()
        del rows
        graph = self._next_graph(folder, rows_path, tmp) if self.uses_ann else None
        os.replace(tmp, rows_path)
        if graph is not None:
            _atomic(folder / f"graph-{generation}.usearch", lambda p: graph.save(str(p)))
        self._stale = set(self._free)
        self._patch = Patch()
        self.changes = 0
        self._open_base(folder, generation)

    def _next_graph(self, folder: Path, rows_path: Path, new_rows: Path) -> Any:
        """The graph for the new base: the old one updated, or a new one."""
        rows = np.load(new_rows, mmap_mode="r")
        live = np.asarray(sorted(self._label.values()), dtype=np.int64)
        if self._graph is None:
            graph, todo = _new_graph(), live
        else:
            graph = self._graph if self._graph_file is None else _writable(self._graph_file)
            graph.remove(np.fromiter(self._stale, dtype=np.uint64))
            todo = live[np.isin(live, np.fromiter(self._stale, dtype=np.int64))]
            todo = np.union1d(todo, live[live >= len(self._rows)]).astype(np.int64)
        _add_to_graph(graph, todo, rows)
        del rows
        return graph

    def _open_base(self, folder: Path, base: str) -> None:
        """Map the base files (rows in memory as float32 while the index is small)."""
        Index = _usearch_index()

        rows = np.load(folder / f"rows-{base}.npy", mmap_mode="r")
        self._rows = rows if len(rows) >= self.ann_threshold else np.asarray(rows, np.float32)
        graph_path = folder / f"graph-{base}.usearch"
        self._graph, self._graph_file = None, None
        if graph_path.exists():
            self._graph, self._graph_file = Index.restore(str(graph_path), view=True), graph_path
        self._base, self._saved_in = base, folder

    @classmethod
    def load(cls, folder: Path, model_id: str, ann_threshold: int = ANN_THRESHOLD) -> VectorIndex:
        """The saved index, or an empty one when the files are missing, foreign or torn."""
        for _ in range(3):  # a writer may replace the generation while we read it
            index = cls(model_id, ann_threshold)
            try:
                return index if index._read(folder) else cls(model_id, ann_threshold)
            except (OSError, ValueError, KeyError, RuntimeError):
                continue
        return cls(model_id, ann_threshold)

    def _read(self, folder: Path) -> bool:
        head = json.loads((folder / "index.json").read_text())
        if head.get("format") != FORMAT or head.get("model") != self.model_id:
            return False
        generation, base = str(head["generation"]), str(head["base"])
        names = orjson.loads((folder / f"ids-{generation}.json").read_bytes())
        patch = np.load(folder / f"patch-{generation}.npy")
        self._open_base(folder, base)
        ids: list[str] = names["ids"]
        if len(self._rows) > len(ids) or len(patch) != len(names["patch"]):
            raise ValueError("torn index files")
        self.ids = ids
        self._label_hashes = names["hashes"]
        # built whole, then the free rows' "" dropped: twice as fast as filtering each
        self.hashes = dict(zip(ids, self._label_hashes, strict=True))
        self._label = dict(zip(ids, range(len(ids)), strict=True))
        self.hashes.pop("", None)
        self._label.pop("", None)
        self._free = [n for n, i in enumerate(ids) if not i]
        self._stale = set(names["stale"])
        for label, vector in zip(names["patch"], patch, strict=True):
            self._patch.put(label, vector)
        self.changes = self.changes_at_load = int(names["changes"])
        self.synced_to = names.get("synced_to")
        self.generation = generation
        return True

    @staticmethod
    def saved_generation(folder: Path) -> str:
        """The generation ``index.json`` names now ("" when there is none)."""
        try:
            return str(json.loads((folder / "index.json").read_text())["generation"])
        except (OSError, ValueError, KeyError):
            return ""

    def size_on_disk(self, folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


def _usearch_index() -> Any:
    """usearch's Index class, imported after onnxruntime: loading onnxruntime's native
    module once usearch's is loaded crashes the process (segfault, usearch 2.26 with
    onnxruntime 1.2x on this platform; tests/test_vectors.py checks the order holds)."""
    with contextlib.suppress(ImportError):  # the model runtime is optional
        import onnxruntime  # noqa: F401

    from usearch.index import Index

    return Index


@functools.cache
def _float16_values() -> Vectors:
    """The float32 value of every float16 bit pattern (256 KiB)."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def _as_float32(rows: npt.NDArray[Any]) -> Vectors:
    """`rows` as float32; float16 rows by table look-up (numpy's own cast took 90 us for
    172 rows of 384, the look-up 39)."""
    if rows.dtype != np.float16:
        return np.asarray(rows, dtype=np.float32)
    return np.take(_float16_values(), np.asarray(rows).view(np.uint16))


def _best(pairs: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    return sorted(pairs, key=lambda pair: -pair[1])[:k]


def _new_graph() -> Any:
    Index = _usearch_index()

    return Index(
        ndim=DIMENSION,
        metric="ip",
        dtype="f16",
        connectivity=GRAPH_CONNECTIVITY,
        expansion_add=GRAPH_EXPANSION_ADD,
        expansion_search=GRAPH_EXPANSION_SEARCH,
    )


def _add_to_graph(graph: Any, labels: npt.NDArray[np.int64], rows: npt.NDArray[Any]) -> None:
    """Add the rows of `labels` (as float32, CHUNK at a time) to `graph` on every core."""
    for start in range(0, len(labels), CHUNK):
        part = labels[start : start + CHUNK]
        vectors = np.asarray(rows[part], dtype=np.float32)
        graph.add(part.astype(np.uint64), vectors, threads=os.cpu_count() or 1)


def _writable(path: Path) -> Any:
    """A copy in memory of the graph saved in `path` (a view cannot change)."""
    Index = _usearch_index()

    graph = Index.restore(str(path), view=False)
    if graph is None:
        raise ValueError(f"unreadable vector graph {path}")
    return graph


def _drop_unnamed(folder: Path, keep: set[str]) -> None:
    """Remove index files (this format's and format 1's) that are not in `keep`."""
    patterns = ("rows-*", "graph-*", "patch-*", "ids-*", "vectors-*.npy", "hnsw-*.bin", "ids.json")
    for path in {p for pattern in patterns for p in folder.glob(pattern)}:
        if path.name not in keep:
            path.unlink(missing_ok=True)


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}")  # keeps the suffix (np.save would add one)
    write(tmp)
    os.replace(tmp, path)
