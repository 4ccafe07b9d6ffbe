"""One mailbox under its ``+tag`` spellings, as a SQL condition (addresses.mailbox_variants):
the per-address mail limits count every spelling that reaches the same inbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from paperwire.addresses import mailbox_variants


def same_mailbox(column: sa.ColumnElement[Any], address: str) -> sa.ColumnElement[bool]:
    """`column` holds `address`, its ``+tag``-less form or another ``+tag`` of it."""
    base, variants = mailbox_variants(address)
    return sa.or_(column == base, column.like(variants, escape="\\"))
