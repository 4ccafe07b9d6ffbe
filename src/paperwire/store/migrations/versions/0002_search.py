"""search: embeddings and index state (filled by the search issue)

Revision ID: 0002_search
Revises: 0001_core
"""

from __future__ import annotations

revision = "0002_search"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
