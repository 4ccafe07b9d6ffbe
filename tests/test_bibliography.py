"""Library files, pure: LaTeX both ways, the four readers (with broken input), sniffing,
limits, and BibTeX/CSL-JSON export read back by bibtexparser and our own readers."""

from __future__ import annotations

import json
import re
import time
from datetime import date

import bibtexparser
import pytest
from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts
from hypothesis import given
from hypothesis import strategies as st

from paperwire.bibliography import (
    LibraryFileError,
    parse_library,
    sniff_format,
    to_bibtex,
    to_csl_json,
)
from paperwire.bibliography.csl_markup import csl_plain, csl_rich
from paperwire.bibliography.entries import arxiv_id, normalise_doi
from paperwire.bibliography.export import citation_keys, split_name
from paperwire.bibliography.latex import latex_to_plain, text_to_bibtex, title_key
from paperwire.bibliography.names import person_name
from paperwire.models import Author, Paper

BIBTEX = rb"""% a Zotero/Google Scholar style file with good, duplicate and broken entries
@article{vaswani2017,
  title = {Attention {Is} All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = 2017, eprint = {1706.03762v5}, archivePrefix = {arXiv}
}
@misc{broken,
  title = {Unbalanced {brace,
  year = 2020
}
@inproceedings{muller,
  title = "M{\"u}ller's {\'E}tude of {LaTeX}",
  doi = {https://doi.org/10.1000/XYZ.123},
  journal = {arXiv preprint arXiv:2401.00001},
}
@article{vaswani2017,
  title = {Attention is all you need}, url = {https://arxiv.org/abs/hep-th/9901001v2}
}
@misc{nothing, year = {2020}}
@misc{nocomma title = {x}}
@book{third, title = {Third}, year = {2021}}
"""


def test_latex_to_plain_renders_accents_commands_math_and_specials() -> None:
    assert latex_to_plain(r"M{\"u}ller {\'E}tude \c{c}a \v{s} {\ss} \o{} \aa") == (
        "Müller Étude ça š ß ø å"
    )
    assert latex_to_plain(r"Di$\mathtt{[M]}$O: $\mathcal{O}(T)$ and H$^{\mathbf{3}}$DP") == (
        "Di[M]O: O(T) and H3DP"
    )
    assert latex_to_plain(r"Q\&A --- 50\% \$5 \{x\} \textit{New} \"{\i}") == (
        "Q&A — 50% $5 {x} New ï"
    )
    assert latex_to_plain(r"$\alpha$-divergence $\times$4") == "α-divergence ×4"
    assert latex_to_plain("plain  title\n  broken") == "plain title broken"


def test_scripts_in_math_keep_their_meaning_as_unicode_and_still_match() -> None:
    r"""Dropping ^ and _ made "SP$^3$" read "SP3" and "${\mathbb R}^{12}$" read "R12" in
    CSL-JSON exports and feeds (real titles of the shared corpus). Scripts whose every
    character has a Unicode form become it; others are flattened as before; title
    matching is unchanged (the forms fold back to their characters)."""
    cases = {
        "SP$^3$: a network": "SP³: a network",
        "U$^2$Mamba": "U²Mamba",
        "${\\mathbb R}^{12}$ lattices": "R¹² lattices",
        "codes of length $4p^s$": "codes of length 4pˢ",
        "H$_2$O and $x_{ij}$": "H₂O and xᵢⱼ",
        "$\\ell_1$ loss, $A^T$, $x^{n+1}_{k}$": "ℓ₁ loss, Aᵀ, xⁿ⁺¹ₖ",
        "$O(n^{2+\\epsilon})$ time": "O(n2+ε) time",  # no superscript epsilon: flat
        "GSBAK$^K$": "GSBAKᴷ",
    }
    for latex, plain in cases.items():
        assert latex_to_plain(latex) == plain
        flat = latex.replace("^", "").replace("_", "")
        assert title_key(latex) == title_key(flat)  # matching as before


