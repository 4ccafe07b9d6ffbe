"""The "For you" core the Service owns: corpus features of its store plus the Recommender."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from paperwire.models import ReaderSignals, Recommendation
from paperwire.recommend.model import DEFAULT_CONFIG, ModelConfig
from paperwire.recommend.ranker import Recommender
from paperwire.recommend.source import CORPUS_PAPERS, CorpusSource
from paperwire.search.semantic import SemanticIndex
from paperwire.store import Store

Trending = Callable[[], Sequence[tuple[str, float]]]


class ForYou:
    def __init__(
        self,
        store: Store,
        semantic: SemanticIndex | None,
        config: ModelConfig = DEFAULT_CONFIG,
        papers: int | None = CORPUS_PAPERS,
    ) -> None:
        self.source = CorpusSource(store, semantic, papers)
        self.recommender = Recommender(config)

    def warm_up(self) -> None:
        """Build the corpus features now (a server calls this on a background thread)."""
        self.source.corpus()

    def recommend(
        self,
        signals: ReaderSignals,
        *,
        since: date,
        until: date,
        limit: int = 20,
        trending: Trending = tuple,
    ) -> list[Recommendation]:
        """Papers listed in [since, until] ranked for the reader (see recommend/model.py).
        `trending` (called only for a reader with no library) ranks the same window."""
        library = [p.arxiv_id for p in signals.positives] + list(signals.negatives)
        corpus = self.source.include(library, since)
        candidates = corpus.listed(since, until)
        has_library = any(p.arxiv_id in corpus.row for p in signals.positives)
        ranked = () if has_library else trending()
        return self.recommender.recommend(corpus, signals, candidates, limit, ranked)
