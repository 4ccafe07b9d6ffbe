"""Recommendations on real arXiv records in a real store (SQLite and PostgreSQL), with the
real embedding model's vectors in the store's embeddings table."""

from __future__ import annotations

import itertools
import json
import lzma
import re
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from paperwire.config import Settings
from paperwire.models import LibraryItem, Paper, ReaderSignals, Recommendation
from paperwire.names import author_key
from paperwire.recommend.source import REFIT_FRACTION
from paperwire.search.embed import MODEL_ID, Embedder, Vectors, document_text
from paperwire.search.semantic import SemanticIndex, text_hash
from paperwire.service import Service
from paperwire.sources.snapshot import parse_daily_listing
from paperwire.store.embeddings import EmbeddingStore, StoredVector
from tests.conftest import DAILY_FILE

pytestmark = pytest.mark.skipif(not SemanticIndex.installed(), reason="paperwire[semantic]")

STRIDE = 180  # every 180th record: ~415 papers over all listing days and classes
SINCE, UNTIL = date(2026, 1, 1), date(2026, 7, 1)  # candidates; the library is older
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def sample_lines() -> list[str]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        return list(itertools.islice(handle, 0, None, STRIDE))


@pytest.fixture(scope="module")
def subset(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> tuple[Path, dict[str, Vectors]]:
    """The sample as a JSONL file and its vectors by the real model (embedded once)."""
    lines = sample_lines()
    path = tmp_path_factory.mktemp("recommend") / "sample.jsonl"
    path.write_text("".join(lines))
    papers = [parse_daily_listing(json.loads(line)) for line in lines]
    texts = [document_text(p.title, p.abstract) for p in papers]
    vectors = Embedder(cache_dir=model_dir).embed(texts)
    return path, {p.arxiv_id: v for p, v in zip(papers, vectors, strict=True)}


def store_vectors(service: Service, vectors: dict[str, Vectors]) -> None:
    """Write the precomputed vectors as `paperwire embed` would (same text hashes)."""
    table = EmbeddingStore(service.store)
    pending = table.pending(MODEL_ID, 100_000)
    rows = [
        StoredVector(p.arxiv_id, p.paper_hash, text_hash(document_text(p.title, p.abstract)),
                     vectors[p.arxiv_id].tobytes())
        for p in pending if p.arxiv_id in vectors
    ]  # fmt: skip
    table.save(MODEL_ID, rows)
    assert not table.pending(MODEL_ID, 10)  # the store agrees the vectors are current


@pytest.fixture
def service(settings: Settings, subset: tuple[Path, dict[str, Vectors]]) -> Service:
    path, vectors = subset
    svc = Service(settings)
    svc.import_snapshot(path)
    store_vectors(svc, vectors)
    return svc


def capped_service(settings: Settings, subset: tuple[Path, dict[str, Vectors]]) -> Service:
    """The sample with its vectors, the recommender's corpus capped at 100 papers."""
    path, vectors = subset
    svc = Service(settings.model_copy(update={"recommend_corpus_papers": 100}))
    svc.import_snapshot(path)
    store_vectors(svc, vectors)
    return svc


def papers_of(service: Service) -> list[Paper]:
    return [p for batch in service.store.iter_papers() for p in batch]


def older(service: Service, category: str, count: int) -> list[Paper]:
    chosen = [
        p for p in papers_of(service)
        if p.primary_category == category and p.listing_date and p.listing_date < SINCE
    ]  # fmt: skip
    return chosen[:count]


def signals_for(papers: list[Paper], source: str = "Saved", **extra: object) -> ReaderSignals:
    items = tuple(LibraryItem(p.arxiv_id, source, WHEN) for p in papers)
    return ReaderSignals(user_id=1, positives=items, **extra)  # type: ignore[arg-type]


def share(service: Service, recs: list[Recommendation], category: str) -> float:
    papers = service.store.get_papers([r.arxiv_id for r in recs])
    return sum(category in papers[r.arxiv_id].categories for r in recs) / len(recs)


def test_a_library_on_a_topic_pulls_the_topic_up(service: Service) -> None:
    language = service.recommend(
        signals_for(older(service, "cs.CL", 6)), since=SINCE, until=UNTIL, limit=10
    )
    vision = service.recommend(
        signals_for(older(service, "cs.CV", 6)), since=SINCE, until=UNTIL, limit=10
    )
    assert len(language) == len(vision) == 10
    listed = service.store.papers_listed(SINCE, UNTIL)
    base = sum("cs.CL" in p.categories for p in listed) / len(listed)
    assert base < 0.4
    assert share(service, language, "cs.CL") >= 0.7
    assert share(service, language, "cs.CL") >= share(service, vision, "cs.CL") + 0.4
    scores = [r.score for r in language]
    assert scores == sorted(scores, reverse=True)
    days = service.store.get_papers([r.arxiv_id for r in language + vision])
    assert all(SINCE <= (days[i].listing_date or SINCE) <= UNTIL for i in days)


def test_explanations_name_the_real_nearest_library_paper(service: Service) -> None:
    library = older(service, "cs.CL", 4) + older(service, "cs.CV", 4)
    recs = service.recommend(signals_for(library), since=SINCE, until=UNTIL, limit=8)
    ids = [p.arxiv_id for p in library] + [r.arxiv_id for r in recs]
    stored = {v.arxiv_id: np.frombuffer(v.vector, dtype=np.float32)
              for v in EmbeddingStore(service.store).vectors(MODEL_ID, ids)}  # fmt: skip
    for rec in recs:
        nearest = max(library, key=lambda p: float(stored[p.arxiv_id] @ stored[rec.arxiv_id]))
        title = " ".join(nearest.title.split())[:60]
        assert rec.reasons[0].startswith("close to '") and title in rec.reasons[0]
        assert rec.reasons[0].endswith("in your Saved")


def test_a_shared_phrase_is_counted_in_real_library_papers(service: Service) -> None:
    library = older(service, "cs.CL", 12)
    recs = service.recommend(signals_for(library), since=SINCE, until=UNTIL, limit=20)
    phrases = [
        m
        for r in recs
        for m in map(re.compile(r"you saved (\d+) papers on '(.+)'").match, r.reasons)
        if m
    ]
    assert phrases, [r.reasons for r in recs]
    for match in phrases:
        count, words = int(match.group(1)), match.group(2).split()
        texts = [
            re.sub(r"[^a-z0-9-]+", " ", f"{p.title} {p.abstract}".lower()).split() for p in library
        ]
        assert sum(all(w in t for w in words) for t in texts) >= count >= 2


def test_dismissed_saved_and_excluded_papers_never_return(service: Service) -> None:
    library = older(service, "cs.CL", 6)
    first = service.recommend(signals_for(library), since=SINCE, until=UNTIL, limit=50)
    dismissed, mailed = first[0].arxiv_id, {r.arxiv_id for r in first[1:4]}
    # a library paper inside the window must not come back either
    saved = service.store.get_paper(first[4].arxiv_id)
    assert saved is not None
    signals = signals_for([*library, saved], negatives=(dismissed,), exclude=frozenset(mailed))
    again = service.recommend(signals, since=SINCE, until=UNTIL, limit=200)
    returned = {r.arxiv_id for r in again}
    assert returned and dismissed not in returned and not returned & mailed
    assert saved.arxiv_id not in returned
    assert not returned & {p.arxiv_id for p in library}


def test_the_model_is_retrained_only_when_the_signals_change(service: Service) -> None:
    library = older(service, "cs.CL", 40) + older(service, "cs.CV", 60)
    signals = signals_for(library)
    recommender = service.for_you.recommender
    started = time.perf_counter()
    first = service.recommend(signals, since=SINCE, until=UNTIL)
    assert recommender.trained == 1
    assert service.recommend(signals, since=SINCE, until=UNTIL) == first
    assert recommender.trained == 1  # same fingerprint: cached model
    changed = signals_for(library, negatives=(first[0].arxiv_id,))
    started = time.perf_counter()
    model = recommender.model_for(service.for_you.source.corpus(), changed)
    assert time.perf_counter() - started < 1.0  # "well under a second"
    assert recommender.trained == 2 and len(model.negatives) == 1
    assert first[0].arxiv_id not in {
        r.arxiv_id for r in service.recommend(changed, since=SINCE, until=UNTIL)
    }
    assert recommender.trained == 2


def test_one_saved_paper_behaves_like_similar_papers(service: Service) -> None:
    seed = older(service, "cs.CL", 1)[0]
    recs = service.recommend(signals_for([seed]), since=SINCE, until=UNTIL, limit=5)
    assert len(recs) == 5
    assert all(seed.title[:40] in r.reasons[0] for r in recs)
    similar = [h.paper.arxiv_id for h in service.similar(seed.arxiv_id, k=60)
               if h.paper.listing_date and SINCE <= h.paper.listing_date <= UNTIL][:10]  # fmt: skip
    assert len(set(similar) & {r.arxiv_id for r in recs}) >= 3


def test_no_library_falls_back_to_trending_in_the_readers_classes(service: Service) -> None:
    signals = ReaderSignals(user_id=2, categories=("cs.CL",))
    recs = service.recommend(signals, since=SINCE, until=UNTIL, limit=15)
    trending, _ = service.trending(SINCE, UNTIL, limit=1000)
    expected = [p.arxiv_id for p, _ in trending if "cs.CL" in p.categories][:15]
    assert [r.arxiv_id for r in recs] == expected
    assert all("trending in cs.CL" in r.reasons[0] for r in recs)
    anywhere = service.recommend(ReaderSignals(user_id=3), since=SINCE, until=UNTIL, limit=5)
    assert [r.arxiv_id for r in anywhere] == [p.arxiv_id for p, _ in trending[:5]]


def test_followed_authors_come_first_and_say_so(service: Service) -> None:
    target = next(p for p in service.store.papers_listed(SINCE, UNTIL) if "cs.AI" in p.categories)
    author = target.authors[-1].name
    cold = service.recommend(ReaderSignals(user_id=4, followed_authors=(author.upper(),)),
                             since=SINCE, until=UNTIL, limit=5)  # fmt: skip
    assert cold[0].arxiv_id == target.arxiv_id or author_key(author) in map(
        author_key, cold[0].reasons[0].split(" author ")[1:]
    )
    assert f"by followed author {author} (name match)" in {x for r in cold for x in r.reasons}
    library = older(service, "cs.CV", 12)
    plain = service.recommend(signals_for(library), since=SINCE, until=UNTIL, limit=500)
    last = service.store.get_papers([plain[-1].arxiv_id])[plain[-1].arxiv_id]
    name = last.authors[0].name  # the first author of the paper the library likes least
    recs = service.recommend(
        signals_for(library, followed_authors=(name,)), since=SINCE, until=UNTIL, limit=500
    )
    papers = service.store.get_papers([r.arxiv_id for r in recs])
    theirs = [
        n
        for n, r in enumerate(recs)
        if author_key(name) in {author_key(a.name) for a in papers[r.arxiv_id].authors}
    ]
    assert theirs == list(range(len(theirs))), theirs  # all of them first …
    assert last.arxiv_id in {recs[n].arxiv_id for n in theirs}
    assert all(f"by followed author {name} (name match)" in recs[n].reasons for n in theirs)
    rest = [r.arxiv_id for r in recs[len(theirs) :]]  # … then the others in the same order
    assert rest == [r.arxiv_id for r in plain if r.arxiv_id in set(rest)]


def test_new_papers_reach_the_features_without_a_full_rebuild(
    service: Service, settings: Settings, subset: tuple[Path, dict[str, Vectors]]
) -> None:
    library = older(service, "cs.CL", 5)
    service.recommend(signals_for(library), since=SINCE, until=UNTIL)
    source = service.for_you.source
    assert source.builds == 1
    record = json.loads(sample_lines()[-1])
    record.update(id="2606.99999", title="Dialogue state tracking for spoken language agents",
                  listing_date="2026-06-30")  # fmt: skip
    extra = settings.data_dir / "extra.jsonl"
    extra.write_text(json.dumps(record) + "\n")
    service.import_snapshot(extra)
    source.invalidate()
    corpus = source.corpus()
    assert "2606.99999" in corpus.row and source.builds == 1  # updated in place
    assert not corpus.has_vector[corpus.row["2606.99999"]]  # not embedded yet
    found = service.recommend(signals_for(library), since=date(2026, 6, 30), until=UNTIL, limit=500)
    assert "2606.99999" in {r.arxiv_id for r in found}


def test_a_capped_corpus_drops_changes_outside_its_window_without_a_refit(
    settings: Settings, subset: tuple[Path, dict[str, Vectors]]
) -> None:
    """A capped corpus knows only its own papers' hashes: changes to older papers, more
    of them than a refit takes, are read, found outside the window and dropped; a
    member's change is applied in place."""
    svc = capped_service(settings, subset)
    source = svc.for_you.source
    corpus = source.corpus()
    outside = [p for p in papers_of(svc) if not p.deleted and p.arxiv_id not in corpus.row]
    assert len(outside) > REFIT_FRACTION * len(corpus)
    member = svc.store.get_paper(corpus.ids[0])
    assert member is not None
    changed = [replace(p, title=f"{p.title} (revised)") for p in outside]
    svc.store.upsert_papers([*changed, replace(member, title="A retitled member")])
    source.invalidate()
    after = source.corpus()
    assert source.builds == 1 and set(after.row) == set(corpus.row)
    assert after.titles[after.row[member.arxiv_id]] == "A retitled member"
    assert svc.recommend(signals_for(older(svc, "cs.CL", 3)), since=SINCE, until=UNTIL)


def test_a_server_warms_the_recommender_up_unless_told_not_to(
    service: Service, settings: Settings
) -> None:
    thread = service.start_recommender_warm_up()
    assert thread is not None
    thread.join(timeout=120)
    assert service.for_you.source.builds == 1  # built before any request asked
    service.recommend(signals_for(older(service, "cs.CL", 3)), since=SINCE, until=UNTIL)
    assert service.for_you.source.builds == 1  # the request reused it
    quiet = Service(settings.model_copy(update={"recommend_warm_up": False}), service.store)
    assert quiet.start_recommender_warm_up() is None
    empty = Service(Settings(data_dir=settings.data_dir / "empty"))
    assert empty.start_recommender_warm_up() is None
    empty.close()


def test_a_capped_corpus_takes_in_the_library_and_older_windows(
    settings: Settings, subset: tuple[Path, dict[str, Vectors]]
) -> None:
    """With `recommend_corpus_papers` under the store's size the corpus holds the newest
    whole listing days only; a reader's older library and an older window join it when a
    recommendation needs them, and the results are the same kind as uncapped."""
    svc = capped_service(settings, subset)
    source = svc.for_you.source
    corpus = source.corpus()
    live = [p for p in papers_of(svc) if not p.deleted]
    assert source.start is not None and source.start > SINCE
    newest = [p for p in live if (p.listing_date or p.hf_date or date.min) >= source.start]
    assert 100 <= len(corpus) == len(newest) < len(live)
    library = older(svc, "cs.CL", 6)
    assert not {p.arxiv_id for p in library} & set(corpus.row)  # older than the cap
    recs = svc.recommend(signals_for(library), since=SINCE, until=UNTIL, limit=10)
    grown = source.corpus()
    assert {p.arxiv_id for p in library} <= set(grown.row)
    assert source.start == SINCE  # the window asked for is now covered
    window = {p.arxiv_id for p in svc.store.papers_listed(SINCE, UNTIL)}
    assert set(grown.row) >= window
    assert len(recs) == 10 and {r.arxiv_id for r in recs} <= window
    assert share(svc, recs, "cs.CL") >= 0.5
    assert source.builds == 1  # grown in place, never rebuilt
