"""Finding papers by what a reference says: arXiv id, DOI, normalised title.

The normalised title and DOI of each paper live in `paper_keys` (indexed), made by the
caller's key functions and kept current by `refresh()`: a paper whose content hash
differs from the one its keys were made from (or that has none yet) is keyed again.
A paper deleted later keeps its keys; lookups skip deleted papers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paperwire.store.bibliography_tables import TITLE_KEY_CHARS, paper_keys
from paperwire.store.schema import checkpoints, papers

KeyFunction = Callable[[str], str | None]
_CHUNK = 500  # values per IN (...) list
_WRITE_BATCH = 5000
REFRESH_MARGIN = timedelta(minutes=2)  # longer than any ingest transaction
CHECKPOINT = "paper_keys:refreshed_at"  # when the last refresh began (ISO, UTC)


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    unique = sorted(set(values))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


class PaperKeys:
    """Lookups of live (not deleted) papers. Each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def refresh(self, title_key: KeyFunction, doi_key: KeyFunction) -> int:
        """Key the papers that are new or changed since they were keyed; returns how many.

        Only papers modified since the last refresh began (less REFRESH_MARGIN, for
        transactions still open then) are compared; the first refresh compares all."""
        started = datetime.now(UTC)
        stale = (
            sa.select(
                papers.c.arxiv_id,
                papers.c.title,
                papers.c.doi,
                papers.c.content_hash,
                paper_keys.c.arxiv_id.label("keyed"),
            )
            .select_from(papers.outerjoin(paper_keys, paper_keys.c.arxiv_id == papers.c.arxiv_id))
            .where(
                sa.or_(
                    paper_keys.c.arxiv_id.is_(None),
                    paper_keys.c.paper_hash != papers.c.content_hash,
                )
            )
        )
        with self.engine.connect() as conn:
            raw = conn.execute(
                sa.select(checkpoints.c.value).where(checkpoints.c.name == CHECKPOINT)
            ).scalar()
            last = datetime.fromisoformat(raw) if isinstance(raw, str) else None
            if conn.execute(sa.select(paper_keys.c.arxiv_id).limit(1)).first() is None:
                last = None  # no keys at all (a new or emptied table): key every paper
            if last is not None:
                stale = stale.where(papers.c.modified_at > last - REFRESH_MARGIN)
            rows = conn.execute(stale).all()
        rekeyed = [r.arxiv_id for r in rows if r.keyed is not None]
        keyed = [
            {
                "arxiv_id": r.arxiv_id,
                "paper_hash": r.content_hash,
                "title_key": (title_key(r.title) or "")[:TITLE_KEY_CHARS],
                "doi_key": doi_key(r.doi) if r.doi else None,
            }
            for r in rows
        ]
        if keyed or last is None or started - last > REFRESH_MARGIN:
            try:
                self._write(keyed, rekeyed, started)
            except sa.exc.IntegrityError:  # another process keyed some of them meanwhile
                self._write(keyed, [str(k["arxiv_id"]) for k in keyed], started)
        return len(keyed)

    def _write(self, keyed: list[dict[str, Any]], replaced: list[str], started: datetime) -> None:
        with self.engine.begin() as conn:
            for chunk in _chunks(replaced):
                conn.execute(paper_keys.delete().where(paper_keys.c.arxiv_id.in_(chunk)))
            for start in range(0, len(keyed), _WRITE_BATCH):
                conn.execute(paper_keys.insert(), keyed[start : start + _WRITE_BATCH])
            value = {"value": started.isoformat(), "updated_at": started}
            done = conn.execute(
                checkpoints.update().where(checkpoints.c.name == CHECKPOINT).values(**value)
            )
            if done.rowcount == 0:
                conn.execute(checkpoints.insert().values(name=CHECKPOINT, **value))

    def live_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are stored and not deleted."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                query = sa.select(papers.c.arxiv_id).where(
                    papers.c.arxiv_id.in_(chunk), papers.c.deleted.is_(False)
                )
                found.update(conn.execute(query).scalars())
        return found

    def ids_by_doi(self, dois: Sequence[str]) -> dict[str, list[str]]:
        """Normalised DOI -> ids of the live papers with that DOI (sorted)."""
        return self._by(paper_keys.c.doi_key, dois)

    def ids_by_title_key(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """Title key -> ids of the live papers whose title has that key (sorted)."""
        stored = {k: k[:TITLE_KEY_CHARS] for k in keys if k}  # long keys are kept cut
        found = self._by(paper_keys.c.title_key, list(stored.values()))
        return {k: found[cut] for k, cut in stored.items() if cut in found}

    def _by(self, column: sa.Column[str], values: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        join = paper_keys.join(papers, papers.c.arxiv_id == paper_keys.c.arxiv_id)
        with self.engine.connect() as conn:
            for chunk in _chunks(values):
                query = (
                    sa.select(column, paper_keys.c.arxiv_id)
                    .select_from(join)
                    .where(column.in_(chunk), papers.c.deleted.is_(False))
                    .order_by(paper_keys.c.arxiv_id)
                )
                for value, arxiv_id in conn.execute(query):
                    found.setdefault(value, []).append(arxiv_id)
        return found
