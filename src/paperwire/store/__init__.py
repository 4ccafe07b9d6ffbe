"""The only package that talks to the database. ``open_store(url)`` gives a Store."""

from __future__ import annotations

from paperwire.store.base import Store, StoreError, open_store

__all__ = ["Store", "StoreError", "open_store"]
