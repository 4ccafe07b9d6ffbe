"""integrate: one feed secret per reader, for the secret URLs of collection and "For you"
feeds (rotating it stops every old feed URL of that reader).

Revision ID: 0009_integrate
Revises: 0007_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_integrate"
down_revision = "0007_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_secrets",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_secrets")
