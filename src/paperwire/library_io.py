"""A reader's library in and out: importing a library file into a collection, and the
signed secret URLs of a reader's feeds (a collection's, "For you").

Feed readers cannot sign in, so a feed URL carries its own proof:
``{user_id}.{mac}`` with mac = HMAC-SHA256 over (user, feed scope) keyed by the site key
and the reader's own feed secret (stored; rotating it revokes every old URL at once).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from paperwire.library import AddReport
from paperwire.models import Paper, Recommendation
from paperwire.numbers import ascii_int
from paperwire.store.feed_secrets import FeedSecretStore

if TYPE_CHECKING:
    from paperwire.bibliography import LibraryMatch  # the BibTeX parser loads lazily

MAC_CHARS = 32  # 128 bits of HMAC-SHA256, hex


@dataclass(slots=True)
class ImportReport:
    """What importing one file did: how it matched, and what the collection took."""

    match: LibraryMatch
    added: AddReport | None  # None: nothing matched, and the new collection was not made

    def as_dict(self) -> dict[str, Any]:
        if self.added is None:
            return {**self.match.as_dict(), "collection": None, "added": 0, "already": 0}
        collection = self.added.collection
        return {
            **self.match.as_dict(),
            "collection": {"id": collection.id, "name": collection.name, "size": collection.size},
            "added": self.added.added,
            "already": self.added.already,
        }


def collection_scope(collection_id: int) -> str:
    return f"collection:{collection_id}"


FOR_YOU_SCOPE = "for-you"
FOR_YOU_DAYS = (7, 30, 90)


@dataclass(slots=True)
class Recommended:
    """A reader's recommendations for one window, each with its paper."""

    since: date | None
    until: date | None
    items: list[tuple[Recommendation, Paper]]


class FeedTokens:
    """Make and check the tokens of secret feed URLs."""

    def __init__(self, engine: Engine, site_key: str) -> None:
        self.secrets = FeedSecretStore(engine)
        self.site_key = site_key

    def _mac(self, user_id: int, secret: str, scope: str) -> str:
        key = f"{self.site_key}:{secret}".encode()
        message = f"feed:{user_id}:{scope}".encode()
        return hmac.new(key, message, "sha256").hexdigest()[:MAC_CHARS]

    def token(self, user_id: int, scope: str) -> str:
        """The token of this reader's feed `scope` (their feed secret is made if needed)."""
        return f"{user_id}.{self._mac(user_id, self.secrets.ensure(user_id), scope)}"

    def owner(self, token: str, scope: str) -> int | None:
        """The reader whose token this is for `scope`; None if altered, for another feed,
        or signed with a secret since rotated."""
        user_part, _, mac = token.partition(".")
        user_id = ascii_int(user_part)
        if user_id is None or len(mac) != MAC_CHARS:
            return None
        secret = self.secrets.secret(user_id)
        if secret is None:
            return None
        return user_id if hmac.compare_digest(mac, self._mac(user_id, secret, scope)) else None

    def rotate(self, user_id: int) -> None:
        """Every feed URL of this reader stops working; new ones are made on the next look."""
        self.secrets.rotate(user_id)
