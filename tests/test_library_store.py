"""The reader's library in the store, on SQLite and PostgreSQL: collections and items,
ratings, followed authors shared with the digest subscription, API tokens, and the
signals handed to the recommender."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from paperwire.config import Settings
from paperwire.library import LibraryConflict, LibraryError, NotFound
from paperwire.models import Author, Paper
from paperwire.service import Service
from paperwire.store.base import MIGRATIONS, _make_engine, open_store
from paperwire.store.library import LibraryStore

DAY = date(2025, 6, 2)


def paper(
    n: int, title: str, day: date = DAY, authors: tuple[str, ...] = ("Ada Lovelace",)
) -> Paper:
    return Paper(
        arxiv_id=f"2506.{n:05d}",
        title=title,
        abstract=f"Abstract of {title}.",
        authors=[Author(a) for a in authors],
        categories=["cs.CL"],
        listing_date=day,
        sources=["test"],
    )


@pytest.fixture
def service(settings: Settings) -> Service:
    svc = Service(settings)
    svc.store.upsert_papers(
        [
            paper(1, "Beta study", date(2025, 6, 3)),
            paper(2, "alpha survey", date(2025, 6, 1)),
            paper(3, "Gamma notes", date(2025, 6, 2)),
        ]
    )
    yield svc  # type: ignore[misc]
    svc.close()


def test_collections_items_sorts_notes_and_isolation(service: Service) -> None:
    lib = service.library
    ann = service.accounts.get_or_create_user("ann@example.org")
    bob = service.accounts.get_or_create_user("bob@example.org")
    assert [c.name for c in lib.collections(ann.id)] == ["Saved"]
    saved, _ = lib.save(ann.id, "2506.00001v2")
    assert saved.name == "Saved" and saved.size == 1
    group = lib.create_collection(ann.id, "  Reading   group ")
    assert group.name == "Reading group"
    with pytest.raises(LibraryConflict):
        lib.create_collection(ann.id, "reading GROUP")
    report = lib.add_to_collection(
        ann.id,
        group.id,
        ["2506.00001", "2506.00002", "arXiv:2506.00003", "2999.99999", "2506.00002"],
    )
    assert (report.added, report.already, report.missing) == (3, 0, ["2999.99999"])
    again = lib.add_to_collection(ann.id, "Reading group", ["2506.00003"])
    assert (again.added, again.already, again.collection.size) == (0, 1, 3)
    by_name = lib.add_to_collection(ann.id, "Imported", ["2506.00002"])
    assert by_name.collection.name == "Imported" and by_name.added == 1
    time.sleep(0.01)
    lib.add_to_collection(ann.id, group.id, ["2506.00002"])  # already there: added_at kept
    titles = {
        sort: [p.title for _, p in lib.collection_papers(ann.id, group.id, sort) if p]
        for sort in ("added", "date", "title")
    }
    assert titles["date"] == ["Beta study", "Gamma notes", "alpha survey"]
    assert titles["title"] == ["alpha survey", "Beta study", "Gamma notes"]
    assert sorted(titles["added"]) == sorted(titles["title"])
    window = lib.collection_papers(ann.id, group.id, "title", limit=2, offset=1)
    assert [p.title for _, p in window if p] == ["Beta study", "Gamma notes"]
    lib.set_note(ann.id, group.id, "2506.00003", "read §3\r\nagain")
    notes = {e.arxiv_id: e.note for e, _ in lib.collection_papers(ann.id, group.id)}
    assert notes["2506.00003"] == "read §3\nagain" and notes["2506.00001"] == ""
    lib.rename_collection(ann.id, group.id, "Journal club")
    assert [c.name for c in lib.collections(ann.id)] == ["Saved", "Journal club", "Imported"]

    # another reader sees none of it and can change none of it
    assert [c.name for c in lib.collections(bob.id)] == ["Saved"]
    for attempt in (
        lambda: lib.collection(bob.id, group.id),
        lambda: lib.collection_papers(bob.id, group.id),
        lambda: lib.rename_collection(bob.id, group.id, "mine"),
        lambda: lib.delete_collection(bob.id, group.id),
        lambda: lib.set_note(bob.id, group.id, "2506.00003", "x"),
        lambda: lib.remove_item(bob.id, group.id, "2506.00003"),
        lambda: lib.add_to_collection(bob.id, group.id, ["2506.00001"]),
        lambda: lib.save(bob.id, "2506.00001", collection_id=group.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert lib.store.items(bob.id, group.id) == []
    assert lib.collection(ann.id, group.id).size == 3

    assert lib.unsave(ann.id, "2506.00002") == 2  # from Journal club and Imported
    lib.remove_item(ann.id, group.id, "2506.00003")
    with pytest.raises(NotFound):
        lib.remove_item(ann.id, group.id, "2506.00003")
    lib.delete_collection(ann.id, group.id)
    assert [c.name for c in lib.collections(ann.id)] == ["Saved", "Imported"]
    with pytest.raises(LibraryError):
        lib.create_collection(ann.id, "   ")
    with pytest.raises(LibraryError):
        lib.create_collection(ann.id, "x" * 101)


def test_ratings_hide_papers_and_signals(service: Service) -> None:
    lib = service.library
    ann = service.accounts.get_or_create_user("ann@example.org")
    lib.save(ann.id, "2506.00001", new_collection="Diffusion")
    lib.rate(ann.id, "2506.00002", "up")
    lib.rate(ann.id, "2506.00003", "down")
    service.set_vote(ann.id, "2506.00001", True)
    papers = list(service.store.get_papers(["2506.00001", "2506.00002", "2506.00003"]).values())
    kept, hidden = lib.visible(ann, papers)
    assert {p.arxiv_id for p in kept} == {"2506.00001", "2506.00002"} and hidden == 1
    assert lib.visible(None, papers) == (papers, 0)
    service.digest.add_subscriber("ann@example.org", {"categories": "cs.CL cs.LG"})
    lib.follow(ann.id, "Ada Lovelace")

    signals = service.reader_signals(ann.id)
    sources = sorted((i.arxiv_id, i.source) for i in signals.positives)
    assert sources == [
        ("2506.00001", "Diffusion"),
        ("2506.00001", "upvoted"),
        ("2506.00002", "liked"),
    ]
    assert signals.negatives == ("2506.00003",)
    assert signals.exclude == {"2506.00001", "2506.00003"}
    assert signals.followed_authors == ("Ada Lovelace",)
    assert signals.categories == ("cs.CL", "cs.LG")
    assert all(i.added_at.tzinfo is not None for i in signals.positives)

    lib.rate(ann.id, "2506.00003", "none")
    lib.rate(ann.id, "2506.00002", "down")  # changes its mind: liked -> not interested
    again = service.reader_signals(ann.id)
    assert again.negatives == ("2506.00002",)
    assert ("2506.00002", "liked") not in {(i.arxiv_id, i.source) for i in again.positives}
    with pytest.raises(NotFound):
        lib.rate(ann.id, "2999.00001", "up")
    with pytest.raises(LibraryError):
        lib.rate(ann.id, "2506.00001", "sideways")
    other = service.accounts.get_or_create_user("other@example.org")
    assert service.reader_signals(other.id).positives == ()


def test_follows_agree_with_the_digest_subscription(service: Service) -> None:
    lib = service.library
    ann = service.accounts.get_or_create_user("ann@example.org")
    assert lib.follow(ann.id, "José García")
    assert not lib.follow(ann.id, "jose  GARCIA")  # the same name, normalised
    sub = service.digest.add_subscriber("ann@example.org", {"followed_authors": "Yann LeCun"})
    # reading takes both lists; following from the site writes to the subscription too
    assert lib.follows(ann.id) == ["José García", "Yann LeCun"]
    lib.follow(ann.id, "Ada Lovelace")
    stored = service.digest.store.get(sub.id)
    assert stored is not None and stored.followed_authors == ["Yann LeCun", "Ada Lovelace"]
    assert lib.unfollow(ann.id, "yann lecun")
    stored = service.digest.store.get(sub.id)
    assert stored is not None and stored.followed_authors == ["Ada Lovelace"]
    assert lib.follows(ann.id) == ["José García", "Ada Lovelace"]
    # the digest's manage page sets the list for the address: the account follows it
    lib.store.set_follows_for_email("ann@example.org", ["Grace Hopper", "grace hopper"])
    service.digest.store.update_preferences(sub.id, {"followed_authors": ["Grace Hopper"]})
    assert lib.follows(ann.id) == ["Grace Hopper"]
    assert lib.store.follows_by_email(["ann@example.org", "x@example.org"]) == {
        "ann@example.org": ["Grace Hopper"]
    }
    bob = service.accounts.get_or_create_user("bob@example.org")
    assert lib.follows(bob.id) == []


def test_api_tokens_store_only_a_hash_and_revoke(service: Service) -> None:
    lib = service.library
    ann = service.accounts.get_or_create_user("ann@example.org")
    bob = service.accounts.get_or_create_user("bob@example.org")
    token, secret = lib.create_token(ann.id, "laptop")
    assert secret.startswith("pw_") and len(secret) > 40 and token.prefix == secret[:10]
    with service.store.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM api_tokens"))
    assert secret not in dump and secret[10:] not in dump
    user = lib.token_user(secret)
    assert user is not None and user.id == ann.id
    assert lib.tokens(ann.id)[0].last_used_at is not None
    assert lib.token_user(secret + "x") is None and lib.token_user("nope") is None
    with pytest.raises(NotFound):
        lib.revoke_token(bob.id, token.id)  # not bob's
    assert lib.token_user(secret) is not None
    lib.revoke_token(ann.id, token.id)
    assert lib.token_user(secret) is None and lib.tokens(ann.id) == []


def test_a_deleted_collections_id_is_never_given_again(service: Service) -> None:
    library = service.library
    user = service.accounts.get_or_create_user("ids@example.org")
    first = library.create_collection(user.id, "Temp")
    library.delete_collection(user.id, first.id)  # the highest id: SQLite reused it before
    second = library.create_collection(user.id, "Temp2")
    assert second.id > first.id
    with pytest.raises(NotFound):
        library.collection(user.id, first.id)


def test_names_that_look_the_same_are_one_and_invisible_ones_are_refused(
    service: Service,
) -> None:
    """QA: "Café" typed with é and with e + U+0301 made two collections that look the same;
    a name of only U+200B (an invisible link) and one opening with U+202E were taken."""
    lib = service.library
    ann = service.accounts.get_or_create_user("unicode@example.org")
    cafe = lib.create_collection(ann.id, "Cafe\u0301")
    assert cafe.name == "Café"  # stored in NFC
    with pytest.raises(LibraryConflict):
        lib.create_collection(ann.id, "CAFÉ")
    lib.create_collection(ann.id, "ﬁles")
    with pytest.raises(LibraryConflict):
        lib.create_collection(ann.id, "files")
    assert lib.add_to_collection(ann.id, "cafe\u0301", ["2506.00001"]).collection.id == cafe.id
    for invisible in ("\u200b", "\u200b\u2060 \ufeff", "\u202e\u202c"):
        with pytest.raises(LibraryError, match=r"no visible characters|empty"):
            lib.create_collection(ann.id, invisible)
    turned = lib.create_collection(ann.id, "\u202eevil\u2066 name\u2069")
    assert turned.name == "evil name"
    other = lib.create_collection(ann.id, "zero\u200bwidth")  # visible text: kept as typed
    assert other.name == "zero\u200bwidth"


INVISIBLE = [
    "\u200b",  # zero-width space
    "\u2060",  # word joiner
    "\u202e\u202c",  # bidi override, pop
    "\u2066 \u2069\u200e",  # isolate, space, pop, left-to-right mark
    "\ufeff\u00ad",  # BOM, soft hyphen
    "\u3164",  # Hangul filler (a letter that shows nothing)
    "\u2800",  # braille blank
    "\u034f\ufe0f",  # combining grapheme joiner, variation selector
    "\U000e0020",  # tag space
]


@pytest.mark.parametrize("blank", INVISIBLE, ids=lambda b: " ".join(f"U+{ord(c):04X}" for c in b))
def test_names_of_only_invisible_characters_are_refused_everywhere(
    service: Service, blank: str
) -> None:
    """QA: a collection, an API token or a followed author named with nothing visible
    (some of these were taken), and a note of only invisible characters (kept as a note
    that shows nothing): every name is refused, such a note is no note."""
    lib = service.library
    ann = service.accounts.get_or_create_user("blank@example.org")
    lib.collections(ann.id)  # "Saved"
    group = lib.create_collection(ann.id, "Reading")
    for take in (
        lambda: lib.create_collection(ann.id, blank),
        lambda: lib.rename_collection(ann.id, group.id, blank),
        lambda: lib.save(ann.id, "2506.00001", new_collection=blank),
        lambda: lib.add_to_collection(ann.id, blank, ["2506.00001"]),
        lambda: lib.create_token(ann.id, blank),
        lambda: lib.follow(ann.id, blank),
    ):
        with pytest.raises(LibraryError, match=r"no visible characters|empty"):
            take()
    assert [c.name for c in lib.collections(ann.id)] == ["Saved", "Reading"]
    assert lib.tokens(ann.id) == [] and lib.follows(ann.id) == []
    lib.save(ann.id, "2506.00001", group.id, note="a note")
    lib.set_note(ann.id, group.id, "2506.00001", blank)  # clears it, as a blank note does
    _, entry = lib.put_item(ann.id, group.id, "2506.00002", blank)
    notes = {e.arxiv_id: e.note for e, _ in lib.collection_papers(ann.id, group.id)}
    assert notes == {"2506.00001": "", "2506.00002": ""} and entry.note == ""


def _at_revision(url: str, revision: str) -> sa.Engine:
    engine = _make_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return engine


def test_migration_to_collection_keys_rekeys_and_keeps_clashing_names(tmp_path: Path) -> None:
    """Rows keyed at 0011 (case folding only): after 0012 a name typed another way finds
    them, and two that now share a key both survive, the later one renamed."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _at_revision(url, "0011_collection_ids")
    when = "2025-06-02 00:00:00"
    names = ["Cafe\u0301", "café", "Reading", "ﬁles"]
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO users (id, email, created_at) VALUES (1, 'a@b.org', :t)"),
            {"t": when},
        )
        for n, name in enumerate(names, 1):
            conn.execute(
                sa.text("INSERT INTO collections VALUES (:n, 1, :name, :key, :t)"),
                {"n": n, "name": name, "key": " ".join(name.split()).casefold(), "t": when},
            )
    engine.dispose()
    store = open_store(url)
    try:
        library = LibraryStore(store.engine)
        assert [c.name for c in library.list_collections(1)] == [
            "Café",
            "café (2)",
            "Reading",
            "ﬁles",
        ]
        found = library.find_collection(1, "CAFÉ")
        assert found is not None and found.id == 1
        files = library.find_collection(1, "files")
        assert files is not None and files.id == 4
    finally:
        store.close()


