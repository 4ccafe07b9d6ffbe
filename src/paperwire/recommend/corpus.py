"""Corpus-level features every reader's model is built from, computed once per corpus.

Rows are papers. Three blocks, each row L2-normalised so a dot product is a cosine:

* ``text``: tf-idf of title + abstract (words and two-word phrases, sublinear tf), sparse;
* ``vectors``: the MiniLM embeddings of search/semantic (zero rows where a paper has none);
* ``cats``: the paper's arXiv classes, one-hot.

Author names are kept apart (for the "by followed author" signal), never mixed into the
text features. Building is pure: the caller (recommend/source.py) reads the store.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize

from paperwire.models import Paper
from paperwire.names import author_key

DIMENSION = 384
MIN_DF = 3  # a phrase must occur in this many papers to be a feature
MAX_DF = 0.4
MAX_FEATURES = 80_000
# fit_text's first pass counts each feature's papers in this many hashed buckets (int32)
HASH_BUCKETS = 1 << 24
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    """What the recommender needs of one paper."""

    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    day: date | None  # listing date (else Hugging Face date)

    @classmethod
    def from_paper(cls, paper: Paper) -> CorpusDoc:
        return cls(
            arxiv_id=paper.arxiv_id,
            title=paper.title,
            abstract=paper.abstract,
            authors=tuple(a.name for a in paper.authors),
            categories=tuple(paper.categories),
            day=paper.listing_date or paper.hf_date,
        )


@dataclass(slots=True)
class CorpusFeatures:
    ids: list[str]
    titles: list[str]
    authors: list[tuple[str, ...]]
    categories: list[tuple[str, ...]]
    days: IntArray  # date.toordinal(), 0 when unknown
    text: sp.csr_matrix
    terms: npt.NDArray[np.str_]  # column -> word or phrase
    vectors: FloatArray
    has_vector: npt.NDArray[np.bool_]
    cats: sp.csr_matrix
    vectorizer: TfidfVectorizer
    version: str = ""
    row: dict[str, int] = field(default_factory=dict)
    _author_rows: dict[str, list[int]] | None = None
    is_phrase: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if not self.row:
            self.row = {arxiv_id: n for n, arxiv_id in enumerate(self.ids)}
        if len(self.is_phrase) != len(self.terms):
            self.is_phrase = np.char.find(self.terms.astype(str), " ") >= 0

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids: Iterable[str]) -> IntArray:
        """Row numbers of the ids that are in the corpus, in the given order."""
        row = self.row
        return np.asarray([row[i] for i in ids if i in row], dtype=np.int64)

    def listed(self, start: date, end: date) -> IntArray:
        """Rows of papers listed in [start, end]."""
        low, high = start.toordinal(), end.toordinal()
        return np.flatnonzero((self.days >= low) & (self.days <= high)).astype(np.int64)

    def author_rows(self) -> dict[str, list[int]]:
        """author_key(author) -> rows of their papers (built on first use)."""
        if self._author_rows is None:
            index: dict[str, list[int]] = {}
            for n, names in enumerate(self.authors):
                for name in names:
                    index.setdefault(author_key(name), []).append(n)
            self._author_rows = index
        return self._author_rows


def new_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True,
        stop_words="english",
        ngram_range=(1, 2),
        min_df=MIN_DF,
        max_df=MAX_DF,
        max_features=MAX_FEATURES,
        sublinear_tf=True,
        dtype=np.float32,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b",
    )


def doc_text(doc: CorpusDoc) -> str:
    return f"{doc.title}. {doc.title}. {doc.abstract}"  # the title counts twice


def category_matrix(docs: Sequence[CorpusDoc]) -> sp.csr_matrix:
    names = sorted({c for d in docs for c in d.categories})
    column = {c: n for n, c in enumerate(names)}
    rows = [n for n, d in enumerate(docs) for _ in d.categories]
    cols = [column[c] for d in docs for c in d.categories]
    data = np.ones(len(rows), dtype=np.float32)
    shape = (len(docs), max(1, len(names)))
    matrix = sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float32)
    return normalize(matrix).astype(np.float32)


def vector_matrix(
    ids: Sequence[str], vectors: Mapping[str, FloatArray]
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    matrix = np.zeros((len(ids), DIMENSION), dtype=np.float32)
    has = np.zeros(len(ids), dtype=bool)
    for n, arxiv_id in enumerate(ids):
        vector = vectors.get(arxiv_id)
        if vector is not None:
            matrix[n] = vector
            has[n] = True
    return matrix, has


def fit_text(docs: Sequence[CorpusDoc]) -> tuple[TfidfVectorizer, sp.csr_matrix]:
    """new_vectorizer() fitted on `docs` and their tf-idf rows: the same vocabulary, idf
    and matrix as its fit_transform, in two passes that never hold every word and phrase.

    fit_transform counts every distinct word and two-word phrase before min_df drops the
    rare ones: at 100,041 papers that peaked at 1.3 GB over the texts (46 s). Here a first
    pass counts the papers of each feature into hashed buckets (a bucket's count is at
    least that of each feature in it), and the second keeps columns only for features
    whose bucket reaches MIN_DF (1.6 M candidates of ~5 M); min_df, max_df and
    max_features are then applied as scikit-learn applies them (columns in alphabetical
    order, the same arg-sort of the same float32 totals). Measured at 100,041: 0.6 GB
    over the texts, 44 s."""
    vectorizer = new_vectorizer()
    analyze = vectorizer.build_analyzer()
    mask = HASH_BUCKETS - 1
    bound = np.zeros(HASH_BUCKETS, dtype=np.int32)
    hashes: list[int] = []
    for n, doc in enumerate(docs):
        hashes.extend({hash(f) for f in analyze(doc_text(doc))})
        if len(hashes) >= 2_000_000 or n == len(docs) - 1:
            buckets = np.fromiter(hashes, np.int64, len(hashes)) & mask
            seen, counts = np.unique(buckets, return_counts=True)
            bound[seen] += counts.astype(np.int32)
            hashes = []
    possible = (bound >= MIN_DF).astype(np.uint8).tobytes()
    del bound
    column: dict[str, int] = {}
    get = column.get
    cols, values, indptr = array("i"), array("i"), array("q", [0])
    for doc in docs:
        for feature, count in Counter(analyze(doc_text(doc))).items():
            c = get(feature)
            if c is None:
                if not possible[hash(feature) & mask]:
                    continue
                c = column[feature] = len(column)
            cols.append(c)
            values.append(count)
        indptr.append(len(cols))
    shape = (len(docs), len(column))
    parts = (
        np.frombuffer(values, np.intc),
        np.frombuffer(cols, np.intc),
        np.frombuffer(indptr, np.int64),
    )
    counts_m = sp.csr_matrix(parts, shape=shape, dtype=np.float32)
    del cols, values, indptr, parts
    n_docs = len(docs)
    df = np.bincount(counts_m.indices, minlength=shape[1])
    keep = np.flatnonzero((df >= MIN_DF) & (df <= MAX_DF * n_docs))
    names = list(column)
    kept_names = np.asarray([names[c] for c in keep.tolist()], dtype=object)
    del column, get, names  # the other candidates' strings go
    order = np.argsort(kept_names, kind="stable")  # alphabetical, as scikit-learn's
    keep, kept_names = keep[order], kept_names[order]
    if len(keep) > MAX_FEATURES:
        totals = np.bincount(counts_m.indices, weights=counts_m.data, minlength=shape[1])
        top = np.sort((-totals.astype(np.float32)[keep]).argsort()[:MAX_FEATURES])
        keep, kept_names = keep[top], kept_names[top]
    if len(keep) == 0:  # scikit-learn's own error ("no terms remain", "empty vocabulary")
        new_vectorizer().fit([doc_text(d) for d in docs])
    kept = counts_m[:, keep].tocsr()
    kept.sort_indices()
    del counts_m
    tfidf = TfidfTransformer(norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True)
    text = tfidf.fit(kept).transform(kept, copy=False)
    vectorizer.set_params(vocabulary={str(f): n for n, f in enumerate(kept_names)})
    vectorizer.idf_ = tfidf.idf_
    return vectorizer, text


def build_corpus(
    docs: Sequence[CorpusDoc], vectors: Mapping[str, FloatArray], version: str = ""
) -> CorpusFeatures:
    """Fit the tf-idf vocabulary on `docs` and assemble every block (pure, CPU-bound:
    ~20 s for 75k papers on one core)."""
    vectorizer, text = fit_text(docs)
    text = text.tocsr()
    text.sort_indices()  # row slices then stay sorted (model.train_classifier relies on it)
    ids = [d.arxiv_id for d in docs]
    matrix, has = vector_matrix(ids, vectors)
    days = np.asarray([d.day.toordinal() if d.day else 0 for d in docs], dtype=np.int64)
    return CorpusFeatures(
        ids=ids,
        titles=[d.title for d in docs],
        authors=[d.authors for d in docs],
        categories=[d.categories for d in docs],
        days=days,
        text=text.astype(np.float32),
        terms=vectorizer.get_feature_names_out(),
        vectors=matrix,
        has_vector=has,
        cats=category_matrix(docs),
        vectorizer=vectorizer,
        version=version,
    )
