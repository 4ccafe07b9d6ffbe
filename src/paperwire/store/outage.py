"""Telling a database that cannot be reached (stopped, restarting, dropped, refusing
connections) from a bug: the web answers the first with 503 and one log line."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError


def database_unavailable(exc: BaseException) -> str | None:
    """The driver's first line when `exc` says the database cannot be used right now (an
    OperationalError, or a connection it invalidated); None for anything else."""
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        first = str(exc.orig or exc).strip().splitlines()
        return first[0] if first else type(exc).__name__
    return None
