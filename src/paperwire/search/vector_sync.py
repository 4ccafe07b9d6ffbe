"""Bringing a reader's in-memory vector index up to the store.

A full sync reads every live (id, text hash) pair: ~8 s of CPU at 1,000,000 papers
(measured), so readers doing it after each change of the store (a new batch embedded
every few seconds while `paperwire embed` runs) were busy syncing. An incremental sync
reads only the vectors embedded and the papers deleted since the last fingerprint, less
SYNC_MARGIN (a transaction may commit a little after the time it wrote), then checks the
result by count; anything it cannot account for (a paper undeleted, vectors replaced by
another model's, a count that does not add up) falls back to the full sync, and so does
the first sync after FULL_SYNC_SECONDS.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from paperwire.search.vectors import VectorIndex
from paperwire.store.embeddings import EmbeddingStore, StoredVector, VectorsVersion

# A save stamps its rows just before it commits them (a batch of 64, or a bulk load's
# 10,000): 10 s covers that, and the count check catches new rows missed all the same.
SYNC_MARGIN = timedelta(seconds=10)
FULL_SYNC_SECONDS = 600.0
CHUNK = 5000


def encode_version(version: VectorsVersion) -> list[object]:
    """`version` as JSON (VectorIndex.synced_to)."""
    return [
        version.vectors,
        version.newest.isoformat() if version.newest else None,
        version.deleted,
        version.last_deleted.isoformat() if version.last_deleted else None,
    ]


def decode_version(value: object) -> VectorsVersion | None:
    """encode_version's JSON back; None for anything else (files from before it)."""
    if not isinstance(value, list) or len(value) != 4:
        return None
    count, newest, deleted, last_deleted = value
    when = [
        datetime.fromisoformat(v) if isinstance(v, str) else None for v in (newest, last_deleted)
    ]
    return VectorsVersion(int(count), when[0], int(deleted), when[1])


def _items(rows: list[StoredVector]) -> dict[str, tuple[str, np.ndarray]]:
    return {r.arxiv_id: (r.text_hash, np.frombuffer(r.vector, dtype=np.float32)) for r in rows}


def full_sync(
    store: EmbeddingStore, model: str, index: VectorIndex, version: VectorsVersion
) -> bool:
    """Apply the store's adds, updates and deletes to `index` (`version`: the store's
    fingerprint read before this began); True if anything changed."""
    stored = store.live_hashes(model)
    gone = [i for i in index.hashes if i not in stored]
    changed = [i for i, h in stored.items() if index.hashes.get(i) != h]
    index.remove(gone)
    for start in range(0, len(changed), CHUNK):
        index.upsert(_items(list(store.vectors(model, changed[start : start + CHUNK]))))
    index.synced_to = encode_version(version)
    return bool(gone or changed)


def sync_since(
    store: EmbeddingStore,
    model: str,
    index: VectorIndex,
    old: VectorsVersion,
    new: VectorsVersion,
) -> bool | None:
    """Apply what changed between fingerprints `old` (which `index` is synced to) and
    `new`; True if anything changed, None when only a full sync can tell. Sets the
    index's `synced_to` to `new` when it is then in step."""
    if old.newest is None or new.deleted < old.deleted or new.vectors < old.vectors:
        return None  # nothing seen yet, a paper undeleted, or vectors replaced or gone
    changed = False
    if new.newest != old.newest:
        rows = store.vectors_since(model, old.newest - SYNC_MARGIN)
        fresh = [r for r in rows if index.hashes.get(r.arxiv_id) != r.text_hash]
        index.upsert(_items(fresh))
        changed = bool(fresh)
    if (new.deleted, new.last_deleted) != (old.deleted, old.last_deleted):
        since = old.last_deleted
        candidates = store.deleted_since(since - SYNC_MARGIN if since else None)
        gone = [i for i in candidates if i in index.hashes]
        index.remove(gone)
        changed = changed or bool(gone)
    live, _papers = store.coverage(model)
    if len(index) != live:
        return None
    index.synced_to = encode_version(new)
    return changed
