"""Table definitions (SQLAlchemy Core). Alembic migrations create them; queries use them."""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.models import MAX_CATEGORY, MAX_DOI, MAX_LICENSE

metadata = sa.MetaData()

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
    sa.Column("authors", sa.JSON, nullable=False),  # [{"name": ..., "affiliation": ...}]
    sa.Column("categories", sa.JSON, nullable=False),  # primary first
    sa.Column("primary_category", sa.String(MAX_CATEGORY), index=True),
    sa.Column("submitted", sa.Date),
    sa.Column("updated", sa.Date),
    sa.Column("listing_date", sa.Date, index=True),
    sa.Column("comments", sa.Text),
    sa.Column("journal_ref", sa.Text),
    sa.Column("doi", sa.String(MAX_DOI)),
    sa.Column("license", sa.String(MAX_LICENSE)),
    sa.Column("sources", sa.JSON, nullable=False),
    sa.Column("hf_upvotes", sa.Integer),
    sa.Column("hf_comments", sa.Integer),
    sa.Column("hf_github", sa.Text),
    sa.Column("hf_date", sa.Date, index=True),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
# The deleted papers alone (migration 0010_counts): queries use `deleted == true()`.
sa.Index(
    "ix_papers_deleted",
    papers.c.modified_at,
    sqlite_where=papers.c.deleted == sa.true(),
    postgresql_where=papers.c.deleted == sa.true(),
)

rejects = sa.Table(
    "rejects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | ok | failed | interrupted
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("new", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
    sa.Column("deleted", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    # 0006_hardening: the process running it (see paperwire.liveness) and its heartbeat
    sa.Column("owner", sa.String(300)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
)
