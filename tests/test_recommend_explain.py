"""Reasons of recommend/explain.py on real arXiv records: the shared phrase is a topic the
library shares, never a piece of the links or release notes that abstracts carry."""

from __future__ import annotations

import itertools
import json
import lzma
from datetime import UTC, datetime

import numpy as np
import pytest

from paperwire.models import LibraryItem, ReaderSignals
from paperwire.recommend.corpus import CorpusDoc, CorpusFeatures, build_corpus
from paperwire.recommend.explain import is_boilerplate, shared_phrase
from paperwire.recommend.model import train
from paperwire.sources.snapshot import parse_daily_listing
from tests.conftest import DAILY_FILE

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def corpus() -> CorpusFeatures:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        lines = list(itertools.islice(handle, 0, None, 40))  # ~1,900 papers
    docs = [CorpusDoc.from_paper(parse_daily_listing(json.loads(line))) for line in lines]
    return build_corpus(docs, {})


@pytest.mark.parametrize(
    ("term", "boilerplate"),
    [
        ("https github", True),
        ("github io", True),
        ("github com", True),
        ("available https", True),
        ("www", True),
        ("code available", True),
        ("project page", True),
        ("publicly available", True),
        ("source code", True),
        ("code generation", False),
        ("source domain", False),
        ("gaussian splatting", False),
        ("open-source llms", False),
        ("link prediction", False),
    ],
)
def test_links_and_release_notes_are_boilerplate_topics_are_not(
    term: str, boilerplate: bool
) -> None:
    assert is_boilerplate(term) is boilerplate


def test_a_library_whose_papers_link_their_code_gets_topics_as_reasons(
    corpus: CorpusFeatures,
) -> None:
    """A library of papers that all link GitHub: candidates that link GitHub too share
    'https github' with most of it, yet the phrase shown is a topic they share."""
    linking = [n for n, r in enumerate(corpus.ids) if "https github" in terms_of(corpus, n)]
    library = linking[:14]
    signals = ReaderSignals(
        user_id=1, positives=tuple(LibraryItem(corpus.ids[r], "Saved", WHEN) for r in library)
    )
    model = train(corpus, signals)
    github = int(np.flatnonzero(corpus.terms == "https github")[0])
    assert model.term_counts[github] == len(library)  # the phrase is shared by all 14
    found = {r: shared_phrase(corpus, model, r) for r in linking[len(library) :] + list(range(300))}
    phrases = {r: p for r, p in found.items() if p is not None}
    assert len(phrases) > 100, found
    assert not [p for p in phrases.values() if is_boilerplate(p[0])]
    for r, (term, count) in phrases.items():  # a real term of the paper, shared as counted
        assert term in terms_of(corpus, r)
        assert sum(term in terms_of(corpus, x) for x in library) == count >= 2


def terms_of(corpus: CorpusFeatures, row: int) -> set[str]:
    return {str(t) for t in corpus.terms[corpus.text[row].indices]}
