"""The changes a vector index holds on top of its memory-mapped base: float32 vectors of the
labels added or replaced since the base was written, searched exactly (one small
matrix-vector product), so readers never copy or rebuild the base to apply a change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from paperwire.search.embed import DIMENSION, Vectors


class Patch:
    """label -> vector for the labels changed since the base."""

    def __init__(self) -> None:
        self._pos: dict[int, int] = {}  # label -> row in _rows
        self._rows: Vectors = np.zeros((0, DIMENSION), dtype=np.float32)
        self._label_at: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # -1: dropped
        self._used = 0

    def __len__(self) -> int:
        return len(self._pos)

    def put(self, label: int, vector: Vectors) -> None:
        pos = self._pos.get(label)
        if pos is None:
            pos = self._used
            if pos == len(self._rows):
                self._grow()
            self._used += 1
            self._pos[label] = pos
            self._label_at[pos] = label
        self._rows[pos] = np.asarray(vector).astype(np.float16)  # stored precision, as saved

    def _grow(self) -> None:
        size = int(len(self._rows) * 1.5) + 256
        rows = np.zeros((size, DIMENSION), dtype=np.float32)
        rows[: self._used] = self._rows[: self._used]
        labels = np.full(size, -1, dtype=np.int64)
        labels[: self._used] = self._label_at[: self._used]
        self._rows, self._label_at = rows, labels

    def drop(self, label: int) -> None:
        pos = self._pos.pop(label, None)
        if pos is not None:
            self._label_at[pos] = -1

    def get(self, label: int) -> Vectors | None:
        pos = self._pos.get(label)
        return None if pos is None else self._rows[pos].copy()

    def overlay(self, labels: npt.NDArray[np.int64], matrix: Vectors) -> None:
        """Write the patch's vector of each of `labels` it holds over that row of `matrix`."""
        if not self._pos:
            return
        for n, label in enumerate(labels.tolist()):
            pos = self._pos.get(label)
            if pos is not None:
                matrix[n] = self._rows[pos]

    def items_between(self, start: int, stop: int) -> Iterator[tuple[int, Vectors]]:
        for label, pos in self._pos.items():
            if start <= label < stop:
                yield label, self._rows[pos]

    def live_labels(self) -> list[int]:
        return sorted(self._pos)

    def rows(self, labels: list[int]) -> npt.NDArray[np.float16]:
        """The vectors of `labels` as float16 (as saved)."""
        picked = self._rows[[self._pos[label] for label in labels]]
        return picked.reshape(-1, DIMENSION).astype(np.float16)

    def search(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        """The `k` best (label, cosine) among the patch's vectors."""
        if not self._pos or k <= 0:
            return []
        scores = np.einsum("ij,j->i", self._rows[: self._used], query)
        labels = self._label_at[: self._used]
        scores[labels < 0] = -np.inf
        top = best_rows(scores, k)
        return list(zip(labels[top].tolist(), scores[top].tolist(), strict=True))


def best_rows(scores: npt.NDArray[Any], k: int) -> npt.NDArray[np.intp]:
    """Positions of the `k` highest `scores`, best first, leaving out -inf (masked) ones."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return top[scores[top] > -np.inf]
