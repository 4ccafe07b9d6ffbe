"""The only package that talks to the database. ``open_store(url)`` gives a Store."""

from __future__ import annotations

from paperwire.store.base import (
    CheckpointHeld,
    Store,
    StoreError,
    WriteRefused,
    open_store,
    sqlite_file,
    write_refused,
)

__all__ = [
    "CheckpointHeld",
    "Store",
    "StoreError",
    "WriteRefused",
    "open_store",
    "sqlite_file",
    "write_refused",
]
