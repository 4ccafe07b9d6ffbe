"""Backup and restore of a paperwire installation's state: the database (every table:
papers, accounts, votes, subscribers, outbox, checkpoints), the secret key that signs
sessions and emailed links, and a manifest. Search indexes are not copied: they are
derived from the database and rebuilt on restore (vectors from the stored embeddings).

A backup is taken online (``serve``, imports and digests may keep running) and is one
consistent snapshot: see store/backup.py. It is written to a hidden sibling folder and
renamed into place when complete, so PATH is either a whole backup or absent.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from paperwire.config import Settings
from paperwire.data_dir import SET_IT, missing_database
from paperwire.store import StoreError, open_store
from paperwire.store import backup as db_backup

MANIFEST = "manifest.json"
SECRET_FILE = "secret_key"
FORMAT = 1
PARTIAL = "partial-"  # .NAME.partial-PID: a backup being written by process PID


class BackupError(RuntimeError):
    """A backup or restore cannot go ahead; the message says why and what to do."""


class RestoreInterrupted(BackupError):
    """Ctrl-C during a restore; the message says what state the target is in."""

    def __init__(self, replaced: bool) -> None:
        self.replaced = replaced
        super().__init__(
            "restore interrupted after the database was replaced: the target holds the "
            "backup's data, but its secret key and search index may still be the old ones; "
            "run the same restore again with --force to finish"
            if replaced
            else "restore interrupted before anything was replaced: the target is as it "
            "was; run the restore again when ready"
        )


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
    """Back up the installation of `settings` into the new folder `target`. On any error
    or Ctrl-C the partial folder is removed; left-overs of dead backups to the same place
    are removed first (named in the notes)."""
    target = _backup_folder(target)
    _refuse_missing_database(settings)
    notes = _remove_stale_partials(target)
    partial = target.with_name(f".{target.name}.{PARTIAL}{os.getpid()}")
    try:
        partial.mkdir(parents=True)
    except OSError as exc:
        raise BackupError(f"cannot write a backup in {target.parent}: {_os_reason(exc)}") from exc
    try:
        report = _write_backup(settings, partial, target)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError):
            raise BackupError(
                f"backup failed: {_os_reason(exc)}; the incomplete copy was removed"
            ) from exc
        if isinstance(exc, StoreError):
            raise BackupError(f"{exc}; the incomplete copy was removed") from exc
        raise
    report.notes[:0] = notes
    return report


def _refuse_missing_database(settings: Settings) -> None:
    """A SQLite database that is not there is a mistyped data_dir, not an empty
    installation: opening it would create it (and the data dir) and back up nothing.
    An existing but empty PostgreSQL database is backed up as it is."""
    missing = missing_database(settings)
    if missing is not None:
        raise BackupError(f"nothing to back up: {missing}; {SET_IT} to the installation to back up")


def _backup_folder(target: Path) -> Path:
    """`target` as an absolute path, checked to be usable as a new backup folder."""
    resolved = target.resolve()
    if not resolved.name or resolved == Path.cwd().resolve():
        raise BackupError(
            f"{str(target)!r} cannot hold a backup: name a new folder, e.g. "
            "paperwire backup backups/2026-12-01"
        )
    if resolved.exists() and (not resolved.is_dir() or any(resolved.iterdir())):
        raise BackupError(f"{target} already exists and is not empty; choose a new folder")
    return resolved


def _remove_stale_partials(target: Path) -> list[str]:
    """Remove the partial folders of earlier backups to `target` whose process is gone
    (killed, or a crash); returns a note for each."""
    notes = []
    for stale in sorted(target.parent.glob(f".{target.name}.{PARTIAL}*")):
        pid = stale.name.rsplit(PARTIAL, 1)[1]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        shutil.rmtree(stale, ignore_errors=True)
        notes.append(f"removed {stale.name}, left by an unfinished backup (pid {pid}, gone)")
    return notes


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return f"the disk is full ({exc.strerror})"
    return exc.strerror or str(exc)


def _write_backup(settings: Settings, partial: Path, target: Path) -> BackupReport:
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
        "database_sha256": _sha256(database),
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
    """The manifest of the backup in `source`, checked for everything a restore uses;
    BackupError saying what is wrong otherwise."""
    path = source / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a paperwire backup (no readable {MANIFEST})") from exc
    if not isinstance(manifest, dict):
        raise BackupError(f"{path} is damaged: not a JSON object; nothing was restored")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}")
    wrong = [key for key, ok in _MANIFEST_CHECKS.items() if not ok(manifest.get(key))]
    if "database_sha256" in manifest and not isinstance(manifest["database_sha256"], str):
        wrong.append("database_sha256")
    if wrong:
        raise BackupError(
            f"{path} is damaged or incomplete ({', '.join(wrong)} missing or wrong); "
            "nothing was restored"
        )
    return manifest


def _is_fingerprint(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(name), str) for name in db_backup.FINGERPRINT_TABLES
    )


_MANIFEST_CHECKS: dict[str, Callable[[object], bool]] = {
    "database": lambda value: value in ("sqlite", "postgresql"),
    "secret_key": lambda value: isinstance(value, bool),
    "fingerprint": _is_fingerprint,
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_files(source: Path, manifest: dict[str, Any]) -> Path:
    """The database copy of the backup in `source`, once every file the manifest names is
    there and the copy is the one the manifest describes; BackupError otherwise."""
    copy = source / db_backup.backup_file(manifest["database"])
    missing = [p.name for p in (copy, source / SECRET_FILE) if not p.is_file()]
    if not manifest["secret_key"] and SECRET_FILE in missing:
        missing.remove(SECRET_FILE)
    if missing:
        raise BackupError(
            f"{source} is incomplete: {', '.join(missing)} missing though {MANIFEST} "
            "lists it; nothing was restored"
        )
    expected = manifest.get("database_sha256")
    if expected is not None and _sha256(copy) != expected:
        raise BackupError(
            f"{copy} is not the file this backup wrote (its checksum differs from "
            f"{MANIFEST}): damaged or changed since; nothing was restored"
        )
    return copy


@contextmanager
def _checked_copy(settings: Settings, source: Path, manifest: dict[str, Any]) -> Iterator[Path]:
    """The backup's database copy, checked (readable, intact, holding what the manifest
    says) before anything is replaced; BackupError otherwise. A SQLite copy is checked on
    a scratch copy in the data directory, which is what is then restored."""
    copy = _check_files(source, manifest)
    if manifest["database"] != "sqlite":
        try:
            db_backup.check_pg_dump(copy)
        except StoreError as exc:
            raise BackupError(f"{exc}; nothing was restored") from exc
        yield copy
        return
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".restore-check-", dir=data_dir))
    try:
        checked = scratch / db_backup.SQLITE_FILE
        try:
            found = db_backup.check_sqlite_copy(copy, checked)
        except StoreError as exc:
            raise BackupError(f"{exc}; nothing was restored") from exc
        if found != manifest["fingerprint"]:
            raise BackupError(
                f"{copy} does not hold what {MANIFEST} says "
                f"({_differences(found, manifest['fingerprint'])}): damaged or changed "
                "since the backup; nothing was restored"
            )
        yield checked
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _differences(found: dict[str, str], expected: dict[str, str]) -> str:
    return ", ".join(
        f"{name}: {found.get(name, '?').split(':')[0]} rows, the manifest says "
        f"{expected[name].split(':')[0]}"
        for name in db_backup.FINGERPRINT_TABLES
        if found.get(name) != expected[name]
    )


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
    first). Refuses a non-empty target unless `force`. Checks the backup (manifest, files,
    checksum, a readable database holding what the manifest says) before anything is
    replaced, and the restored database against the backup's fingerprint after."""
    manifest = read_manifest(source)
    replaced = False
    try:
        store = open_store(settings.resolved_database_url)
        try:
            if store.dialect != manifest["database"]:
                raise BackupError(
                    f"{source} is a {manifest['database']} backup; the target database is "
                    f"{store.dialect}"
                )
            if not force:
                _refuse_non_empty(settings, db_backup.row_counts(store), manifest["secret_key"])
            with _checked_copy(settings, source, manifest) as copy:
                db_backup.restore_database(store, copy)
                replaced = True
        finally:
            store.close()
        store = open_store(settings.resolved_database_url)  # also migrates an older backup
        try:
            restored = db_backup.fingerprint(store)
            ended = store.end_restored_runs()
        finally:
            store.close()
        if restored != manifest["fingerprint"]:
            raise BackupError(f"restored database differs from the backup: {restored}")
        if manifest["secret_key"]:
            _put_secret(settings, source / SECRET_FILE)
        shutil.rmtree(Path(settings.data_dir) / "index", ignore_errors=True)
        notes = [f"search index rebuilt: {rebuild_index(settings):,} papers"]
        if ended:
            notes.append(
                f"{ended} ingest run(s) were running when the backup was taken: marked "
                "interrupted here; running the same command again resumes"
            )
    except KeyboardInterrupt:
        raise RestoreInterrupted(replaced) from None
    size = sum(p.stat().st_size for p in source.iterdir())
    return BackupReport(source, store.dialect, size, restored, manifest["secret_key"], notes)


def _put_secret(settings: Settings, copy: Path) -> None:
    target = _secret_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{SECRET_FILE}.restore-{os.getpid()}")
    shutil.copyfile(copy, temp)
    temp.chmod(0o600)
    temp.replace(target)
