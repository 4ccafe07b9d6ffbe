"""digest: subscribers, outbox (filled by the digest issue)

Revision ID: 0004_digest
Revises: 0003_web
"""

from __future__ import annotations

revision = "0004_digest"
down_revision = "0003_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
