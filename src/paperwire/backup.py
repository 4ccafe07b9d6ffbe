"""Backup and restore of a paperwire installation's state: the database (every table:
papers, accounts, votes, subscribers, outbox, checkpoints), the secret key that signs
sessions and emailed links, and a manifest. Search indexes are not copied: they are
derived from the database and rebuilt on restore (vectors from the stored embeddings).

A backup is taken online (``serve``, imports and digests may keep running) and is one
consistent snapshot: see store/backup.py. It is written to a hidden sibling folder and
renamed into place when complete, so PATH is either a whole backup or absent.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from paperwire.config import Settings
from paperwire.store import backup as db_backup
from paperwire.store import open_store

MANIFEST = "manifest.json"
SECRET_FILE = "secret_key"
FORMAT = 1


class BackupError(RuntimeError):
    """A backup or restore cannot go ahead; the message says why and what to do."""


@dataclass(slots=True)
class BackupReport:
    path: Path
    database: str  # sqlite | postgresql
    size_bytes: int
    fingerprint: dict[str, str]
    secret_key: bool  # the generated secret key was copied
    notes: list[str] = field(default_factory=list)


def _secret_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / SECRET_FILE


def create_backup(settings: Settings, target: Path) -> BackupReport:
    """Back up the installation of `settings` into the new folder `target`."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} already exists and is not empty; choose a new folder")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    store = open_store(settings.resolved_database_url)
    try:
        database, prints = db_backup.backup_database(store, partial)
        dialect = store.dialect
    finally:
        store.close()
    notes = []
    secret = _secret_file(settings)
    if secret.exists():
        shutil.copy2(secret, partial / SECRET_FILE)
        (partial / SECRET_FILE).chmod(0o600)
    elif settings.secret_key:
        notes.append("the secret key comes from your settings; keep it with this backup")
    manifest = {
        "format": FORMAT,
        "paperwire": version("paperwire"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": dialect,
        "database_file": database.name,
        "secret_key": (partial / SECRET_FILE).exists(),
        "fingerprint": prints,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        target.rmdir()
    partial.rename(target)
    size = sum(p.stat().st_size for p in target.iterdir())
    return BackupReport(target, dialect, size, prints, bool(manifest["secret_key"]), notes)


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a paperwire backup (no readable {MANIFEST})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}")
    return manifest


def _refuse_non_empty(settings: Settings, counts: dict[str, int], secret_key: bool) -> None:
    filled = {name: n for name, n in counts.items() if n and name != "alembic_version"}
    if secret_key and _secret_file(settings).exists():
        filled["secret_key file"] = 1
    if filled:
        listed = ", ".join(f"{name} ({n:,})" for name, n in sorted(filled.items()))
        raise BackupError(
            f"the target is not empty: {listed}. Restoring replaces all of it; "
            "run again with --force to do so"
        )


Rebuild = Callable[[Settings], int]  # rebuilds the search index; returns papers indexed


def restore_backup(
    settings: Settings, source: Path, *, force: bool, rebuild_index: Rebuild
) -> BackupReport:
    """Put the backup in `source` in place of the installation of `settings` (stop `serve`
    first). Refuses a non-empty target unless `force`. Checks the restored database
    against the backup's fingerprint."""
    manifest = read_manifest(source)
    store = open_store(settings.resolved_database_url)
    try:
        if store.dialect != manifest["database"]:
            raise BackupError(
                f"{source} is a {manifest['database']} backup; the target database is "
                f"{store.dialect}"
            )
        if not force:
            _refuse_non_empty(settings, db_backup.row_counts(store), manifest["secret_key"])
        db_backup.restore_database(store, source)
    finally:
        store.close()
    store = open_store(settings.resolved_database_url)  # also migrates an older backup
    try:
        restored = db_backup.fingerprint(store)
    finally:
        store.close()
    if restored != manifest["fingerprint"]:
        raise BackupError(f"restored database differs from the backup: {restored}")
    if manifest["secret_key"]:
        _put_secret(settings, source / SECRET_FILE)
    shutil.rmtree(Path(settings.data_dir) / "index", ignore_errors=True)
    notes = [f"search index rebuilt: {rebuild_index(settings):,} papers"]
    size = sum(p.stat().st_size for p in source.iterdir())
    return BackupReport(source, store.dialect, size, restored, manifest["secret_key"], notes)


def _put_secret(settings: Settings, copy: Path) -> None:
    target = _secret_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{SECRET_FILE}.restore-{os.getpid()}")
    shutil.copyfile(copy, temp)
    temp.chmod(0o600)
    temp.replace(target)
