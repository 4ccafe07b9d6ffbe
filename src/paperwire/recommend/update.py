"""Apply a small change of the store to corpus features, keeping the fitted vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from paperwire.recommend.corpus import (
    DIMENSION,
    CorpusDoc,
    CorpusFeatures,
    FloatArray,
    category_matrix,
    doc_text,
)


def update_corpus(
    corpus: CorpusFeatures,
    changed: Sequence[CorpusDoc],
    gone: Sequence[str],
    vectors: Mapping[str, FloatArray],
    version: str,
) -> CorpusFeatures:
    """A new CorpusFeatures: rows of `gone` and `changed` papers dropped, `changed` ones
    appended (tf-idf with the existing vocabulary), `vectors` filled in (pure)."""
    drop = set(gone) | {d.arxiv_id for d in changed}
    keep = np.asarray([n for n, i in enumerate(corpus.ids) if i not in drop], dtype=np.int64)
    ids = [corpus.ids[n] for n in keep.tolist()] + [d.arxiv_id for d in changed]
    new_text = corpus.vectorizer.transform([doc_text(d) for d in changed]).astype(np.float32)
    text = sp.vstack([corpus.text[keep], new_text]).tocsr()
    text.sort_indices()
    matrix = np.vstack([corpus.vectors[keep], np.zeros((len(changed), DIMENSION), np.float32)])
    has = np.concatenate([corpus.has_vector[keep], np.zeros(len(changed), dtype=bool)])
    for n, arxiv_id in enumerate(ids):
        vector = vectors.get(arxiv_id)
        if vector is not None:
            matrix[n] = vector
            has[n] = True
    old = [
        CorpusDoc(corpus.ids[n], corpus.titles[n], "", corpus.authors[n],
                  corpus.categories[n], None)
        for n in keep.tolist()
    ]  # fmt: skip
    days = np.concatenate(
        [corpus.days[keep], [d.day.toordinal() if d.day else 0 for d in changed]]
    ).astype(np.int64)
    return CorpusFeatures(
        ids=ids,
        titles=[*(corpus.titles[n] for n in keep.tolist()), *(d.title for d in changed)],
        authors=[*(corpus.authors[n] for n in keep.tolist()), *(d.authors for d in changed)],
        categories=[*(d.categories for d in old), *(d.categories for d in changed)],
        days=days,
        text=text,
        terms=corpus.terms,
        vectors=matrix,
        has_vector=has,
        cats=category_matrix([*old, *changed]),
        vectorizer=corpus.vectorizer,
        version=version,
    )
