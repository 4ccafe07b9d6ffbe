"""Telling a database that cannot be reached (stopped, restarting, dropped, refusing
connections) or that refuses this role from a bug: the web answers the first with 503 and
one log line, the CLI with one line saying what to do (never the rows it was writing).
Also the short reason an ingest run keeps for the error that ended it."""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for "permission denied"
RESUMES = "the batches committed before it are kept and re-running the command resumes"
REASON_LIMIT = 300  # characters of a failed run's reason


def _first_line(exc: StatementError) -> str:
    first = str(exc.orig or exc).strip().splitlines()
    return first[0] if first else type(exc).__name__


def failure_reason(exc: BaseException) -> str:
    """The reason a run that `exc` ended keeps (and `stats` shows): its type and the first
    line of its message; for a database statement the driver's own message, never
    SQLAlchemy's text after it (the statement and `[parameters: …]`: the rows being
    written). One line of at most REASON_LIMIT characters."""
    if isinstance(exc, StatementError):
        said = _first_line(exc)
    else:
        lines = str(exc).strip().splitlines()
        said = lines[0] if lines else ""
    reason = " ".join(f"{type(exc).__name__}: {said}".split())
    return reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 1] + "…"


def database_unavailable(exc: BaseException) -> str | None:
    """The driver's first line when `exc` says the database cannot be used right now (an
    OperationalError, or a connection it invalidated); None for anything else."""
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return _first_line(exc)
    return None


def privilege_missing(exc: BaseException, role: str | None = None) -> str | None:
    """What to grant when PostgreSQL refused `exc`'s statement for want of a privilege
    (SQLSTATE 42501); None for anything else."""
    if not isinstance(exc, DBAPIError):
        return None
    if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
        return None
    reason = _first_line(exc)
    who = role or "<role>"
    verb = (exc.statement or "").split(maxsplit=1)[0].upper() if exc.statement else "USE"
    table = re.search(r"permission denied for (?:table|relation) (\S+)", reason)
    sequence = re.search(r"permission denied for sequence (\S+)", reason)
    if table:
        grant = f"GRANT {verb} ON TABLE {table.group(1)} TO {who}"
    elif sequence:
        grant = f"GRANT USAGE, SELECT ON SEQUENCE {sequence.group(1)} TO {who}"
    elif "for schema" in reason:
        grant = f"GRANT USAGE, CREATE ON SCHEMA public TO {who}"
    else:
        grant = f"GRANT the privileges paperwire needs TO {who}"
    return (
        f"the database refused this role ({reason}): missing grant {grant}; paperwire "
        f"needs SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public and USAGE "
        f"ON ALL SEQUENCES IN SCHEMA public (or the role owning the database)"
    )


def database_problem(exc: BaseException) -> str | None:
    """One line for a command that `exc` ended: the database is unavailable (re-running
    resumes) or refuses this role a privilege; None for anything else."""
    unavailable = database_unavailable(exc)
    if unavailable is not None:
        return f"the database is unavailable ({unavailable}); {RESUMES}"
    return privilege_missing(exc)
