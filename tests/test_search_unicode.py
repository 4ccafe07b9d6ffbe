"""Full-text search of non-ASCII text (search/index_text.py): Chinese and Japanese without
spaces, long words of multi-byte scripts, text in NFD, invisible characters inside words.

Real arXiv records (ids, authors, categories, dates) given Unicode titles and abstracts,
imported into a real store and index, searched through the Service as every shell does.
"""

from __future__ import annotations

import itertools
import json
import lzma
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tantivy

from conftest import DAILY_FILE, imported_service
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search.highlight import highlight
from paperwire.search.index_text import Analysis, index_text
from paperwire.search.lexical import LexicalIndex, text_analyzer
from paperwire.search.query import Clause
from paperwire.service import Service
from paperwire.store.codec import ENCODED_COLUMNS, encode_paper


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


CYRILLIC_WORD = "высокопроизводительный"  # 22 letters, 44 bytes
GREEK_WORD = "ηλεκτροεγκεφαλογράφημα"  # 22 letters
TEXTS = {  # title, abstract
    "zh": (
        "基于深度神经网络的大规模多语言文本自动摘要生成方法研究",
        "本文提出一种新的机器学习方法，用于医学图像分割。",
    ),
    "ja": ("深層学習による画像認識の研究", "トランスフォーマーを用いた手法を提案する。"),
    "ko": ("한국어 문장 분류", "우리는 새로운 언어 모델을 제안한다."),
    "long": (f"A {CYRILLIC_WORD} solver", f"We record the {GREEK_WORD} of rats."),
    "nfd": (nfd("Résumé of méthodes"), nfd("An évaluation of naïve café benchmarks.")),
    "invisible": (
        "Deep lear\u200bning for ma\u00adchine trans\u2060lation",
        "Zero\u200dwidth joiners and byte\ufefforder marks inside words.",
    ),
}
Record = dict[str, Any]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    """Real records: the first six given the texts above, the next 40 as they are."""
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        real = [json.loads(line) for line in itertools.islice(handle, len(TEXTS) + 40)]
    for record, (title, abstract) in zip(real, TEXTS.values(), strict=False):
        record["title"], record["summary"] = title, abstract
    return real


@pytest.fixture(scope="module")
def ids(records: list[Record]) -> dict[str, str]:
    return {name: record["id"] for name, record in zip(TEXTS, records, strict=False)}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, records: list[Record]) -> Iterator[Service]:
    with imported_service(tmp_path_factory.mktemp("unicode"), records) as svc:
        yield svc


def found(service: Service, query: str) -> list[str]:
    return [h.paper.arxiv_id for h in service.search(query, mode="lexical", per_page=50).hits]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("学习", "zh"),  # a word inside a sentence
        ('"机器学习方法"', "zh"),
        ("ti:自动摘要", "zh"),  # inside a 27-character title
        ('"图像分割"', "zh"),
        ("画像認識", "ja"),
        ("トランス", "ja"),
        ('"문장 분류"', "ko"),  # Korean by its words
    ],
)
def test_chinese_and_japanese_are_found_inside_runs(
    service: Service, ids: dict[str, str], query: str, name: str
) -> None:
    assert found(service, query)[:1] == [ids[name]]


def test_a_phrase_of_pairs_must_stand_in_order(service: Service) -> None:
    assert found(service, '"方法机器"') == []  # both pairs' characters occur, not in this order
    assert found(service, "문장분류") == []  # Korean words are whole words


def test_a_one_character_run_matches_itself() -> None:
    index_of = {"的": " 的 ", "x的y": "x 的 y"}
    assert {text: index_text(text) for text in index_of} == index_of


@pytest.mark.parametrize("word", [CYRILLIC_WORD, GREEK_WORD, GREEK_WORD.upper()])
def test_long_words_of_multibyte_scripts_are_found(
    service: Service, ids: dict[str, str], word: str
) -> None:
    page = service.search(word, mode="lexical")
    assert [h.paper.arxiv_id for h in page.hits] == [ids["long"]]
    assert not any("nothing matches" in note for note in page.notes)


def test_a_phrase_holds_a_word_indexed_in_pieces(service: Service, ids: dict[str, str]) -> None:
    assert found(service, f'"a {CYRILLIC_WORD} solver"') == [ids["long"]]
    assert found(service, f'"{CYRILLIC_WORD[:-1]}"') == []  # a word less its last letter


def test_a_missing_multibyte_word_is_searched_not_called_unsearchable(service: Service) -> None:
    page = service.search("сверхвысокочастотный", mode="lexical")  # 20 letters, in no paper
    assert page.total == 0 and not any("nothing matches" in n for n in page.notes), page.notes


