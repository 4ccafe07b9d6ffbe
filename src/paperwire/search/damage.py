"""A lexical index whose files cannot be read: cut short, deleted or overwritten by
something other than paperwire. The store still holds every paper, so the index can
always be made again (`paperwire index rebuild`). Kept apart from lexical.py so the CLI
and web shells can name the error without loading tantivy."""

from __future__ import annotations

REBUILD_HINT = "run `paperwire index rebuild` to make it again from the database"

# What tantivy's errors say when an index file is unreadable (it raises ValueError).
_MARKERS = ("data corrupt", "failed to open file", "footer magic", "meta file cannot")


class IndexDamaged(RuntimeError):
    """The search index cannot be read; the message says what to run."""


def is_damage(exc: BaseException) -> bool:
    """Whether a tantivy error says that index files are unreadable."""
    return isinstance(exc, ValueError) and any(m in str(exc).lower() for m in _MARKERS)