def test_plain_text_writes_fractions_and_roots_inline_and_keeps_written_spacing() -> None:
    r"""Feeds, CSL-JSON and the page <title> flattened "$\frac{1}{2}$" to "12", ate the
    space after a symbol ("$x \le y$" read "x ≤y") and dropped operator words ("$O(n \log
    n)$" read "O(n n)"; 252 abstracts of the shared corpus use \log)."""
    cases = {
        r"$\frac{1}{2}$ and \frac12 and $\tfrac{1}{2}x$": "1/2 and 1/2 and (1/2)x",
        r"$\frac{a+b}{c}$, $\frac{x^2}{2\pi}$, $\frac{1}{\sqrt{d}}$": "(a+b)/c, x²/2π, 1/√d",
        r"$\dfrac{\frac{1}{2}}{3}$ $\frac{\log n}{(\log\log n)^2}$": (
            "(1/2)/3 (log n)/(log log n)²"
        ),
        r"$\sqrt{x}$, $\sqrt{x+1}$, $\sqrt[3]{x}$": "√x, √(x+1), ³√x",
        r"$x \le y$, x \ge y, $a \times b \cdot c$": "x ≤ y, x ≥ y, a × b · c",
        r"$\alpha \in (0,1)$ and $\alpha \beta$": "α ∈ (0,1) and α β",
        r"$28\times 28$ pixels, $n\ge 2$, $\lbrace x\rbrace $": "28×28 pixels, n≥2, {x}",
        r"$O(n \log n)$, $O(n\log n)$, $\log_2 n$, $\sin\theta$": (
            "O(n log n), O(n log n), log₂ n, sin θ"
        ),
        r"$\binom{n}{k}$ and $a \equiv b \pmod{p}$": "(n choose k) and a ≡ b (mod p)",
        r"$\frac{1}$ $\sqrt{$": "1 √",  # arguments missing: flattened as before
    }
    for latex, plain in cases.items():
        assert latex_to_plain(latex) == plain, latex
    paper = _paper("2503.00001", r"Bounds $\frac{1}{2} \le \alpha$ for \sqrt{n}", ["A B"])
    assert json.loads(to_csl_json([paper]))[0]["title"] == "Bounds 1/2 ≤ α for √n"


def test_plain_text_of_nested_or_unclosed_layouts_takes_linear_time() -> None:
    for hostile in (r"$\frac{" * 5000 + "$", r"\sqrt{" * 20000, "{" * 20000 + r"\frac"):
        started = time.perf_counter()
        latex_to_plain(hostile)
        assert time.perf_counter() - started < 2.0
    nested = r"\frac{" * 30 + "1" + "}{2}" * 30
    assert latex_to_plain(nested).count("1") == 1  # deep nesting flattened, not an error


def test_title_key_folds_case_accents_latex_and_punctuation() -> None:
    variants = [
        r"M{\"u}ller's {\'E}tude: a {LaTeX} Study",
        "Müller’s Étude — A LaTeX study",
        "MULLER'S ETUDE a latex-study.",
    ]
    assert {title_key(v) for v in variants} == {"muller s etude a latex study"}
    assert title_key("Attention Is All You Need") != title_key("Attention Is Not All You Need")


def test_text_to_bibtex_escapes_specials_and_keeps_math() -> None:
    assert text_to_bibtex("Tom & Jerry 50% #1 a_b") == r"Tom \& Jerry 50\% \#1 a\_b"
    assert text_to_bibtex(r"$\alpha_1 < \beta$ & x") == r"$\alpha_1 < \beta$ \& x"
    assert text_to_bibtex("naïve Łódź Ærø") == r"na{\"\i}ve {\L}{\'o}d{\'z} {\AE}r{\o}"
    assert text_to_bibtex("{unbalanced") == r"\textbraceleft{}unbalanced"
    assert text_to_bibtex("1\\2 costs $5") == r"1\textbackslash{}2 costs \$5"
    assert text_to_bibtex(r"already {\"o} \& fine") == r"already {\"o} \& fine"


_PLAIN = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,:;&%#_~^éüçøßÅŁ中文αβ!?()[]")), max_size=60
)


@given(_PLAIN)
def test_bibtex_escaping_renders_back_to_the_same_text(text: str) -> None:
    assert latex_to_plain(text_to_bibtex(text)) == " ".join(text.split())


