"""The reader's library as the web and API use it: collections, thumbs up/down, followed
authors, API tokens and links from digest emails. Thin rules over store/library.py.

``Service.library`` gives one Library; importers call ``add_to_collection``, the
recommender reads ``reader_signals``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from paperwire.bidi import without_bidi_controls
from paperwire.digest.tokens import PaperAction, TokenError, check_paper_action
from paperwire.models import (
    ApiToken,
    Collection,
    CollectionEntry,
    Paper,
    ReaderSignals,
    User,
    canonical_arxiv_id,
    clean_text,
)
from paperwire.names import author_key, has_visible, readable_name
from paperwire.store import Store
from paperwire.store.accounts import AccountStore
from paperwire.store.api_tokens import ApiTokenStore
from paperwire.store.library import ITEM_SORTS, LibraryConflict, LibraryStore, name_key

if TYPE_CHECKING:
    from paperwire.digest.digests import Digests
    from paperwire.digest.runner import SearchFn

DEFAULT_COLLECTION = "Saved"
MAX_NAME = 100
MAX_NOTE = 5000
MAX_AUTHOR = 200
MAX_COLLECTIONS = 200
MAX_TOKENS = 20
TOKEN_PREFIX = "pw_"
FOLLOWED_DAYS = (7, 30, 90, 365)
RATINGS = {"up": 1, "down": -1, "none": 0}
_NOT_IN_PHRASE = re.compile(r'["\\]')

__all__ = [
    "DEFAULT_COLLECTION",
    "ITEM_SORTS",
    "AddReport",
    "Library",
    "LibraryConflict",
    "LibraryError",
    "LibraryMarks",
    "NotFound",
]


class LibraryError(ValueError):
    """Input the library cannot take; the message says what to fix."""


class NotFound(LookupError):
    """No such paper, or no such collection/token *of this reader*."""


@dataclass(slots=True)
class AddReport:
    """What add_to_collection did: papers added, already there, and ids not stored here."""

    collection: Collection
    added: int = 0
    already: int = 0
    missing: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LibraryMarks:
    """A reader's state for the papers of one list: what buttons show as pressed."""

    saved: dict[str, list[int]] = field(default_factory=dict)  # arxiv_id -> collection ids
    ratings: dict[str, int] = field(default_factory=dict)  # arxiv_id -> +1 / -1
    followed: set[str] = field(default_factory=set)  # normalised author names

    def follows(self, name: str) -> bool:
        return author_key(name) in self.followed


def without_dismissed(papers: list[Paper], ratings: dict[str, int]) -> tuple[list[Paper], int]:
    """`papers` less those rated -1 ("not interested"), and how many were left out."""
    kept = [p for p in papers if ratings.get(p.arxiv_id, 0) >= 0]
    return kept, len(papers) - len(kept)


def clean_name(
    raw: str,
    what: str = "collection name",
    limit: int = MAX_NAME,
    key: Callable[[str], str] = name_key,
) -> str:
    """`raw` with spaces folded, bidi controls removed and in NFC (as it looks, one way),
    checked: something visible left once format characters (zero-width spaces, …) are
    set aside, and neither it nor the `key` it is stored and compared by longer than
    `limit` (case and Unicode folding can lengthen a name: "Straße" is keyed "strasse")."""
    text = without_bidi_controls(clean_text(str(raw)))
    name = unicodedata.normalize("NFC", " ".join(text.split()))
    if not name:
        raise LibraryError(f"the {what} is empty")
    if not has_visible(name):
        raise LibraryError(f"the {what} has no visible characters")
    if len(name) > limit:
        raise LibraryError(f"the {what} is {len(name):,} characters; the limit is {limit}")
    keyed = len(key(name))
    if keyed > limit:
        wide = next((c for c in name if len(key(c)) > 1), name[-1])  # never StopIteration
        raise LibraryError(
            f"the {what} is too long: it has {len(name):,} characters, but some count as "
            f"several (such as {wide!r}, compared as {key(wide)!r}), making {keyed:,} of "
            f"the {limit} allowed"
        )
    return name


def clean_author(raw: str) -> str:
    """A followed author's name as stored: readable (LaTeX as Unicode, invisible
    characters dropped, see names.readable_name), checked as clean_name checks names
    against the key it is compared by (names.author_key)."""
    return clean_name(readable_name(clean_text(str(raw))), "author name", MAX_AUTHOR, author_key)


