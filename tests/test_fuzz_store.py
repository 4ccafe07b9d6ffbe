"""What the parsers make of hostile input can always be stored: mutated real recordings
(OAI-PMH, the arXiv API, HF daily papers, snapshot lines) go through the parsers, and
every Paper that comes out is stored on SQLite and PostgreSQL without an error (a NUL,
an over-long DOI or a 70-bit upvote count each refused a whole batch before). Bounded:
a fixed seed and a few hundred inputs."""

from __future__ import annotations

import random

from paperwire.models import Paper
from paperwire.store import Store
from tests.parser_fuzz import mutate, mutate_json, targets

ROUNDS = 100


def test_parsed_fuzz_output_is_always_storable(store: Store) -> None:
    rng = random.Random(20261202)
    stored = 0
    for _ in range(ROUNDS):
        for target in targets().values():
            seed = rng.choice(target.seeds)
            steps = rng.randrange(1, 6)
            edit = mutate_json if rng.random() < 0.5 else mutate
            try:
                items = list(target.parse(edit(seed, rng, steps)))
            except Exception:  # refused as a whole: test_parsers_fuzz checks how
                continue
            papers = {p.arxiv_id: p for p in items if isinstance(p, Paper)}
            if papers:
                report, _ = store.upsert_papers(list(papers.values()))
                stored += report.new + report.updated + report.unchanged
    assert stored > 200  # the mutations leave many records parseable
    assert store.count_papers(include_deleted=True) > 0