def test_identifiers_from_ids_urls_and_dois() -> None:
    assert arxiv_id("arXiv:1706.03762v5") == "1706.03762"
    assert arxiv_id("https://arxiv.org/pdf/2401.00001v2.pdf") == "2401.00001"
    assert arxiv_id("http://export.arxiv.org/abs/hep-th/9901001") == "hep-th/9901001"
    assert arxiv_id("10.48550/arXiv.2312.00752") == "2312.00752"
    assert arxiv_id("https://doi.org/10.48550/ARXIV.2312.00752") == "2312.00752"
    assert arxiv_id("not an id") is None and arxiv_id("10.1145/3366423.3380130") is None
    assert normalise_doi("https://doi.org/10.1000/XYZ.123.") == "10.1000/xyz.123"


def test_bibtex_good_duplicate_and_broken_entries() -> None:
    parsed = parse_library(BIBTEX, "library.bib")
    assert parsed.format == "bibtex"
    assert [(e.key, e.arxiv_id, e.doi, e.title) for e in parsed.entries] == [
        ("vaswani2017 (line 2)", "1706.03762", None, "Attention Is All You Need"),
        ("muller (line 11)", "2401.00001", "10.1000/xyz.123", "Müller's Étude of LaTeX"),
        ("vaswani2017 (line 16)", "hep-th/9901001", None, "Attention is all you need"),
        ("third (line 21)", None, None, "Third"),
    ]
    assert parsed.entries[0].authors == ("Ashish Vaswani", "Noam Shazeer")
    assert parsed.entries[0].year == 2017
    reasons = {m.key: m.reason for m in parsed.malformed}
    assert set(reasons) == {"broken (line 7)", "nothing (line 19)", "nocomma (line 20)"}
    assert "closing `}`" in reasons["broken (line 7)"]
    assert reasons["nothing (line 19)"] == "no title, arXiv id or DOI"
    assert "comma" in reasons["nocomma (line 20)"]


def test_csl_json_items_and_bad_items() -> None:
    items = [
        {
            "id": "vaswani",
            "type": "article",
            "title": 'Attention Is <i>All</i> You <span class="nocase">Need</span>',
            "author": [{"family": "Vaswani", "given": "Ashish"}, {"literal": "OpenAI"}],
            "issued": {"date-parts": [[2017, 6, 12]]},
            "number": "arXiv:1706.03762",
        },
        5,
        {"id": "empty"},
        {"id": "doi", "title": "Journal paper", "DOI": "10.1000/ABC", "issued": {"raw": "2020"}},
        {"id": "url", "URL": "https://arxiv.org/abs/2401.00001v3"},
    ]
    parsed = parse_library(json.dumps(items).encode(), "My Library.json")
    assert parsed.format == "csljson"
    assert [(e.arxiv_id, e.doi, e.year) for e in parsed.entries] == [
        ("1706.03762", None, 2017),
        (None, "10.1000/abc", 2020),
        ("2401.00001", None, None),
    ]
    assert parsed.entries[0].authors == ("Ashish Vaswani", "OpenAI")
    assert parsed.entries[0].title == "Attention Is All You Need"
    assert [(m.key, m.reason) for m in parsed.malformed] == [
        ("item 2", "not a JSON object"),
        ("empty (item 3)", "no title, arXiv id or DOI"),
    ]
    with pytest.raises(LibraryFileError, match="not valid JSON"):
        parse_library(b'[{"id": 1,', "broken.json")


def test_ris_records_with_missing_end_and_junk_between() -> None:
    ris = (
        b"TY  - JOUR\nTI  - Attention is all you need\nAU  - Vaswani, Ashish\nPY  - 2017\n"
        b"DO  - 10.48550/arXiv.1706.03762\nER  - \n\njunk line between records\n"
        b"TY  - CONF\nT1  - A conference paper\n  continued title\nAU  - Smith, J.\n"
        b"Y1  - 2020///\nTY  - JOUR\nUR  - https://arxiv.org/abs/2401.00001\nER  -\n"
        b"TY  - JOUR\nPY  - 1999\n"
    )
    parsed = parse_library(ris, "export.ris")
    assert parsed.format == "ris"
    assert [(e.key, e.arxiv_id, e.title, e.year) for e in parsed.entries] == [
        ("record at line 1", "1706.03762", "Attention is all you need", 2017),
        ("record at line 9", None, "A conference paper continued title", 2020),
        ("record at line 14", "2401.00001", None, None),
    ]
    assert parsed.entries[0].authors == ("Ashish Vaswani",)
    assert [(m.key, m.reason) for m in parsed.malformed] == [
        ("record at line 17", "record has no ER line")
    ]


