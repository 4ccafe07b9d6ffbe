"""paper_keys on real SQLite and PostgreSQL: keyed once, re-keyed when a paper changes,
rebuilt when emptied; lookups by id, DOI and title key skip deleted papers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from paperwire.bibliography.entries import normalise_doi
from paperwire.bibliography.latex import title_key
from paperwire.models import Author, Paper
from paperwire.store import Store
from paperwire.store.bibliography_tables import paper_keys
from paperwire.store.paper_keys import PaperKeys


def paper(n: int, title: str, doi: str | None = None) -> Paper:
    return Paper(
        arxiv_id=f"2503.{n:05d}",
        title=title,
        abstract="An abstract.",
        authors=[Author("A. Author")],
        categories=["cs.CL"],
        listing_date=date(2025, 3, 18),
        doi=doi,
        sources=["test"],
    )


def refresh(keys: PaperKeys) -> int:
    return keys.refresh(title_key, normalise_doi)


def test_keys_follow_the_papers(store: Store) -> None:
    store.upsert_papers(
        [
            paper(1, r"M{\"u}ller's {LaTeX} Study", doi="10.1000/ABC"),
            paper(2, "Same Title"),
            paper(3, "Same title!"),
            paper(4, "Gone soon"),
        ]
    )
    keys = PaperKeys(store.engine)
    assert refresh(keys) == 4
    assert refresh(keys) == 0
    assert keys.ids_by_title_key([title_key("MÜLLER’S LaTeX study")]) == {
        "muller s latex study": ["2503.00001"]
    }
    assert keys.ids_by_title_key(["same title"]) == {"same title": ["2503.00002", "2503.00003"]}
    assert keys.ids_by_doi(["10.1000/abc", "10.9/none"]) == {"10.1000/abc": ["2503.00001"]}
    assert keys.live_ids(["2503.00004", "2503.00009"]) == {"2503.00004"}
    store.upsert_papers([replace(paper(4, ""), deleted=True, abstract="")])
    store.upsert_papers([replace(paper(2, "A new title"), version=2)])
    assert refresh(keys) == 2
    assert keys.live_ids(["2503.00004"]) == set()
    assert keys.ids_by_title_key(["gone soon"]) == {}
    assert keys.ids_by_title_key(["same title", "a new title"]) == {
        "same title": ["2503.00003"],
        "a new title": ["2503.00002"],
    }
    with store.engine.begin() as conn:
        conn.execute(paper_keys.delete())
    assert refresh(keys) == 4  # an emptied table is rebuilt whatever the checkpoint says


def test_very_long_titles_are_keyed_truncated(store: Store) -> None:
    long_title = "word " * 400
    store.upsert_papers([paper(7, long_title)])
    keys = PaperKeys(store.engine)
    assert refresh(keys) == 1
    key = title_key(long_title)
    assert len(key) > 1000 and keys.ids_by_title_key([key]) == {key: ["2503.00007"]}