@pytest.mark.parametrize("word", ["a" * 40, "ж" * 40, "x" * 41])
def test_words_of_40_characters_or_more_are_said_to_be_unindexed(
    service: Service, word: str
) -> None:
    page = service.search(word, mode="lexical")
    assert page.total == 0
    assert any("words of 40 characters or more are not indexed" in n for n in page.notes)


def test_a_word_of_39_characters_is_indexed_in_any_script(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    for word in ("q" * 39, "ж" * 39, "𝐀" * 39):  # 1, 2 and 4 bytes a character
        assert "".join(index.text.analyze(word)) == word.lower(), word  # maybe in pieces
        assert index.text.analyze(f"{word}{word[0]} {word[0]}") == [word[0].lower()]


def test_nfd_and_nfc_find_each_other(service: Service, ids: dict[str, str]) -> None:
    assert found(service, "résumé")[:1] == [ids["nfd"]]  # typed NFC, stored from NFD
    assert found(service, '"naïve café"')[:1] == [ids["nfd"]]
    assert found(service, nfd("évaluation"))[:1] == [ids["nfd"]]


def test_import_stores_text_in_nfc(service: Service, ids: dict[str, str]) -> None:
    paper = service.store.get_paper(ids["nfd"])
    assert paper is not None
    assert paper.title == "Résumé of méthodes" and unicodedata.is_normalized("NFC", paper.abstract)


def test_an_nfd_row_of_an_older_store_is_found_after_a_rebuild(tmp_path: Path) -> None:
    """Rows stored before import normalised text are indexed in NFC all the same."""
    row = list(encode_paper(Paper(arxiv_id="2503.00001", title="x", abstract="y")))
    row[ENCODED_COLUMNS.index("title")] = nfd("Méthodes spécifiques")
    index = LexicalIndex(tmp_path / "lexical")
    assert index.rebuild_rows([[tuple(row)]]) == 1
    for typed in ("spécifiques", nfd("spécifiques")):
        query = index.clause_query(Clause("title", typed))
        assert [i for i, _ in index.search(query, limit=5).ids] == ["2503.00001"]


@pytest.mark.parametrize("query", ["learning", "machine", '"machine translation"', "byteorder"])
def test_invisible_characters_do_not_split_words(
    service: Service, ids: dict[str, str], query: str
) -> None:
    assert ids["invisible"] in found(service, query)


def test_invisible_characters_in_the_query_are_dropped(
    service: Service, records: list[Record]
) -> None:
    plain = found(service, "simulation")
    assert plain and found(service, "simu\u200blation") == plain


def test_highlights_mark_the_pairs_and_nfd_text(service: Service, ids: dict[str, str]) -> None:
    zh = service.search("学习方法", mode="lexical").hits[0]
    assert zh.paper.arxiv_id == ids["zh"]
    assert "一种新的机器<mark>学习方法</mark>，用于" in zh.highlights["abstract"]
    nfd_hit = service.search("naive cafe", mode="lexical").hits[0]
    assert "<mark>naïve</mark> <mark>café</mark>" in nfd_hit.highlights["abstract"]


ANALYZE = Analysis(text_analyzer()).analyze


def test_highlights_mark_latin_words_beside_chinese() -> None:
    html = highlight("用于GPT模型的方法, 学习", {"gpt", "模型", "学"}, ANALYZE)
    assert html == "用于<mark>GPT</mark><mark>模型</mark>的方法, 学习"


def test_highlights_mark_nfd_text_in_nfc() -> None:
    html = highlight(nfd("A naïve café <b>"), {"naiv", "cafe"}, ANALYZE)
    assert html == "A <mark>naïve</mark> <mark>café</mark> &lt;b&gt;"


def test_ascii_text_is_analysed_exactly_as_before(records: list[Record]) -> None:
    """index_text changes no token of ASCII text: real abstracts, and long words."""
    before = (  # the analyzer of schema version 4, on the text as it was
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )
    analysis = Analysis(text_analyzer())
    texts = [r["summary"] for r in records[len(TEXTS) :]] + [f"a {'b' * 39} {'c' * 40} d"]
    for text in texts:
        assert text.isascii() and analysis.analyze(text) == list(before.analyze(text))


def test_an_older_index_is_cleared_and_the_search_says_to_rebuild(
    tmp_path: Path, records: list[Record], ids: dict[str, str]
) -> None:
    snapshot = tmp_path / "unicode.jsonl"
    snapshot.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data")
    with Service(settings) as service:
        service.import_snapshot(snapshot)
    meta = settings.data_dir / "index" / "lexical" / "paperwire.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "schema_version": 4}))
    with Service(settings) as service:
        page = service.search("学习", mode="lexical")
        assert page.total == 0
        assert any("older version" in n and "index rebuild" in n for n in page.notes)
        service.rebuild_index()
        assert found(service, "学习") == [ids["zh"]]