def test_id_list_with_prefixes_urls_versions_dois_and_junk() -> None:
    text = (
        "arXiv:1706.03762v5\n  https://arxiv.org/pdf/2401.00001v2.pdf  \n# a comment\n\n"
        "10.48550/arXiv.2312.00752\nhttps://doi.org/10.1145/3366423.3380130\n"
        "no id on this line\nhep-th/9901001 a trailing note\n"
    )
    parsed = parse_library(text.encode(), "ids.txt")
    assert parsed.format == "idlist"
    assert [(e.key, e.arxiv_id, e.doi) for e in parsed.entries] == [
        ("line 1", "1706.03762", None),
        ("line 2", "2401.00001", None),
        ("line 5", "2312.00752", None),  # arXiv's own DOI: the id says it all
        ("line 6", None, "10.1145/3366423.3380130"),
        ("line 8", "hep-th/9901001", None),
    ]
    assert [m.key for m in parsed.malformed] == ["line 7"]


def test_sniffing_prefers_content_over_the_file_name() -> None:
    assert sniff_format("@article{x, title={y}}", "refs.txt") == "bibtex"
    assert sniff_format('  [{"id": "x"}]', "refs.bib") == "csljson"
    assert sniff_format("TY  - JOUR\nER  - \n", "") == "ris"
    assert sniff_format("2401.00001\n", "") == "idlist"
    assert sniff_format("no marker, no id\n", "x.bib") == "bibtex"  # then the extension


@pytest.mark.parametrize("name", ["ids.bib", "ids.ris", "ids.json", "ids.txt", "ids"])
def test_an_id_list_is_read_as_one_whatever_its_name(name: str) -> None:
    """Named .bib/.ris it gave 0 entries and no word; named .json, "not valid JSON"."""
    text = (
        "# my reading list\narXiv:1706.03762v5\nhttps://arxiv.org/abs/2401.00001\n"
        "10.48550/arXiv.2312.00752\nhttps://doi.org/10.1145/3366423.3380130\n"
        "hep-th/9901001\n[1] Vaswani et al., arXiv:1706.03762\nnot an id\n"
    )
    parsed = parse_library(text.encode(), name)
    assert parsed.format == "idlist"
    assert len(parsed.entries) == 6 and [m.key for m in parsed.malformed] == ["line 8"]


@pytest.mark.parametrize(("name", "shown"), [("x.bib", "BibTeX"), ("x.json", "CSL-JSON")])
def test_a_format_chosen_by_name_alone_that_holds_nothing_says_so(name: str, shown: str) -> None:
    with pytest.raises(LibraryFileError, match=f"in {name}: read as {shown} for its name, but"):
        parse_library(b"Some notes.\nNo references here.\n", name)
    assert parse_library(b"\n", "x.bib").entries == []  # an empty file is just empty


def test_size_limit_and_binary_files_are_refused() -> None:
    with pytest.raises(LibraryFileError, match="limit is 100 bytes"):
        parse_library(b"2401.00001\n" * 20, "ids.txt", max_bytes=100)
    with pytest.raises(LibraryFileError, match="not a text file"):
        parse_library(b"\x89PNG\r\n\x1a\n\x00\x00", "x.bib")
    latin1 = "@misc{x, title = {Caf\xe9 society}}".encode("latin-1")
    assert parse_library(latin1, "x.bib").entries[0].title == "Café society"


def _paper(arxiv_id: str, title: str, authors: list[str], day: date | None = None) -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract="We show $x^2$ & more.",
        authors=[Author(a) for a in authors],
        categories=["cs.CL", "cs.LG"],
        submitted=day,
        listing_date=date(2025, 3, 18),
    )


PAPERS = [
    _paper("2503.00001", "Tom & Jerry: 50% of $\\alpha_1$ {GPU}s", ["Zoë Müller", "Bo Li"]),
    _paper("2503.00002", "Tom & Jerry again", ["Zoë Müller"], date(2025, 3, 1)),
    _paper("hep-th/9901001", 'Old \\"o style', ["Ludwig van Beethoven", "Mallory and Co"]),
    _paper("2503.00003", "{unbalanced brace", []),
]


