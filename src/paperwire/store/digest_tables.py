"""Digest tables: subscribers, papers sent to each, and the delivery outbox."""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.store.schema import metadata

TZ = sa.DateTime(timezone=True)

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # lower-cased
    sa.Column("status", sa.String(16), nullable=False),  # pending | active | unsubscribed
    sa.Column("frequency", sa.String(8), nullable=False),  # daily | weekly
    sa.Column("send_time", sa.String(5), nullable=False),  # local HH:MM
    sa.Column("timezone", sa.String(64), nullable=False),  # IANA name
    sa.Column("weekday", sa.Integer, nullable=False),  # 0 = Monday, for weekly
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("saved_searches", sa.JSON, nullable=False),
    sa.Column("followed_authors", sa.JSON, nullable=False),
    sa.Column("max_papers", sa.Integer, nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("confirmed_at", TZ),
    sa.Column("unsubscribed_at", TZ),
    sa.Column("last_notice_at", TZ),  # last confirmation/reminder email (anti mail-bombing)
)

sent_papers = sa.Table(
    "digest_sent_papers",
    metadata,
    sa.Column("subscriber_id", sa.Integer, primary_key=True),
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    sa.Column("outbox_id", sa.Integer, nullable=False, index=True),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Index("ix_digest_sent_papers_sub_end", "subscriber_id", "period_end"),
)

outbox = sa.Table(
    "digest_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber_id", sa.Integer, nullable=False),
    sa.Column("period", sa.String(32), nullable=False),  # daily:YYYY-MM-DD | weekly:YYYY-MM-DD
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
    sa.Column("handed_at", TZ),  # set just before the final "." of the current attempt
    sa.Column("last_reply", sa.Text),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("sent_at", TZ),
    sa.UniqueConstraint("subscriber_id", "period", name="uq_digest_outbox_subscriber_period"),
    sa.Index("ix_digest_outbox_status", "status", "next_attempt_at"),
)