def clean_note(raw: str) -> str:
    """A note as stored: "" (no note) when nothing of it shows, whitespace or invisible
    characters alone (zero-width spaces, bidi controls: names.has_visible)."""
    note = clean_text(str(raw)).replace("\r\n", "\n").strip()
    if not has_visible(note):
        return ""
    if len(note) > MAX_NOTE:
        raise LibraryError(f"a note may be at most {MAX_NOTE} characters")
    return note


def canonical(raw: str) -> str:
    """`2503.01234v2`, `arXiv:2503.01234`, an abs URL, `10.48550/arXiv.2503.01234` ->
    `2503.01234` (models.read_arxiv_id); else stripped but unchanged."""
    return canonical_arxiv_id(raw)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Library:
    """One reader's library operations; every call names the reader (`user`/`user_id`)."""

    def __init__(
        self, papers: Store, accounts: AccountStore, search: SearchFn, digests: Digests
    ) -> None:
        self.papers = papers
        self.accounts = accounts
        self.search = search
        self.digests = digests
        self.store = LibraryStore(papers.engine)
        self.api_tokens = ApiTokenStore(papers.engine)

    # -- papers --------------------------------------------------------------------

    def paper(self, arxiv_id: str) -> Paper:
        """The stored, live paper with this id (any arXiv id form); NotFound otherwise."""
        paper = self.papers.get_paper(canonical(arxiv_id))
        if paper is None or paper.deleted:
            raise NotFound(f"there is no paper {arxiv_id!r} here")
        return paper

    # -- collections -----------------------------------------------------------------

    def collections(self, user_id: int) -> list[Collection]:
        """The reader's collections; "Saved" exists from the first look on."""
        found = self.store.list_collections(user_id)
        if not found:
            self.store.ensure_collection(user_id, DEFAULT_COLLECTION)
            found = self.store.list_collections(user_id)
        return found

    def collection(self, user_id: int, collection_id: int) -> Collection:
        found = self.store.get_collection(user_id, collection_id)
        if found is None:
            raise NotFound("you have no collection with that id")
        return found

    def find_collection(self, user_id: int, name: str) -> Collection | None:
        """The reader's collection of that name (compared as names are), or None."""
        return self.store.find_collection(user_id, clean_name(name))

    def create_collection(self, user_id: int, name: str) -> Collection:
        name = clean_name(name)
        if len(self.store.list_collections(user_id)) >= MAX_COLLECTIONS:
            raise LibraryError(f"at most {MAX_COLLECTIONS} collections per reader")
        return self.store.create_collection(user_id, name)

    def rename_collection(self, user_id: int, collection_id: int, name: str) -> Collection:
        if not self.store.rename_collection(user_id, collection_id, clean_name(name)):
            raise NotFound("you have no collection with that id")
        return self.collection(user_id, collection_id)

    def delete_collection(self, user_id: int, collection_id: int) -> None:
        if not self.store.delete_collection(user_id, collection_id):
            raise NotFound("you have no collection with that id")

    def collection_papers(
        self,
        user_id: int,
        collection_id: int,
        sort: str = "added",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[tuple[CollectionEntry, Paper | None]]:
        """The collection's entries in `sort` order (added | date | title), each with its
        paper (None if the paper has since been withdrawn from the store); `limit` of
        them from `offset` (all by default)."""
        if sort not in ITEM_SORTS:
            raise LibraryError(f"sort must be one of {', '.join(ITEM_SORTS)}")
        self.collection(user_id, collection_id)
        entries = self.store.items(user_id, collection_id, sort, limit, offset)
        found = self.papers.get_papers([e.arxiv_id for e in entries])
        return [(e, found.get(e.arxiv_id)) for e in entries]

    def add_to_collection(
        self, user_id: int, collection: str | int, arxiv_ids: Sequence[str], note: str = ""
    ) -> AddReport:
        """Add papers to a collection, by id (must be the reader's) or by name (made if
        missing). Ids are canonicalised; ids of papers not stored here are reported in
        `missing` and skipped. For importers: call it once per batch."""
        if isinstance(collection, int):
            target = self.collection(user_id, collection)
        else:
            target = self.store.ensure_collection(user_id, clean_name(collection))
        wanted = list(dict.fromkeys(canonical(i) for i in arxiv_ids if str(i).strip()))
        stored = self.papers.get_papers(wanted)
        present = [i for i in wanted if i in stored and not stored[i].deleted]
        counts = self.store.add_items(user_id, target.id, present, clean_note(note))
        if counts is None:
            raise NotFound("you have no collection with that id")
        fresh = self.store.get_collection(user_id, target.id) or target
        missing = [i for i in wanted if i not in present]
        return AddReport(fresh, counts[0], counts[1], missing)

    def save(
        self,
        user_id: int,
        arxiv_id: str,
        collection_id: int | None = None,
        new_collection: str = "",
        note: str = "",
    ) -> tuple[Collection, Paper]:
        """Save a paper: into a new collection when `new_collection` is given, else into
        `collection_id`, else into "Saved"."""
        paper = self.paper(arxiv_id)
        if new_collection.strip():
            name = clean_name(new_collection)
            target = self.store.find_collection(user_id, name) or self.create_collection(
                user_id, name
            )
        elif collection_id is not None:
            target = self.collection(user_id, collection_id)
        else:
            target = self.store.ensure_collection(user_id, DEFAULT_COLLECTION)
        report = self.add_to_collection(user_id, target.id, [paper.arxiv_id], note)
        return report.collection, paper

    def unsave(self, user_id: int, arxiv_id: str, collection_id: int | None = None) -> int:
        """Remove a paper from one collection, or from all of them; how many it left."""
        arxiv_id = canonical(arxiv_id)
        if collection_id is not None:
            self.collection(user_id, collection_id)
            return int(self.store.remove_item(user_id, collection_id, arxiv_id))
        holders = self.store.saved_in(user_id, [arxiv_id]).get(arxiv_id, [])
        return sum(int(self.store.remove_item(user_id, c, arxiv_id)) for c in holders)

    def remove_item(self, user_id: int, collection_id: int, arxiv_id: str) -> None:
        self.collection(user_id, collection_id)
        if not self.store.remove_item(user_id, collection_id, canonical(arxiv_id)):
            raise NotFound(f"{arxiv_id!r} is not in this collection")

    def put_item(
        self, user_id: int, collection_id: int, arxiv_id: str, note: str | None = None
    ) -> tuple[Paper, CollectionEntry]:
        """Idempotent add of one stored paper, setting its note when one is given, in one
        transaction: the paper and its row as stored, whatever else runs meanwhile."""
        paper = self.paper(arxiv_id)
        clean = None if note is None else clean_note(note)
        entry = self.store.put_item(user_id, collection_id, paper.arxiv_id, clean)
        if entry is None:
            raise NotFound("you have no collection with that id")
        return paper, entry

    def set_note(self, user_id: int, collection_id: int, arxiv_id: str, note: str) -> None:
        self.collection(user_id, collection_id)
        if not self.store.set_note(user_id, collection_id, canonical(arxiv_id), clean_note(note)):
            raise NotFound(f"{arxiv_id!r} is not in this collection")

    # -- thumbs up / down --------------------------------------------------------------

    def rate(self, user_id: int, arxiv_id: str, rating: str) -> Paper:
        """Thumbs "up", "down" ("not interested": hidden from this reader's lists) or
        "none" (take it back)."""
        if rating not in RATINGS:
            raise LibraryError("rating must be up, down or none")
        paper = self.paper(arxiv_id)
        self.store.set_rating(user_id, paper.arxiv_id, RATINGS[rating])
        return paper

    def ratings(self, user_id: int) -> dict[str, int]:
        return self.store.ratings_of(user_id)

    def marks(self, user_id: int | None, papers: Sequence[Paper]) -> LibraryMarks:
        """Saved/rated/followed state of these papers for a reader (empty when signed out)."""
        if user_id is None:
            return LibraryMarks()
        ids = [p.arxiv_id for p in papers]
        return LibraryMarks(
            saved=self.store.saved_in(user_id, ids),
            ratings=self.store.ratings_of(user_id, ids),
            followed={author_key(n) for n in self.store.follows(user_id)},
        )

    def visible(self, user: User | None, papers: list[Paper]) -> tuple[list[Paper], int]:
        """`papers` without those the reader marked "not interested", and how many went."""
        if user is None or not papers:
            return papers, 0
        return without_dismissed(
            papers, self.store.ratings_of(user.id, [p.arxiv_id for p in papers])
        )

    # -- followed authors -----------------------------------------------------------------

    def follows(self, user_id: int) -> list[str]:
        return self.store.follows(user_id)

    def follow(self, user_id: int, name: str) -> bool:
        return self.store.follow(user_id, clean_author(name))

    def unfollow(self, user_id: int, name: str) -> bool:
        return self.store.unfollow(user_id, clean_author(name))

    def followed_papers(
        self, user: User, days: int = 30, per_author: int = 50
    ) -> list[tuple[str, list[Paper]]]:
        """For each followed name, its papers listed in the last `days` days (to the newest
        listing day), newest first. A paper counts when one of its authors has exactly
        this name once case, accents, dots and spacing are ignored: namesakes are not told
        apart, and a name spelt differently (initials) is not matched."""
        latest = self.papers.latest_listing_date() or datetime.now(UTC).date()
        since = latest - timedelta(days=days - 1)
        hidden = {i for i, r in self.store.ratings_of(user.id).items() if r < 0}
        out: list[tuple[str, list[Paper]]] = []
        for name in self.store.follows(user.id):
            key = author_key(name)
            # the key as the phrase: no LaTeX left in it; quotes and backslashes (which
            # would end the phrase or start LaTeX) as the spaces the index splits on
            phrase = " ".join(_NOT_IN_PHRASE.sub(" ", key).split())
            query = f'au:"{phrase}" since:{since.isoformat()}'
            try:
                hits = self.search(query, sort="date", page=1, per_page=per_author, mode="lexical")
            except ValueError:
                out.append((name, []))
                continue
            papers = [
                h.paper
                for h in hits.hits
                if h.paper.arxiv_id not in hidden
                and any(author_key(a.name) == key for a in h.paper.authors)
            ]
            out.append((name, papers))
        return out

    # -- API tokens ---------------------------------------------------------------------------

    def create_token(self, user_id: int, name: str) -> tuple[ApiToken, str]:
        """A new API token: (its listing, the secret, shown to the reader once)."""
        label = clean_name(name or "API token", "token name", key=str)
        if len(self.api_tokens.tokens(user_id)) >= MAX_TOKENS:
            raise LibraryError(f"at most {MAX_TOKENS} API tokens; revoke one first")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.api_tokens.add_token(user_id, label, secret[:10], _token_hash(secret))
        return token, secret

    def tokens(self, user_id: int) -> list[ApiToken]:
        return self.api_tokens.tokens(user_id)

    def revoke_token(self, user_id: int, token_id: int) -> None:
        if not self.api_tokens.revoke_token(user_id, token_id):
            raise NotFound("you have no live API token with that id")

    def token_user(self, secret: str) -> User | None:
        """The reader an API token belongs to; None if unknown or revoked."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        return self.api_tokens.token_user(_token_hash(secret))

    # -- signals and email links ------------------------------------------------------------

    def reader_signals(self, user_id: int) -> ReaderSignals:
        return self.store.reader_signals(user_id)

    def email_action_owner(self, token: str) -> tuple[PaperAction, Paper]:
        """What a digest link asks for, and its paper; LibraryError (expired, altered, or
        for a subscription that is gone) or NotFound (no such paper) otherwise."""
        digest = self.digests
        try:
            wanted = check_paper_action(digest.key, token, digest.store.get)
        except TokenError as exc:
            raise LibraryError(str(exc)) from None
        return wanted, self.paper(wanted.arxiv_id)

    def apply_email_action(self, token: str) -> tuple[PaperAction, Paper]:
        """Do what a digest link says, for the account with the subscriber's address
        (made if it has none: the subscriber has shown they own the address)."""
        wanted, paper = self.email_action_owner(token)
        user = self.accounts.get_or_create_user(wanted.email)
        if wanted.action == "save":
            self.save(user.id, paper.arxiv_id)
        else:
            self.store.set_rating(user.id, paper.arxiv_id, 1 if wanted.action == "like" else -1)
        return wanted, paper
