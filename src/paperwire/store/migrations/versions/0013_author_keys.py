"""author keys: a followed author's `name_key` is names.author_key(name) (LaTeX read as
Unicode, invisible characters dropped, accents, case, dots and spacing folded), no longer
the name with accents and case folded only, and the name is kept readable
(names.readable_name). Before it ``T\\"ornberg`` was keyed ``t"ornberg``: following it
matched no paper, and following "Törnberg" too made two follows of one person.

Every row is keyed again. When two follows of one reader now share a key, the one followed
first is kept. Unlike 0012 the rule is imported, not written out: it is paperwire.latex's
reading of LaTeX, too big to copy; a later change to that reading keys rows the way the
code of that later release compares them, which is what this migration is for.

Revision ID: 0013_author_keys
Revises: 0012_collection_keys
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

from paperwire.names import author_key, readable_name

revision = "0013_author_keys"
down_revision = "0012_collection_keys"
branch_labels = None
depends_on = None

_WIDTH = 200  # author_follows.name and author_follows.name_key are VARCHAR(200)


def _move(conn: sa.Connection, changes: list[dict[str, object]]) -> None:
    """Give each changed row (user, old key) its new name and key, or delete it (drop).
    The rows are parked on unique placeholder keys first, so that no row ever takes a
    key another row is about to give up."""
    for n, change in enumerate(changes):
        change["park"] = f"\x01{n}"
        conn.execute(
            sa.text(
                "UPDATE author_follows SET name_key = :park WHERE user_id = :user AND name_key = :old"
            ),
            change,
        )
    for change in changes:
        if change["drop"]:
            statement = "DELETE FROM author_follows WHERE user_id = :user AND name_key = :park"
        else:
            statement = (
                "UPDATE author_follows SET name = :name, name_key = :key "
                "WHERE user_id = :user AND name_key = :park"
            )
        conn.execute(sa.text(statement), change)


def _rows(conn: sa.Connection) -> list[tuple[int, str, str]]:
    """(user id, name, key) of every follow, each reader's in the order followed."""
    query = "SELECT user_id, name, name_key FROM author_follows ORDER BY user_id, followed_at"
    return [(int(r[0]), str(r[1]), str(r[2])) for r in conn.execute(sa.text(query))]


def upgrade() -> None:
    conn = op.get_bind()
    kept: set[tuple[int, str]] = set()
    changes: list[dict[str, object]] = []
    for user, old_name, old_key in _rows(conn):
        name = (readable_name(old_name) or old_name)[:_WIDTH]
        key = (author_key(name) or old_key)[:_WIDTH]
        clash = (user, key) in kept
        kept.add((user, key))
        if clash or (name, key) != (old_name, old_key):
            changes.append({"user": user, "old": old_key, "name": name, "key": key, "drop": clash})
    _move(conn, changes)


def _older_key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace(".", " ")
    return " ".join(text.split())[:_WIDTH]


def downgrade() -> None:
    """Keys by the older rule; names stay as upgrade left them. (No two rows of a reader
    share an older key: names the older rule takes as one, this one takes as one too.)"""
    conn = op.get_bind()
    changes: list[dict[str, object]] = [
        {"user": user, "old": key, "name": name, "key": _older_key(name), "drop": False}
        for user, name, key in _rows(conn)
    ]
    _move(conn, changes)