def test_migration_to_author_keys_rekeys_follows_and_joins_spellings(tmp_path: Path) -> None:
    """Follows keyed at 0012 (accents and case folded, LaTeX and invisible characters
    kept): after 0013 each is keyed by names.author_key and reads as it reads, and two
    spellings of one name are one follow, the first followed."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _at_revision(url, "0012_collection_keys")
    follows = [  # (name as followed, its 0012 key, when)
        ('P. T\\"ornberg', 'p t"ornberg', "2025-06-01 00:00:00"),
        ("P. Törnberg", "p tornberg", "2025-06-02 00:00:00"),
        ("\u202aAnn Lee\u202c", "\u202aann lee\u202c", "2025-06-03 00:00:00"),
        ("Bo Li", "bo li", "2025-06-04 00:00:00"),
    ]
    with engine.begin() as conn:
        for user in (1, 2):
            conn.execute(
                sa.text("INSERT INTO users (id, email, created_at) VALUES (:u, :e, :t)"),
                {"u": user, "e": f"{user}@b.org", "t": follows[0][2]},
            )
        for user, (name, key, when) in [(1, f) for f in follows] + [(2, follows[1])]:
            conn.execute(
                sa.text("INSERT INTO author_follows VALUES (:u, :key, :name, :t)"),
                {"u": user, "key": key, "name": name, "t": when},
            )
    engine.dispose()
    store = open_store(url)
    try:
        library = LibraryStore(store.engine)
        assert library.follows(1) == ["P. Törnberg", "Ann Lee", "Bo Li"]
        assert library.follows(2) == ["P. Törnberg"]
        assert not library.follow(1, "p tornberg")  # already followed
        assert library.unfollow(1, "Ann Lee") and library.follows(1) == ["P. Törnberg", "Bo Li"]
    finally:
        store.close()


def test_migration_to_collection_ids_keeps_every_item(tmp_path: Path) -> None:
    """A SQLite database made at 0010 with collections and items: after 0011 the items are
    all there, still cascade with their collection, and a deleted top id is not reused."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _make_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010_counts")
    when = "2025-06-02 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO users (id, email, created_at) VALUES (1, 'a@b.org', :t)"),
            {"t": when},
        )
        for n in (1, 2, 3):
            conn.execute(
                sa.text("INSERT INTO collections VALUES (:n, 1, :name, :name, :t)"),
                {"n": n, "name": f"c{n}", "t": when},
            )
            for k in range(n):
                conn.execute(
                    sa.text("INSERT INTO collection_items VALUES (:n, :a, :t, '')"),
                    {"n": n, "a": f"2506.{k:05d}", "t": when},
                )
        conn.execute(sa.text("DELETE FROM collection_items WHERE collection_id = 3"))
        conn.execute(sa.text("DELETE FROM collections WHERE id = 3"))
    engine.dispose()
    store = open_store(url)
    try:
        with store.engine.begin() as conn:
            items = conn.execute(
                sa.text("SELECT collection_id, count(*) FROM collection_items GROUP BY 1")
            )
            assert dict(items.all()) == {1: 1, 2: 2}
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
            conn.execute(sa.text("DELETE FROM collections WHERE id = 2"))  # cascades as before
            left = conn.execute(sa.text("SELECT count(*) FROM collection_items")).scalar()
            assert left == 1
        library = LibraryStore(store.engine)
        made = library.create_collection(1, "new")
        again = library.create_collection(1, "newer")
        library.delete_collection(1, again.id)
        assert made.id == 3 and library.create_collection(1, "newest").id == again.id + 1
    finally:
        store.close()
