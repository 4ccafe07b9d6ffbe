"""collection ids: on SQLite, collections get AUTOINCREMENT, so a deleted collection's id is
never handed out again. Without it SQLite reuses the highest id: a reader who deleted
collection 8 and made another got 8 again, and the old collection's secret feed URL, its
bookmarks and API clients' ids pointed at the new one. (PostgreSQL's sequence never reuses.)

SQLite cannot add AUTOINCREMENT in place. Dropping `collections` while `collection_items`
refers to it would delete every item (ON DELETE CASCADE runs on the implicit delete of a
DROP, and foreign keys cannot be switched off inside a transaction), so both tables are
copied to new ones, the old child is dropped before the old parent, and the renames point
the child's foreign key at the new parent (SQLite >= 3.26 rewrites references on rename).

Revision ID: 0011_collection_ids
Revises: 0010_counts
"""

from __future__ import annotations

from alembic import op

revision = "0011_collection_ids"
down_revision = "0010_counts"
branch_labels = None
depends_on = None

_COLLECTIONS = """
CREATE TABLE collections_new (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    name VARCHAR(100) NOT NULL,
    name_key VARCHAR(100) NOT NULL,
    created_at DATETIME NOT NULL,
    CONSTRAINT uq_collections_user_name UNIQUE (user_id, name_key),
    FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)"""

_ITEMS = """
CREATE TABLE collection_items_new (
    collection_id INTEGER NOT NULL,
    arxiv_id VARCHAR(64) NOT NULL,
    added_at DATETIME NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (collection_id, arxiv_id),
    FOREIGN KEY(collection_id) REFERENCES collections_new (id) ON DELETE CASCADE
)"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in (
        _COLLECTIONS,
        "INSERT INTO collections_new (id, user_id, name, name_key, created_at) "
        "SELECT id, user_id, name, name_key, created_at FROM collections",
        _ITEMS,
        "INSERT INTO collection_items_new (collection_id, arxiv_id, added_at, note) "
        "SELECT collection_id, arxiv_id, added_at, note FROM collection_items",
        "DROP TABLE collection_items",
        "DROP TABLE collections",
        "ALTER TABLE collections_new RENAME TO collections",
        "ALTER TABLE collection_items_new RENAME TO collection_items",
    ):
        op.execute(statement)


def downgrade() -> None:
    """Nothing to undo: AUTOINCREMENT only stops ids being reused."""
