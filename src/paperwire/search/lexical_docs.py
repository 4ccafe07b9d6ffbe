"""The documents of the lexical index: its schema, and each paper's document built from
its stored row (codec.encode_paper), with the keys documents carry (digest, id key, day).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import orjson
import tantivy

from paperwire.latex import latex_to_text
from paperwire.models import category_keys
from paperwire.search.index_text import index_text
from paperwire.store.codec import ENCODED_COLUMNS, EncodedRow

NO_DAY = -1  # day value of papers without any date
EPOCH = date(1970, 1, 1)


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("arxiv_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="pw_text")
    builder.add_text_field("abstract", tokenizer_name="pw_text")
    builder.add_text_field("authors", tokenizer_name="pw_name")
    builder.add_text_field("category", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", fast=True, indexed=True)
    builder.add_integer_field("upvotes", fast=True)
    builder.add_integer_field("digest", fast=True, indexed=False)
    builder.add_integer_field("key", fast=True, indexed=False)
    return builder.build()


def hash_key(stored_hash: str) -> int:
    """The store's content hash of a paper (hex) cut to the signed 64 bits a document
    keeps in its `digest` field."""
    return int.from_bytes(bytes.fromhex(stored_hash[:16]), "big", signed=True)


_MODERN_ID = re.compile(r"([0-9]{4})\.([0-9]{4,5})")


def id_key(arxiv_id: str) -> int:
    """A modern arXiv id (YYMM.NNNN or YYMM.NNNNN) as a positive number, 0 for any other id
    (e.g. hep-th/9901001). key_id reverses it. Reading 100 results' ids from this fast
    field took 0.02 ms; loading their stored documents 0.36 ms (measured)."""
    found = _MODERN_ID.fullmatch(arxiv_id)
    if found is None:
        return 0
    month, number = found.groups()
    return (len(number) * 10_000 + int(month)) * 100_000 + int(number)


def key_id(key: int) -> str:
    """The arXiv id whose id_key is `key` (> 0)."""
    rest, number = divmod(key, 100_000)
    width, month = divmod(rest, 10_000)
    return f"{month:04d}.{number:0{width}d}"


def day_number(day: date) -> int:
    return (day - EPOCH).days


def category_terms(categories: Iterable[str]) -> list[str]:
    """Lowercased categories plus their archives (cs.CL -> cs.cl, cs)."""
    out: list[str] = []
    for cat in categories:
        for term in category_keys(cat):
            if term not in out:
                out.append(term)
    return out


_COLUMN = {name: i for i, name in enumerate(ENCODED_COLUMNS)}
_ID, _TITLE, _ABSTRACT, _AUTHORS, _CATEGORIES, _UPVOTES, _DELETED, _HASH = (
    _COLUMN[c]
    for c in (
        "arxiv_id", "title", "abstract", "authors", "categories", "hf_upvotes", "deleted",
        "content_hash",
    )
)  # fmt: skip
# paper_day's order: listing date, else HF date, else v1.
_DAYS = (_COLUMN["listing_date"], _COLUMN["hf_date"], _COLUMN["submitted"])


def row_document(row: EncodedRow) -> tantivy.Document:
    """The document of a paper, from its stored row (codec.encode_paper): built from the
    row as written, so an import indexes what it stored without reading it back, and the
    digest is the row's own content hash. Texts are indexed as index_text reads them."""
    day = row[_DAYS[0]] or row[_DAYS[1]] or row[_DAYS[2]]
    doc = tantivy.Document(
        arxiv_id=row[_ID],
        title=index_text(latex_to_text(row[_TITLE])),
        abstract=index_text(latex_to_text(row[_ABSTRACT])),
        authors=[index_text(latex_to_text(a["name"])) for a in orjson.loads(row[_AUTHORS])] or [""],
        category=category_terms(orjson.loads(row[_CATEGORIES])) or [""],
    )
    doc.add_integer("day", day_number(date.fromisoformat(day)) if day else NO_DAY)
    doc.add_integer("upvotes", row[_UPVOTES] or 0)
    doc.add_integer("digest", hash_key(row[_HASH]))
    doc.add_integer("key", id_key(row[_ID]))
    return doc


def put_rows(writer: tantivy.IndexWriter, rows: Iterable[EncodedRow]) -> int:
    """Replace each paper's document (deleted papers are only removed); returns how many
    rows were handled."""
    count = 0
    for row in rows:
        writer.delete_documents_by_term("arxiv_id", row[_ID])
        if not row[_DELETED]:
            writer.add_document(row_document(row))
        count += 1
    return count
