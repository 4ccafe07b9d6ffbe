"""On-disk vector index: unit vectors keyed by paper id, cosine (inner product) search.

Rows of a float32 matrix are addressed by integer labels; ``ids[label]`` names the paper
("" marks a free row). Below ``ann_threshold`` live vectors the search is exact
(one matrix-vector product); above it an hnswlib HNSW graph over the same labels answers,
tuned for recall@10 >= 0.95 against exact search.

Files in the index folder (each written to a temporary name, then renamed):
``vectors-<generation>.npy`` (rows), ``hnsw-<generation>.bin`` and ``ids.json`` (labels ->
ids, text hashes, model, the current generation), written last. Files that do not agree are
discarded and the index is rebuilt from the database, which is the source of truth.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from paperwire.search.embed import DIMENSION, Vectors

ANN_THRESHOLD = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 160


class VectorIndex:
    """Vectors of the papers that have one; add, replace, remove, search."""

    def __init__(self, model_id: str, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.model_id = model_id
        self.ann_threshold = ann_threshold
        self.ef_search = HNSW_EF_SEARCH
        self.ids: list[str] = []
        self.hashes: dict[str, str] = {}
        self._label: dict[str, int] = {}
        self._free: list[int] = []
        self._rows: Vectors = np.zeros((0, DIMENSION), dtype=np.float32)
        self._hnsw: Any = None
        self._graph_deleted: set[int] = set()  # labels marked deleted inside the HNSW graph

    def __len__(self) -> int:
        return len(self._label)

    def __contains__(self, arxiv_id: object) -> bool:
        return arxiv_id in self._label

    # -- changes ---------------------------------------------------------------

    def _grow(self, need: int) -> None:
        if need <= self._rows.shape[0]:
            return
        size = max(need, int(self._rows.shape[0] * 1.5) + 1024)
        grown = np.zeros((size, DIMENSION), dtype=np.float32)
        grown[: self._rows.shape[0]] = self._rows
        self._rows = grown

    def upsert(self, items: Mapping[str, tuple[str, Vectors]]) -> None:
        """Add or replace vectors: {arxiv_id: (text_hash, unit vector)}."""
        labels: list[int] = []
        for arxiv_id, (text_hash, vector) in items.items():
            label = self._label.get(arxiv_id)
            if label is None:
                label = self._free.pop() if self._free else len(self.ids)
                if label == len(self.ids):
                    self.ids.append(arxiv_id)
                else:
                    self.ids[label] = arxiv_id
                self._label[arxiv_id] = label
            self._grow(len(self.ids))
            self._rows[label] = vector
            self.hashes[arxiv_id] = text_hash
            labels.append(label)
        if self._hnsw is not None and labels:
            self._hnsw_add(labels)

    def remove(self, arxiv_ids: list[str]) -> None:
        for arxiv_id in arxiv_ids:
            label = self._label.pop(arxiv_id, None)
            if label is None:
                continue
            self.hashes.pop(arxiv_id, None)
            self.ids[label] = ""
            self._rows[label] = 0.0
            self._free.append(label)
            if self._hnsw is not None and label not in self._graph_deleted:
                self._hnsw.mark_deleted(label)
                self._graph_deleted.add(label)

    def vector(self, arxiv_id: str) -> Vectors | None:
        label = self._label.get(arxiv_id)
        return None if label is None else self._rows[label].copy()

    # -- HNSW ------------------------------------------------------------------

    def _new_hnsw(self) -> Any:
        import hnswlib

        graph = hnswlib.Index(space="ip", dim=DIMENSION)
        graph.init_index(
            max_elements=max(self._rows.shape[0], 1024),
            ef_construction=HNSW_EF_CONSTRUCTION,
            M=HNSW_M,
            allow_replace_deleted=False,
        )
        graph.set_num_threads(1)
        return graph

    def _hnsw_add(self, labels: list[int]) -> None:
        graph = self._hnsw
        if graph.get_max_elements() < self._rows.shape[0]:
            graph.resize_index(self._rows.shape[0])
        for label in labels:
            if label in self._graph_deleted:
                graph.unmark_deleted(label)
                self._graph_deleted.discard(label)
        graph.add_items(self._rows[labels], np.asarray(labels, dtype=np.int64))

    def build_ann(self) -> None:
        """(Re)build the HNSW graph over every live vector."""
        self._hnsw = self._new_hnsw()
        self._graph_deleted = set()
        labels = sorted(self._label.values())
        if labels:
            self._hnsw.add_items(self._rows[labels], np.asarray(labels, dtype=np.int64))

    @property
    def uses_ann(self) -> bool:
        return len(self) >= self.ann_threshold

    # -- search ----------------------------------------------------------------

    def search(
        self, query: Vectors, k: int, exclude: str | None = None, exact: bool = False
    ) -> list[tuple[str, float]]:
        """The `k` nearest ids to a unit `query` vector, cosine similarity, best first."""
        if not self._label or k <= 0:
            return []
        want = k + (1 if exclude else 0)
        if self.uses_ann and not exact:
            pairs = self._search_ann(query, want)
        else:
            pairs = self._search_exact(query, want)
        return [(i, s) for i, s in pairs if i != exclude][:k]

    def _search_exact(self, query: Vectors, k: int) -> list[tuple[str, float]]:
        # einsum, not BLAS matmul: a multi-threaded BLAS matvec thrashes on busy small hosts
        scores = np.einsum("ij,j->i", self._rows[: len(self.ids)], query.astype(np.float32))
        for label in self._free:
            scores[label] = -np.inf
        k = min(k, len(self))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        ids = self.ids
        return [(ids[t], s) for t, s in zip(top.tolist(), scores[top].tolist(), strict=True)]

    def _search_ann(self, query: Vectors, k: int) -> list[tuple[str, float]]:
        if self._hnsw is None:
            self.build_ann()
        k = min(k, len(self))
        self._hnsw.set_ef(max(self.ef_search, k))
        try:
            labels, distances = self._hnsw.knn_query(query.reshape(1, -1), k=k)
        except RuntimeError:  # fewer than k reachable (many deletions): answer exactly
            return self._search_exact(query, k)
        # Python lists first: per-element numpy scalars cost ~0.4 ms per 100 results.
        ids = self.ids
        similarity: list[float] = (1.0 - distances[0]).tolist()
        return [(ids[lab], sim) for lab, sim in zip(labels[0].tolist(), similarity, strict=True)]

    # -- files -----------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write a new generation of files, then point ``ids.json`` at it, then drop the old.

        Readers see either the old or the new generation whole, never a mix."""
        folder.mkdir(parents=True, exist_ok=True)
        generation = uuid.uuid4().hex[:12]
        count = len(self.ids)
        _atomic(folder / f"vectors-{generation}.npy", lambda p: np.save(p, self._rows[:count]))
        graph_count = 0
        if self.uses_ann:
            if self._hnsw is None:
                self.build_ann()
            _atomic(folder / f"hnsw-{generation}.bin", lambda p: self._hnsw.save_index(str(p)))
            graph_count = self._hnsw.get_current_count()
        meta = {
            "model": self.model_id,
            "generation": generation,
            "ids": self.ids,
            "hashes": self.hashes,
            "graph_count": graph_count,
            "graph_deleted": sorted(self._graph_deleted),
        }
        _atomic(folder / "ids.json", lambda p: p.write_text(json.dumps(meta)))
        for old in [*folder.glob("vectors-*.npy"), *folder.glob("hnsw-*.bin")]:
            if generation not in old.name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, model_id: str, ann_threshold: int = ANN_THRESHOLD) -> VectorIndex:
        """The saved index, or an empty one when the files are missing, foreign or torn."""
        index = cls(model_id, ann_threshold)
        try:
            meta = json.loads((folder / "ids.json").read_text())
            generation = str(meta["generation"])
            rows = np.load(folder / f"vectors-{generation}.npy")
        except (OSError, ValueError, KeyError):
            return index
        ids: list[str] = meta.get("ids", [])
        if meta.get("model") != model_id or rows.shape != (len(ids), DIMENSION):
            return index
        index.ids = ids
        index.hashes = dict(meta.get("hashes", {}))
        index._rows = rows.astype(np.float32)
        index._label = {i: n for n, i in enumerate(ids) if i}
        index._free = [n for n, i in enumerate(ids) if not i]
        graph_file = folder / f"hnsw-{generation}.bin"
        if index.uses_ann and graph_file.exists():
            index._load_hnsw(graph_file, meta)
        return index

    def _load_hnsw(self, path: Path, meta: dict[str, Any]) -> None:
        graph = self._new_hnsw()
        try:
            graph.load_index(str(path), max_elements=max(self._rows.shape[0], 1024))
        except RuntimeError:
            return
        if graph.get_current_count() != meta.get("graph_count"):
            return
        graph.set_num_threads(1)
        self._hnsw = graph
        self._graph_deleted = set(meta.get("graph_deleted", []))

    def size_on_disk(self, folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}")  # keeps the suffix (np.save would add one)
    write(tmp)
    os.replace(tmp, path)
