"""The pure OAI-PMH parser on recorded arXiv responses and on synthetic pages."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import FIXTURES
from fake_arxiv import DATA
from paperwire.models import Author, Flaw, Paper, Rejected
from paperwire.sources.arxiv_oai import (
    MalformedResponse,
    OaiError,
    list_records_params,
    parse_list_records,
)

OAI = FIXTURES / "arxiv_oai_pmh"
LISTRECORDS_NOCK = OAI / "paperhive_oaipmh-listrecords---should-list-identifiers-from-arxiv.json"


def papers_of(body: bytes) -> dict[str, Paper]:
    page = parse_list_records(body)
    assert all(isinstance(i, Paper) for i in page.items)
    return {p.arxiv_id: p for p in page.items if isinstance(p, Paper)}


def test_recorded_listrecords_response_every_field() -> None:
    body = OAI / "paperhive_body_xml/oaipmh-listrecords---should-list-identifiers-from-arxiv__1.xml"
    page = parse_list_records(body.read_bytes())
    assert page.token is None
    got = {p.arxiv_id: p for p in page.items if isinstance(p, Paper)}
    assert list(got) == ["1412.8544", "hep-th/9504118"]
    kochen = got["1412.8544"]
    assert kochen.title == "A Kochen-Specker system has at least 22 vectors (extended abstract)"
    assert kochen.authors == [
        Author("Sander Uijlen", "Radboud Universiteit"),
        Author("Bas Westerbaan", "Radboud Universiteit"),
    ]
    assert kochen.categories == ["cs.DM"]
    assert (kochen.submitted, kochen.updated) == (date(2014, 12, 29), date(2014, 12, 29))
    assert kochen.comments == "In Proceedings QPL 2014, arXiv:1412.8102"
    assert kochen.listing_date == date(2015, 1, 3)  # datestamp of a new first version
    assert kochen.journal_ref == "EPTCS 172, 2014, pp. 154-164"
    assert kochen.doi == "10.4204/EPTCS.172.11"
    assert kochen.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert kochen.abstract.startswith("At the heart of the Conway-Kochen Free Will theorem")
    assert kochen.abstract.endswith("improve the lower bound to 22.")
    assert "\n" not in kochen.abstract and "  " not in kochen.abstract
    assert kochen.sources == ["arxiv_oai"] and kochen.version is None and not kochen.deleted
    old = got["hep-th/9504118"]
    assert old.authors == [Author("M. Requardt")]
    assert old.categories == ["hep-th"]
    assert old.comments == "21 pages, Latex"
    assert '"strength" of the bonds' in old.abstract  # &quot; entities decoded
    assert (old.doi, old.journal_ref, old.license) == (None, None, None)
    assert old.listing_date is None  # a 1995 paper re-stamped in 2015 was not listed then


def test_recorded_503_then_200_nock_pair_is_what_the_body_file_holds() -> None:
    entries = json.loads(LISTRECORDS_NOCK.read_text())
    assert [e["status"] for e in entries] == [503, 200]
    assert "Retry-After" in entries[0]["rawHeaders"]
    assert len(papers_of(entries[1]["response"].encode())) == 2


def test_recorded_hepcrawl_pages() -> None:
    hep_th = papers_of((OAI / "hepcrawl_arxiv-physics-hep-th.xml").read_bytes())
    assert list(hep_th) == ["1412.8323", "1507.07790", "1607.01710"]
    first = hep_th["1412.8323"]
    assert first.title == (
        "Toolbox for reconstructing quantum theory from rules on information acquisition"
    )
    assert first.categories == [
        "quant-ph",
        "gr-qc",
        "hep-th",
        "math-ph",
        "math.MP",
        "physics.hist-ph",
    ]
    assert (first.submitted, first.updated) == (date(2014, 12, 29), date(2017, 12, 13))
    assert first.listing_date is None  # a replacement: the datestamp is not its listing
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    assert hep_th["1507.07790"].doi == "10.1088/1751-8121/aa9c53"
    assert len(hep_th["1607.01710"].authors) == 5
    hep_ex = papers_of((OAI / "hepcrawl_arxiv-physics-hep-ex.xml").read_bytes())
    assert len(hep_ex) == 3
    assert len(hep_ex["1706.05371"].authors) == 13


def test_recorded_getrecord_keeps_msc_out_of_categories() -> None:
    single = papers_of((OAI / "hepcrawl_arxiv-single.xml").read_bytes())["1401.2122"]
    assert single.categories == ["math.AP", "hep-th", "math-ph", "math.DG", "math.MP", "nlin.SI"]
    assert single.updated == date(2017, 10, 23)
    getrecord = OAI / "paperhive_body_xml/oaipmh-getrecord---should-get-a-record__0.xml"
    assert list(papers_of(getrecord.read_bytes())) == ["1412.8544"]


def test_a_record_whose_categories_cannot_be_read_is_kept_with_a_flaw() -> None:
    """A recorded record with its <categories> damaged: kept, with a Flaw naming it; the
    recorded responses as they are (MSC classes in hepcrawl's single record too) have none."""
    recorded = [
        OAI / "paperhive_body_xml/oaipmh-listrecords---should-list-identifiers-from-arxiv__1.xml",
        OAI / "hepcrawl_arxiv-physics-hep-th.xml",
        OAI / "hepcrawl_arxiv-physics-hep-ex.xml",
        OAI / "hepcrawl_arxiv-single.xml",
    ]
    assert all(parse_list_records(path.read_bytes()).flaws == [] for path in recorded)
    body = recorded[0].read_bytes()
    assert body.count(b"<categories>cs.DM</categories>") == 1
    page = parse_list_records(
        body.replace(b"<categories>cs.DM</categories>", b"<categories>cs.</categories>")
    )
    kept = {p.arxiv_id: p for p in page.items if isinstance(p, Paper)}
    assert list(kept) == ["1412.8544", "hep-th/9504118"] and kept["1412.8544"].categories == []
    assert kept["1412.8544"].title.startswith("A Kochen-Specker system")
    assert page.flaws == [
        Flaw(
            "arxiv_oai",
            "oai:arXiv.org:1412.8544",
            "category 'cs.' is not an arXiv class (such as cs.CL); kept with no category",
        )
    ]


@pytest.mark.parametrize(
    "name",
    [
        "oaipmh-identify---should-identify-arxiv__0.xml",
        "oaipmh-listidentifiers---should-list-identifiers-from-arxiv__0.xml",
        "oaipmh-listsets---should-list-arxiv-sets__0.xml",
    ],
)
def test_other_verbs_are_refused_clearly(name: str) -> None:
    with pytest.raises(MalformedResponse, match="neither ListRecords nor GetRecord"):
        parse_list_records((OAI / "paperhive_body_xml" / name).read_bytes())


def test_synthetic_pages_tokens_deleted_and_rejects() -> None:
    first = parse_list_records((DATA / "oai_page1.xml").read_bytes())
    assert (first.token, first.complete_list_size) == ("tok-2|page 2", 9)
    paper, other, rejected = first.items
    assert isinstance(paper, Paper) and isinstance(other, Paper)
    assert paper.authors[0] == Author(
        "Adaeze Okonkwo Jr", "Lagos Institute of Computing; Example Lab"
    )
    assert paper.categories == ["cs.CL", "cs.AI"]  # 68T50 and I.2.7 dropped
    assert paper.title == "Counting Pebbles with Small Language Models"
    assert paper.abstract == (
        "We teach a small model to count pebbles & stones on a beach. "
        "The model counts <well> most of the time."
    )
    assert isinstance(rejected, Rejected)
    assert rejected.key == "oai:arXiv.org:2401.90003"
    assert rejected.reason == "2401.90003: empty abstract"
    assert "A Record Without an Abstract" in rejected.raw
    second = parse_list_records((DATA / "oai_page2.xml").read_bytes())
    deleted = second.items[1]
    assert deleted == Paper("2312.90005", "", "", deleted=True, sources=["arxiv_oai"])
    third = parse_list_records((DATA / "oai_page3.xml").read_bytes())
    assert third.token is None  # empty token element: the list is complete
    assert isinstance(third.items[2], Rejected)
    assert third.items[2].reason == "2401.90008: empty title"


def test_no_records_match_is_an_empty_page() -> None:
    page = parse_list_records((DATA / "oai_no_records.xml").read_bytes())
    assert (page.items, page.token) == ([], None)


def test_bad_resumption_token_says_what_to_do() -> None:
    with pytest.raises(OaiError, match=r"badResumptionToken.*--restart") as info:
        parse_list_records((DATA / "oai_bad_token.xml").read_bytes())
    assert info.value.code == "badResumptionToken"


@pytest.mark.parametrize(
    "body",
    [
        (DATA / "oai_page1.xml").read_bytes()[:1500],  # truncated mid-record
        b"",
        b"<html><body><h1>Retry after 10 seconds</h1></body></html>",
        b"\x00\x01 not xml",
    ],
)
def test_malformed_bodies_raise(body: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_list_records(body)


def test_list_records_params() -> None:
    assert list_records_params(date(2024, 1, 15), None, "cs") == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "from": "2024-01-15",
        "set": "cs",
    }
