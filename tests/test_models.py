from __future__ import annotations

import pytest

from paperwire.models import (
    InvalidRecord,
    clean_categories,
    read_arxiv_id,
    read_categories,
    split_arxiv_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.00001", ("2401.00001", None)),
        ("2401.00001v3", ("2401.00001", 3)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9504118", ("hep-th/9504118", None)),
        ("math.GT/0309136v2", ("math.GT/0309136", 2)),
        ("oai:arXiv.org:2104.12255", ("2104.12255", None)),
        ("http://arxiv.org/abs/2104.12255v1", ("2104.12255", 1)),
        ("arXiv:quant-ph/0201082v1", ("quant-ph/0201082", 1)),
    ],
)
def test_split_arxiv_id(raw: str, expected: tuple[str, int | None]) -> None:
    assert split_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "2401.1", "hep-th/95", "2401.00001v", "../etc"])
def test_split_arxiv_id_rejects(raw: str) -> None:
    with pytest.raises(InvalidRecord):
        split_arxiv_id(raw)


def test_clean_categories_drops_acm_and_msc() -> None:
    assert clean_categories(["cs.CL", "I.2.7", "68T50", "68T07, 68T45", "cs.AI", "cs.CL"]) == [
        "cs.CL",
        "cs.AI",
    ]
    assert clean_categories("hep-th math.GT q-bio.NC") == ["hep-th", "math.GT", "q-bio.NC"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2504.16918", "2504.16918"),
        (" 2504.16918v3 ", "2504.16918"),
        ("arXiv:2504.16918", "2504.16918"),
        ("https://arxiv.org/abs/2504.16918v2", "2504.16918"),
        ("arxiv.org/pdf/2504.16918.pdf", "2504.16918"),
        ("10.48550/arXiv.2504.16918", "2504.16918"),
        ("10.48550/ARXIV.2504.16918V2", "2504.16918"),
        ("https://doi.org/10.48550/arXiv.2504.16918.", "2504.16918"),
        ("10.48550/arXiv.hep-th/9504118", "hep-th/9504118"),
        ("hep-th/9504118v1", "hep-th/9504118"),
        ("10.1000/abs/2504.16918", None),  # another DOI names no arXiv paper
        ("10.48550/arXiv.", None),
        ("search/", None),
        ("", None),
    ],
)
def test_read_arxiv_id_reads_every_spelling_search_reads(raw: str, expected: str | None) -> None:
    assert read_arxiv_id(raw) == expected


def test_read_categories_tells_unreadable_parts_from_other_schemes() -> None:
    """Parts that start with an arXiv archive but are no class are unreadable; ACM and MSC
    classes (arXiv listings mix them in) and words are neither kept nor unreadable; a word
    that looks like a class of no archive ("garbage", "na") is no longer kept."""
    raw = ["cs.CL", "cs.", "CS", "cs.CL;", "I.2.7", "68T50, 68T07", "garbage", "na", "hep-th"]
    assert read_categories(raw) == (["cs.CL", "hep-th"], ["cs.", "CS", "cs.CL;"])
    assert read_categories("") == ([], [])
    assert clean_categories(["garbage", "math.GT", "math.GT"]) == ["math.GT"]
