"""digest: subscribers, sent papers, outbox

Revision ID: 0004_digest
Revises: 0003_web
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_digest"
down_revision = "0003_web"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("send_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("saved_searches", sa.JSON, nullable=False),
        sa.Column("followed_authors", sa.JSON, nullable=False),
        sa.Column("max_papers", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("confirmed_at", TZ),
        sa.Column("unsubscribed_at", TZ),
        sa.Column("last_notice_at", TZ),
    )
    op.create_table(
        "digest_sent_papers",
        sa.Column("subscriber_id", sa.Integer, primary_key=True),
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
    )
    op.create_index("ix_digest_sent_papers_outbox_id", "digest_sent_papers", ["outbox_id"])
    op.create_index(
        "ix_digest_sent_papers_sub_end", "digest_sent_papers", ["subscriber_id", "period_end"]
    )
    op.create_table(
        "digest_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text_body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("paper_count", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ),
        sa.Column("lease_until", TZ),
        sa.Column("handed_at", TZ),
        sa.Column("last_reply", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
        sa.UniqueConstraint("subscriber_id", "period", name="uq_digest_outbox_subscriber_period"),
    )
    op.create_index("ix_digest_outbox_status", "digest_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("digest_outbox", "digest_sent_papers", "subscribers"):
        op.drop_table(table)
