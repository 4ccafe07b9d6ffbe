"""Known-item queries from the shared arXiv corpus: a paper's pasted title, a pasted sentence
of its abstract, or a few words of its title typed as a topic; the paper is the answer.

The set is drawn with a fixed seed from the papers at the head of cache_vectors.py's fixed
shuffle (a uniform sample of the corpus, and the first papers it embeds), written once as
JSON lines to the benchmark's data dir (never into git) and read back on later runs. Half
of each kind is for tuning ("tune"), the other half is only reported ("report").
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from paperwire.models import Paper

KINDS = ("title", "sentence", "topic")
SPLITS = ("tune", "report")
SEED = 16
PER_KIND = 400  # queries of each kind, half of them per split
# Words a typed topic leaves out (it keeps the title's content words).
_FILLER_WORDS = "a an and are as at be by for from in into is of on or the to via with using"
_FILLER = frozenset(f"{_FILLER_WORDS} towards toward based through".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


@dataclass(frozen=True, slots=True)
class KnownItem:
    qid: str
    kind: str  # one of KINDS
    split: str  # one of SPLITS
    query: str
    target: str  # arXiv id of the paper the query came from


def sentence_of(abstract: str, rng: random.Random) -> str:
    """One sentence (over 40 characters) of the abstract, whitespace folded."""
    parts = [p for p in re.split(r"(?<=[.!?])\s+", " ".join(abstract.split())) if len(p) > 40]
    return rng.choice(parts) if parts else " ".join(abstract.split())[:200]


def topic_of(title: str, rng: random.Random) -> str:
    """Three consecutive content words of the title, lowercased (all when it has fewer)."""
    words = [w.lower() for w in _WORD.findall(title) if w.lower() not in _FILLER]
    if len(words) <= 3:
        return " ".join(words) or title
    start = rng.randrange(len(words) - 2)
    return " ".join(words[start : start + 3])


def draw(papers: Sequence[Paper], per_kind: int = PER_KIND, seed: int = SEED) -> list[KnownItem]:
    """Queries for the first 3 * per_kind of `papers` (taken in the order given)."""
    rng = random.Random(seed)
    items = []
    for n, paper in enumerate(papers[: 3 * per_kind]):
        kind = KINDS[n % 3]
        split = SPLITS[(n // 3) % 2]
        if kind == "title":
            query = " ".join(paper.title.split())
        elif kind == "sentence":
            query = sentence_of(paper.abstract, rng)
        else:
            query = topic_of(paper.title, rng)
        items.append(KnownItem(f"{kind}-{n}", kind, split, query, paper.arxiv_id))
    return items


def load_or_draw(path: Path, papers: Sequence[Paper]) -> list[KnownItem]:
    """The set written at `path`, or a new one drawn from `papers` and written there."""
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            return [KnownItem(**json.loads(line)) for line in handle]
    items = draw(papers)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(asdict(item)) + "\n" for item in items)
    temporary.replace(path)
    return items
