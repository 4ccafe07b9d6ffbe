"""Why a paper is recommended, in plain words, from the evidence the model used.

* the nearest paper of the reader's library (embedding cosine, tf-idf cosine without
  vectors): "close to 'Attention Is All You Need' in your Saved";
* a followed author on the paper (name match, shown as such): "by followed author X";
* a distinctive word or phrase the paper shares with several library papers:
  "you saved 3 papers on 'diffusion policy'"; never a piece of a link ('https github',
  'github io') or release boilerplate ('code available', 'project page'), which abstracts
  share whatever their topic (is_boilerplate).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from paperwire.bidi import isolated
from paperwire.graphemes import shorten
from paperwire.latex import latex_to_text
from paperwire.models import LibraryItem
from paperwire.names import author_key
from paperwire.recommend.corpus import CorpusFeatures
from paperwire.recommend.model import ReaderModel

# LibraryItem.source values that are not collection names
VERBS = {"liked": "liked", "upvoted": "upvoted", "imported": "imported"}
MIN_SHARED = 2  # a phrase is a reason once this many library papers share it
TITLE_CHARS = 90
# a term with any of these words is a piece of a link, never a topic
URL_WORDS = frozenset({
    "http", "https", "www", "href", "url", "com", "org", "net", "edu", "io", "html", "htm",
    "pdf", "php", "doi", "github", "gitlab", "huggingface", "zenodo", "git",
})  # fmt: skip
# a term made only of these words is release or paper boilerplate ('code available',
# 'project page', 'paper propose'); with a topic word ('code generation') it is a topic
BOILERPLATE_WORDS = frozenset({
    "code", "codes", "available", "publicly", "public", "release", "released", "releases",
    "open-source", "open-sourced", "open", "source", "project", "projects", "page",
    "webpage", "website", "repository", "repo", "demo", "demos", "supplementary",
    "material", "materials", "information", "link", "links", "accessible", "anonymous",
    "arxiv", "preprint", "accepted", "acceptance", "soon", "paper", "propose", "proposes",
    "proposed", "introduce", "introduces", "present", "presents", "data", "dataset",
    "datasets", "model", "models", "method", "methods", "task", "tasks", "experiment",
    "experiments", "result", "results",
})  # fmt: skip


def short_title(title: str) -> str:
    """The title as the characters its LaTeX stands for (as pages show it), shortened, and
    isolated (bidi.isolated) from the sentence it is quoted in."""
    flat = " ".join(latex_to_text(title).split())
    return isolated(shorten(flat, TITLE_CHARS, words=False))


def where_phrase(source: str) -> str:
    """'in your Saved', ', which you liked' …"""
    if source in VERBS:
        return "from your imported papers" if source == "imported" else f"which you {source}"
    return f"in your {source}"


def nearest_positive(corpus: CorpusFeatures, model: ReaderModel, row: int) -> int | None:
    """The library row most similar to `row` (embeddings first, else tf-idf), or None."""
    if corpus.has_vector[row] and len(model.library_rows):
        library = model.library_rows
        sims = model.library_vectors @ corpus.vectors[row]
    else:
        library = model.positives
        sims = np.asarray((corpus.text[library] @ corpus.text[row].T).toarray()).ravel()
    sims = np.where(library == row, -np.inf, sims)
    if not len(library):
        return None
    best = int(np.argmax(sims))
    return int(library[best]) if sims[best] > 0 else None


def followed_on(corpus: CorpusFeatures, model: ReaderModel, row: int) -> list[str]:
    if not model.followed:
        return []
    return [a for a in corpus.authors[row] if author_key(a) in model.followed]


def is_boilerplate(term: str) -> bool:
    """A piece of a link or release boilerplate (see URL_WORDS, BOILERPLATE_WORDS)."""
    words = term.split()
    return any(w in URL_WORDS for w in words) or all(w in BOILERPLATE_WORDS for w in words)


def shared_phrase(corpus: CorpusFeatures, model: ReaderModel, row: int) -> tuple[str, int] | None:
    """The candidate's most distinctive term that >= MIN_SHARED library papers contain,
    boilerplate skipped."""
    if len(model.positives) < MIN_SHARED:
        return None
    candidate = corpus.text[row]
    columns, weights = candidate.indices, candidate.data
    if not len(columns):
        return None
    counts = model.term_counts[columns]
    phrase_bonus = np.where(corpus.is_phrase[columns], 1.5, 1.0)
    value = np.where(counts >= MIN_SHARED, weights * np.log1p(counts) * phrase_bonus, 0.0)
    for best in np.argsort(-value, kind="stable").tolist():
        if value[best] <= 0:
            return None
        term = str(corpus.terms[columns[best]])
        if not is_boilerplate(term):
            return term, int(counts[best])
    return None


def library_verb(items: Sequence[LibraryItem]) -> str:
    """How the reader got these papers: 'saved', 'liked'…, one word when they agree."""
    kinds = Counter(VERBS.get(i.source, "saved") for i in items)
    return kinds.most_common(1)[0][0] if len(kinds) == 1 else ""


def explain(
    corpus: CorpusFeatures,
    model: ReaderModel,
    row: int,
    sources: dict[str, str],
    verb: str,
) -> tuple[str, ...]:
    """Reasons for recommending corpus row `row`, strongest evidence first."""
    reasons: list[str] = []
    nearest = nearest_positive(corpus, model, row)
    if nearest is not None:
        title = short_title(corpus.titles[nearest])
        where = where_phrase(sources.get(corpus.ids[nearest], "Saved"))
        sep = ", " if where.startswith("which") else " "
        reasons.append(f"close to '{title}'{sep}{where}")
    for author in followed_on(corpus, model, row)[:2]:
        reasons.append(f"by followed author {author} (name match)")
    phrase = shared_phrase(corpus, model, row)
    if phrase is not None:
        term, count = phrase
        if verb:
            reasons.append(f"you {verb} {count} papers on '{term}'")
        else:
            reasons.append(f"{count} papers in your library are on '{term}'")
    return tuple(reasons)