def test_bibtex_export_is_valid_and_carries_arxiv_fields() -> None:
    text = to_bibtex(PAPERS)
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    entries = library.entries
    assert [e.key for e in entries] == [
        "muller2025tom",
        "muller2025tom_2503_00002",
        "beethoven1999old",
        "anon2025unbalanced",
    ]
    first = {f.key: f.value for f in entries[0].fields}
    assert first["eprint"] == "2503.00001" and first["archivePrefix"] == "arXiv"
    assert first["primaryClass"] == "cs.CL" and first["year"] == "2025"
    assert first["title"] == r"{Tom \& Jerry: 50\% of $\alpha_1$ {GPU}s}"
    assert first["author"] == r"Zo{\"e} M{\"u}ller and Bo Li"
    third = {f.key: f.value for f in entries[2].fields}
    assert third["author"] == "Ludwig van Beethoven and {Mallory and Co}"
    ours = parse_library(text.encode(), "x.bib").entries
    assert ours[2].authors == ("Ludwig van Beethoven", "Mallory and Co")
    assert ours[0].authors == ("Zoë Müller", "Bo Li")
    assert citation_keys(PAPERS) == [e.key for e in entries]  # stable: same again


def _bibtex_fields(entry: str) -> list[tuple[str, str]]:
    """The fields of one ``@type{key, name = {value}, …}`` entry read the way BibTeX
    reads them: a braced value ends at the brace that balances its opening one, every
    brace counted (a backslash escapes none); a comma or the entry's closing brace
    follows. Raises AssertionError where BibTeX would find no field or a broken entry."""
    head = re.match(r"@\w+\{[^,\s{}]+,\s*", entry)
    assert head, entry
    fields: list[tuple[str, str]] = []
    pos = head.end()
    while entry[pos] != "}":
        named = re.compile(r"([A-Za-z]+)\s*=\s*\{").match(entry, pos)
        assert named, f"no field at {entry[pos : pos + 40]!r}"
        depth, start = 1, named.end()
        pos = start
        while depth:
            depth += (entry[pos] == "{") - (entry[pos] == "}")
            pos += 1
        fields.append((named.group(1), entry[start : pos - 1]))
        after = re.compile(r"\s*(,\s*)?").match(entry, pos)
        assert after
        pos = after.end()
    assert entry[pos + 1 :].strip() == "", f"text after the entry: {entry[pos:]!r}"
    return fields


def _bibtex_names(value: str) -> int:
    """How many names BibTeX splits an author field into: at "and" between spaces,
    outside braces (braced text is masked first)."""
    outside, depth = [], 0
    for ch in value:
        depth += (ch == "{") - (ch == "}")
        outside.append(ch if depth == 0 and ch not in "{}" else "_")
    return 1 + len(re.findall(r"(?i)(?<=\s)and(?=\s)", "".join(outside)))


HOSTILE = [
    'Qinj2 }}, url = "https://evil.example/x", author = "Mallory Evil", z = 1',
    "one unbalanced } brace",
    "Q }, url = {https://evil.example/y}, note = {",
    r"\}, url = {https://evil.example/z}, x = \{",
    r"$\}x\{$ math closes early",
    r"{a $b} c$ d",
    r"\\{ back\\slash {",
    "@misc{evil, title = {x}}",
    "}" * 5 + "{" * 3,
    r"$\{x\}$ kept as a set \{y\} and {GPU}s",
]


def _export_fields(paper: Paper) -> list[tuple[str, str]]:
    return _bibtex_fields(to_bibtex([paper]))


def test_bibtex_export_braces_balance_as_bibtex_counts_them() -> None:
    r"""`\}` closed a title field for BibTeX (pybtex read an injected url and author and
    lost the real ones; one stray `}` dropped every later field): braces the text does
    not balance, and written ones, are exported as \textbraceleft{}/\textbraceright{}."""
    for hostile in HOSTILE:
        paper = _paper("2503.00009", hostile, [hostile, "Bo Li"])
        paper.doi, paper.journal_ref = "10.1/x}y", hostile
        paper.abstract = paper.comments = hostile
        fields = dict(_export_fields(paper))
        assert list(fields) == [
            "title", "author", "year", "eprint", "archivePrefix", "primaryClass", "doi",
            "journal", "url",
        ]  # fmt: skip
        assert fields["url"] == "https://arxiv.org/abs/2503.00009"
        assert fields["eprint"] == "2503.00009"
        assert _bibtex_names(fields["author"]) == 2
    for hostile in HOSTILE[:3]:  # unbalanced plain text reads back as it was written
        assert latex_to_plain(text_to_bibtex(hostile)) == hostile
    assert text_to_bibtex(r"$\{x\}$ kept {GPU}s") == r"$\lbrace x\rbrace $ kept {GPU}s"
    assert text_to_bibtex("a } b") == r"a \textbraceright{} b"


_HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list('ab Z{}{}\\\\$$,="@%&#_^~\n\t é}')), min_size=1, max_size=40
)


@given(_HOSTILE_TEXT, st.lists(_HOSTILE_TEXT, min_size=1, max_size=3), _HOSTILE_TEXT)
def test_every_exported_entry_has_exactly_the_fields_written(
    title: str, authors: list[str], journal: str
) -> None:
    paper = _paper("2503.00009", title, authors)
    paper.journal_ref, paper.doi = journal, journal
    fields = _export_fields(paper)
    assert [name for name, _ in fields] == [
        "title", "author", "year", "eprint", "archivePrefix", "primaryClass", "doi",
        "journal", "url",
    ]  # fmt: skip
    values = dict(fields)
    assert values["title"] == "{" + text_to_bibtex(title) + "}"
    assert values["url"] == "https://arxiv.org/abs/2503.00009"
    written = [a for a in authors if text_to_bibtex(a)]  # blank names are left out
    assert _bibtex_names(values["author"]) == (len(written) if written else 1)


def test_csl_json_export_renders_titles_and_names() -> None:
    items = json.loads(to_csl_json(PAPERS))
    assert items[0]["title"] == "Tom & Jerry: 50% of α₁ GPUs"
    assert items[0]["author"] == [
        {"family": "Müller", "given": "Zoë"},
        {"family": "Li", "given": "Bo"},
    ]
    assert items[1]["issued"] == {"date-parts": [[2025, 3, 1]]}
    assert items[2]["issued"] == {"date-parts": [[1999]]}
    assert items[2]["author"][0] == {"family": "van Beethoven", "given": "Ludwig"}
    assert items[0]["DOI"] == "10.48550/arXiv.2503.00001"
    assert items[0]["number"] == "arXiv:2503.00001" and items[0]["publisher"] == "arXiv"
    assert split_name("Plato") == ("", "Plato")


def test_xml_uploads_are_never_parsed_as_xml() -> None:
    """An EndNote/MODS-style XML file with an entity bomb: no reader expands entities; it
    is read as a list of lines, each reported, in no time."""
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        + "".join(
            f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">\n'
            for n in range(1, 10)
        )
        + "]>\n<records><record><title>&lol9;</title>"
        "<url>https://arxiv.org/abs/1706.03762</url></record></records>\n"
    ).encode()
    parsed = parse_library(bomb, "library.xml")
    assert parsed.format == "idlist"
    assert len(parsed.malformed) == 14 and all(len(m.reason) < 200 for m in parsed.malformed)
    assert parsed.entries == []  # the URL sits inside markup on a line of its own making


def test_ids_without_a_month_are_no_arxiv_ids_in_any_reader() -> None:
    """QA: readers took 9999.99999 (month 99) as an arXiv id the API client refuses."""
    assert arxiv_id("9999.99999") is None and arxiv_id("arXiv:2600.00001v2") is None
    assert arxiv_id("2606.16396") == "2606.16396"
    parsed = parse_library(b"2606.16396\n9999.99999\n", "badmonth.txt")
    assert [e.arxiv_id for e in parsed.entries] == ["2606.16396"]
    assert [m.key for m in parsed.malformed] == ["line 2"]
    assert "month 99 is not 01-12" in parsed.malformed[0].reason
    bib = b"@misc{x, eprint = {1399.00001}, title = {Kept by its title}}"
    (entry,) = parse_library(bib, "x.bib").entries
    assert entry.arxiv_id is None and entry.title == "Kept by its title"


