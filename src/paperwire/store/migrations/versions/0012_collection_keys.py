"""collection keys: a collection's `name_key` is its name NFKC-normalised and case-folded
(store/library.py name_key), no longer only case-folded, and names are stored in NFC. Before
it "Café" typed with é and with e + a combining accent were two collections that look
the same, and a lookup by a name typed the other way found nothing.

Every row is keyed again by the new rule (written out here: this migration must keep
meaning what it meant when it ran). Should two collections of one reader now share a key,
the later one is renamed "name (2)", "name (3)" … so that none is lost.

Revision ID: 0012_collection_keys
Revises: 0011_collection_ids
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0012_collection_keys"
down_revision = "0011_collection_ids"
branch_labels = None
depends_on = None

_WIDTH = 100  # collections.name and collections.name_key are VARCHAR(100)


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", " ".join(name.split())).casefold()
    return unicodedata.normalize("NFKC", folded)[:_WIDTH]


def _free_name(name: str, user_id: int, taken: set[tuple[int, str]]) -> str:
    """`name`, or `name (n)` with the first n whose key no other collection holds."""
    candidate, number = name, 1
    while (user_id, _key(candidate)) in taken:
        number += 1
        suffix = f" ({number})"
        candidate = name[: _WIDTH - len(suffix)] + suffix
    return candidate


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, user_id, name, name_key FROM collections ORDER BY id")
    ).all()
    taken: set[tuple[int, str]] = set()
    changes: list[dict[str, object]] = []
    for row in rows:
        name = _free_name(unicodedata.normalize("NFC", row.name), row.user_id, taken)
        key = _key(name)
        taken.add((row.user_id, key))
        if (name, key) != (row.name, row.name_key):
            changes.append({"id": row.id, "name": name, "key": key})
    # keys move one at a time: park the changed rows on unique placeholders first, so no
    # row ever collides with a key another row is about to give up
    for change in changes:
        conn.execute(
            sa.text("UPDATE collections SET name_key = :park WHERE id = :id"),
            {"park": f"\x01{change['id']}", "id": change["id"]},
        )
    for change in changes:
        conn.execute(
            sa.text("UPDATE collections SET name = :name, name_key = :key WHERE id = :id"),
            change,
        )


def downgrade() -> None:
    """Keys by the older rule (case folding only); names stay as upgrade left them."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, name FROM collections")).all()
    for row in rows:
        conn.execute(
            sa.text("UPDATE collections SET name_key = :key WHERE id = :id"),
            {"key": " ".join(row.name.split()).casefold()[:_WIDTH], "id": row.id},
        )
