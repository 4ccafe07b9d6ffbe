"""Text holding NUL and other control characters (PostgreSQL's text and jsonb refuse NUL:
the whole import batch failed; XML feeds refuse all of them; terminals and grep take
such output for binary), on SQLite and PostgreSQL: paper records are imported with them
removed and the rest of the batch unharmed; readers' names, notes and follows are kept
without them; email addresses holding them are refused."""

from __future__ import annotations

import itertools
import json
import lzma
from pathlib import Path

import pytest

from conftest import DAILY_FILE
from paperwire.config import Settings
from paperwire.digest.preferences import PreferenceError, clean_email
from paperwire.service import Service
from paperwire.web.auth import normalise_email


def test_control_characters_are_removed_and_nothing_else_is_lost(
    settings: Settings, tmp_path: Path
) -> None:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in itertools.islice(handle, 60)]
    records[3]["title"] = "Zero\u0000byte\u0007 title"
    records[5]["summary"] = "An abstract\u0000 with a NUL,\ta tab and\r\na line break."
    records[7]["authors"] = ["Ann\u0000 Lee", *records[7]["authors"][1:]]
    path = tmp_path / "nul.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Service(settings) as service:
        report = service.import_snapshot(path)
        assert report.new == 60 and report.rejected == 0
        title = service.store.get_paper(records[3]["id"])
        abstract = service.store.get_paper(records[5]["id"])
        author = service.store.get_paper(records[7]["id"])
        assert title is not None and abstract is not None and author is not None
        assert title.title == "Zerobyte title"
        assert abstract.abstract == "An abstract with a NUL, a tab and a line break."
        assert author.authors[0].name == "Ann Lee"
        found = service.search("Zerobyte", mode="lexical")
        assert [hit.paper.arxiv_id for hit in found.hits] == [records[3]["id"]]


def test_readers_text_is_kept_without_control_characters(
    settings: Settings, tmp_path: Path
) -> None:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        record = json.loads(next(handle))
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with Service(settings) as service:
        service.import_snapshot(path)
        library = service.library
        user = service.accounts.get_or_create_user("nul@example.org")
        shelf = library.create_collection(user.id, "Read\u0000ing\u0007 list")
        assert shelf.name == "Reading list"
        library.add_to_collection(user.id, shelf.id, [record["id"]])
        library.set_note(user.id, shelf.id, record["id"], "line one\u0000\nline two")
        (entry,) = library.store.items(user.id, shelf.id)
        assert entry.note == "line one\nline two"
        assert library.follow(user.id, "Ann\u0000 Lee")
        assert library.follows(user.id) == ["Ann Lee"]
        token, _secret = library.create_token(user.id, "ci\u0000 bot")
        assert token.name == "ci bot"
    for check in (clean_email, normalise_email):
        with pytest.raises((PreferenceError, ValueError)):
            check("a\u0000b@example.org")
        assert check("ab@example.org") == "ab@example.org"
