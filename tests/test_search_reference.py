"""Our BM25 against a reference implementation (bm25s, Lucene variant) on SciFact.

Same documents, same tokens (our analyzer), one field: the scores must agree up to
tantivy's lossy one-byte field-length encoding, and the top 10 must be (nearly) the same.
tantivy keeps the classic (k1 + 1) factor in the term-frequency numerator that Lucene 8
(and bm25s "lucene") dropped: a constant 2.2x that changes no ranking.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from conftest import SCIFACT
from paperwire.models import Paper
from paperwire.search.lexical import STOPWORDS, LexicalIndex

DOCS = 1500
QUERIES = 30
K1 = 1.2


def test_bm25_scores_match_bm25s(tmp_path: Path) -> None:
    bm25s = pytest.importorskip("bm25s")
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in itertools.islice(handle, DOCS)]
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in itertools.islice(handle, QUERIES)]
    index = LexicalIndex(tmp_path / "lexical")
    # Title left empty: everything is in one field, as bm25s sees it.
    index.upsert(
        [Paper(arxiv_id=d["_id"], title="", abstract=f"{d['title']} {d['text']}") for d in docs]
    )
    analyze = index.text.analyze
    reference = bm25s.BM25(k1=K1, b=0.75, method="lucene")
    reference.index([list(analyze(f"{d['title']} {d['text']}")) for d in docs], show_progress=False)
    ids = [d["_id"] for d in docs]

    overlaps = []
    for text in queries:
        terms = [t for t in dict.fromkeys(analyze(text)) if t not in STOPWORDS]
        query = index.free_text_query([text])
        assert query is not None
        ours = index.search(query, limit=10).ids
        theirs = reference.get_scores(terms)
        top = sorted(range(len(ids)), key=lambda i: -theirs[i])[:10]
        expected = {ids[i]: float(theirs[i]) for i in top if theirs[i] > 0}
        for doc_id, score in ours:
            position = ids.index(doc_id)
            assert score == pytest.approx((K1 + 1) * float(theirs[position]), rel=0.06)
        overlaps.append(len(set(expected) & {i for i, _ in ours}) / max(len(expected), 1))
    assert sum(overlaps) / len(overlaps) >= 0.9
