"""The data directory: made by the commands that add data, refused when missing by the
commands that only read or work over stored data (a mistyped data_dir is not an empty
installation: opening it would create an empty database there, and say nothing)."""

from __future__ import annotations

from pathlib import Path

from paperwire.config import Settings
from paperwire.store import sqlite_file

SET_IT = "set PAPERWIRE_DATA_DIR, --data-dir or data_dir in the --config file (or database_url)"


class DataDirUnusable(RuntimeError):
    """The data_dir setting names a directory that cannot be created; the message says
    which, why, and where the setting comes from."""

    def __init__(self, path: Path, exc: OSError):
        in_the_way = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{in_the_way} is a file" if in_the_way else (exc.strerror or str(exc)).lower()
        super().__init__(
            f"data_dir {path} cannot be created as the data directory: {reason}. Set "
            "PAPERWIRE_DATA_DIR, --data-dir or data_dir in the --config file to a directory "
            "paperwire may create"
        )


class NoDatabase(RuntimeError):
    """A command that needs stored data found no database where the settings point."""


def make_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirUnusable(path, exc) from exc


def missing_database(settings: Settings) -> str | None:
    """Where the settings' SQLite database file is missing, as a phrase ("there is no
    database at FILE (data_dir D, which does not exist)"); None when it is there, and for
    PostgreSQL (an existing, empty database is an installation as it is)."""
    database = sqlite_file(settings.resolved_database_url)
    if database is None or database.exists():
        return None
    data_dir = Path(settings.data_dir)
    state = (
        ""
        if data_dir.is_dir()
        else ", which is a file"
        if data_dir.exists()
        else ", which does not exist"
    )
    where = "database_url" if settings.database_url else f"data_dir {data_dir}{state}"
    return f"there is no database at {database} ({where})"


def refuse_missing_data_dir(settings: Settings) -> None:
    """NoDatabase, saying what to do, when the folder that would hold the settings' SQLite
    database (data_dir, by default) does not exist: opening it would make that folder and
    an empty database. An existing folder without a database is an empty installation."""
    database = sqlite_file(settings.resolved_database_url)
    if database is None or database.exists() or database.parent.is_dir():
        return
    raise NoDatabase(
        f"{missing_database(settings)}; {SET_IT} to your installation, or create one "
        "with `paperwire import FILE` (or harvest, fetch, hf-daily)"
    )
