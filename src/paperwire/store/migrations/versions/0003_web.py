"""web: accounts, sessions, votes (filled by the web issue)

Revision ID: 0003_web
Revises: 0002_search
"""

from __future__ import annotations

revision = "0003_web"
down_revision = "0002_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
