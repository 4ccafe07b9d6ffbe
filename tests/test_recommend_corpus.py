"""The recommender's tf-idf fit (recommend/corpus.fit_text) against scikit-learn's own, on
real arXiv records."""

from __future__ import annotations

import itertools
import json
import lzma

import numpy as np
import pytest

from paperwire.names import author_key
from paperwire.recommend import corpus
from paperwire.recommend.corpus import CorpusDoc, doc_text, fit_text, new_vectorizer
from paperwire.recommend.model import followed_rows
from paperwire.sources.snapshot import parse_daily_listing
from tests.conftest import DAILY_FILE


@pytest.fixture(scope="module")
def docs() -> list[CorpusDoc]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        lines = list(itertools.islice(handle, 0, None, 40))  # ~1,900 papers
    return [CorpusDoc.from_paper(parse_daily_listing(json.loads(line))) for line in lines]


@pytest.mark.parametrize(
    ("max_features", "buckets"),
    [(80_000, 1 << 24), (3_000, 1 << 24), (3_000, 1 << 8)],
    ids=["all-kept", "top-3000", "top-3000-colliding-buckets"],
)
def test_fit_text_fits_what_scikit_learn_fits(
    docs: list[CorpusDoc], monkeypatch: pytest.MonkeyPatch, max_features: int, buckets: int
) -> None:
    """Same vocabulary (column for column), idf and matrix as TfidfVectorizer.fit_transform,
    when max_features drops columns (ties broken as scikit-learn breaks them) and when
    every hashed bucket holds many features; new texts transform the same too."""
    monkeypatch.setattr(corpus, "MAX_FEATURES", max_features)
    monkeypatch.setattr(corpus, "HASH_BUCKETS", buckets)
    texts = [doc_text(d) for d in docs]
    reference = new_vectorizer()
    expected = reference.fit_transform(texts).tocsr()
    vectorizer, text = fit_text(docs)
    assert len(reference.vocabulary_) == min(max_features, len(reference.vocabulary_))
    assert vectorizer.vocabulary_ == reference.vocabulary_
    assert np.array_equal(vectorizer.idf_, reference.idf_)
    assert text.shape == expected.shape
    assert (text != expected).nnz == 0
    later = ["Graph neural networks for molecules & proteins", texts[0]]
    assert (vectorizer.transform(later) != reference.transform(later)).nnz == 0
    assert list(vectorizer.get_feature_names_out()) == list(reference.get_feature_names_out())


@pytest.mark.parametrize("papers", [2, 12])
def test_fit_text_fails_as_scikit_learn_does_when_no_term_is_common_enough(papers: int) -> None:
    """Too few papers, or no word in MIN_DF of them: scikit-learn's own ValueError."""
    few = [
        CorpusDoc(f"2401.{n:05d}", f"word{n} other{n}", "", (), ("cs.AI",), None)
        for n in range(papers)
    ]
    with pytest.raises(ValueError) as expected:
        new_vectorizer().fit([doc_text(d) for d in few])
    with pytest.raises(ValueError) as found:
        fit_text(few)
    assert str(found.value) == str(expected.value)


def test_followed_authors_find_their_papers_whatever_spelling_arxiv_used(
    docs: list[CorpusDoc],
) -> None:
    """The "by followed author" signal keys names as following does (names.author_key):
    a reader who follows "Petter Törnberg" gets the papers arXiv lists as T\\"ornberg."""
    day = docs[0].day
    written = ['Petter T\\"ornberg', 'B. Sch{\\"o}lkopf', "\u202aAnn\u200b Lee\u202c"]
    mine = [
        CorpusDoc(f"2699.{n:05d}", f"Paper {n}", "An abstract.", (name,), ("cs.CL",), day)
        for n, name in enumerate(written, 1)
    ]
    features = corpus.build_corpus([*docs, *mine], {})
    rows = np.arange(len(features), dtype=np.int64)
    for n, typed in enumerate(["Petter Törnberg", "b. scholkopf", "Ann Lee"]):
        hit = followed_rows(features, frozenset([author_key(typed)]), rows)
        assert [features.ids[r] for r in np.flatnonzero(hit)] == [mine[n].arxiv_id], typed