def test_csl_json_fields_of_the_wrong_type_are_absent_and_the_rest_kept() -> None:
    """QA: a list URL (AttributeError), a number arxiv field or a 5,000-digit integer
    anywhere (ValueError) failed the whole file."""
    huge = "9" * 5000
    text = (
        '[{"id": "a", "URL": ["https://arxiv.org/abs/2606.16396"]},'
        ' {"id": "b", "URL": "https://arxiv.org/abs/2606.16428"},'
        ' {"id": "c", "arxiv": 2606.16396, "title": "Kept by its title"},'
        ' {"id": "d", "title": ["a", "list"], "DOI": 10.1, "author": "Smith, J.",'
        '  "issued": "2021-03", "URL": {"x": 1}, "note": 5},'
        ' {"id": "e", "title": {"t": 1}, "author": [3, {"family": ["x"]}, {"literal": 4}]},'
        f' {{"id": {huge}, "title": "Huge id", "issued": {{"date-parts": [[{huge}]]}}}},'
        f' {{"id": "g", "DOI": "10.1000/ABC", "number": {huge}, "author": {{"family": "Li"}}}}]'
    )
    parsed = parse_library(text.encode(), "u.json")
    assert [(e.key, e.arxiv_id, e.doi, e.title, e.authors, e.year) for e in parsed.entries] == [
        ("a (item 1)", "2606.16396", None, None, (), None),
        ("b (item 2)", "2606.16428", None, None, (), None),
        ("c (item 3)", None, None, "Kept by its title", (), None),
        ("(no id) (item 6)", None, None, "Huge id", (), None),
        ("g (item 7)", None, "10.1000/abc", None, ("Li",), None),
    ]
    assert [(m.key, m.reason) for m in parsed.malformed] == [
        ("d (item 4)", "no title, arXiv id or DOI"),
        ("e (item 5)", "no title, arXiv id or DOI"),
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"])
def test_unicode_files_with_a_byte_order_mark_are_read(encoding: str) -> None:
    """QA: UTF-16 files with a BOM (as Windows writes them) were refused for their NULs."""
    text = "@misc{x, title = {Café society}, eprint = {2401.00001}}\n"
    bom = {"utf-16-be": "\ufeff", "utf-32-be": "\ufeff"}.get(encoding, "")
    (entry,) = parse_library((bom + text).encode(encoding), "x.bib").entries
    assert (entry.title, entry.arxiv_id) == ("Café society", "2401.00001")
    ids = ("\ufeff" + "2401.00001\r\n1706.03762\r\n").encode("utf-16-le")
    assert [e.arxiv_id for e in parse_library(ids, "ids.txt").entries] == [
        "2401.00001",
        "1706.03762",
    ]
    with pytest.raises(LibraryFileError, match="starts as UTF-16-LE but is not"):
        parse_library(b"\xff\xfe" + "2401.00001".encode("utf-16-le") + b"\x00", "ids.txt")


# -- personal names: given, family, suffix ---------------------------------------------

# (as written, (given, family, suffix)); Hal Daumé III and Robert W. Heath Jr. are real
# arXiv authors (the shared daily file)
NAME_FORMS = [
    ("Smith, John", ("John", "Smith", "")),
    ("John Smith", ("John", "Smith", "")),
    ("King, Jr., Martin Luther", ("Martin Luther", "King", "Jr.")),
    ("Martin Luther King, Jr.", ("Martin Luther", "King", "Jr.")),
    ("Martin Luther King Jr.", ("Martin Luther", "King", "Jr.")),
    ("Hal Daumé III", ("Hal", "Daumé", "III")),
    ("Robert W. Heath Jr.", ("Robert W.", "Heath", "Jr.")),
    ("van Beethoven, Ludwig", ("Ludwig", "van Beethoven", "")),
    ("Ludwig van Beethoven", ("Ludwig", "van Beethoven", "")),
    ("Plato", ("", "Plato", "")),
]


@pytest.mark.parametrize(("written", "parts"), NAME_FORMS)
def test_names_split_into_given_family_and_suffix(
    written: str, parts: tuple[str, str, str]
) -> None:
    name = person_name(written)
    assert (name.given, name.family, name.suffix) == parts
    assert split_name(written) == parts[:2]


def test_every_reader_reads_names_in_every_form_in_reading_order() -> None:
    """QA: CSL-JSON's "Smith, John" stayed "Smith, John"; BibTeX's "King, Jr., Martin
    Luther" became "Jr., Martin Luther King"; RIS's "King, Martin Luther, Jr." became
    "Martin Luther, Jr. King"; CSL name parts lost their suffix and particles."""
    reading = [" ".join(p for p in parts if p) for _, parts in NAME_FORMS]
    csl = [{"id": "x", "title": "A title", "author": [w for w, _ in NAME_FORMS]}]
    csl[0]["author"] += [
        {"family": "King", "given": "Martin Luther", "suffix": "Jr."},
        {"family": "Beethoven", "given": "Ludwig", "non-dropping-particle": "van"},
        {"literal": "Smith, John & Sons"},  # a literal is never split
    ]
    authors = parse_library(json.dumps(csl).encode(), "x.json").entries[0].authors
    assert authors == (
        *reading,
        "Martin Luther King Jr.",
        "Ludwig van Beethoven",
        "Smith, John & Sons",
    )
    names = " and ".join(w for w, _ in NAME_FORMS)
    bib = f"@misc{{x,\n  title = {{A title}},\n  author = {{{names}}}\n}}\n"
    assert parse_library(bib.encode(), "x.bib").entries[0].authors == tuple(reading)
    ris = "TY  - JOUR\nTI  - A title\nAU  - King, Martin Luther, Jr.\nAU  - Smith, John\nER  - \n"
    parsed = parse_library(ris.encode(), "x.ris").entries[0]
    assert parsed.authors == ("Martin Luther King Jr.", "John Smith")


def test_exports_carry_suffixes_as_suffixes() -> None:
    """QA: "Hal Daumé III" was exported with family name "III" (cited as iii2025…) and
    "Martin Luther King Jr." with family "Jr."; both read back as the same names."""
    paper = _paper("2503.00009", "Deep learning", ["Hal Daumé III", "Martin Luther King Jr."])
    item = json.loads(to_csl_json([paper]))[0]
    assert item["author"] == [
        {"family": "Daumé", "given": "Hal", "suffix": "III"},
        {"family": "King", "given": "Martin Luther", "suffix": "Jr."},
    ]
    assert citation_keys([paper]) == ["daume2025deep"]
    bib = to_bibtex([paper])
    assert "Daum{\\'e}, III, Hal and King, Jr., Martin Luther" in bib
    for data, name in ((bib.encode(), "x.bib"), (to_csl_json([paper]), "x.json")):
        entry = parse_library(data, name).entries[0]
        assert entry.authors == ("Hal Daumé III", "Martin Luther King Jr."), name
    fields = bibtexparser.parse_string(
        bib, append_middleware=[SeparateCoAuthors(), SplitNameParts()]
    )
    people = fields.entries[0]["author"]
    assert [(p.first, p.last, p.jr) for p in people] == [
        (["Hal"], ["Daum{\\'e}"], ["III"]),
        (["Martin", "Luther"], ["King"], ["Jr."]),
    ]


def test_csl_json_titles_read_back_as_written_markup_or_not() -> None:
    """QA: export wrote a title holding <b> as it is, the reader took it for CSL markup
    and dropped it (and read &lt; as written): export and import now agree; a title
    with real CSL markup (Zotero's) still reads as its text."""
    titles = [
        "The <b> tag considered harmful",
        "DeepSeek-R1 Thoughtology: Let's <think> about LLM Reasoning",  # a real title
        "Why &lt; is not &amp; in <i>XML</i>",
        "<span <b>nested</b> x < y & z",
    ]
    papers = [_paper(f"2503.0001{n}", t, ["Bo Li"]) for n, t in enumerate(titles)]
    exported = to_csl_json(papers)
    assert json.loads(exported)[0]["title"] == "The &lt;b> tag considered harmful"
    assert json.loads(exported)[1]["title"] == titles[1]  # nothing that reads as markup
    entries = parse_library(exported, "x.json").entries
    assert [e.title for e in entries] == titles
    zotero = [{"id": "z", "title": "<i>Drosophila</i> genes &amp; <b>flies</b>"}]
    assert parse_library(json.dumps(zotero).encode(), "z.json").entries[0].title == (
        "Drosophila genes & flies"
    )


@given(st.text(alphabet=st.sampled_from(list("<>/&;ibspanu#x0 lt=\"'")), max_size=40))
def test_csl_rich_text_escaping_reads_back_as_the_same_text(text: str) -> None:
    assert csl_plain(csl_rich(text)) == text
