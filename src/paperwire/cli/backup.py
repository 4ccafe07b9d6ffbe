"""Backing up and restoring the whole state of a data directory (logic in paperwire.backup)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.text import Text

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.cli.render import console, out
from paperwire.config import Settings
from paperwire.service import Service
from paperwire.store import StoreError


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@pass_ctx
def backup_cmd(ctx: Context, path: Path) -> None:
    """Back up the whole state into the new folder PATH: the database (papers, accounts,
    votes, subscribers, outbox, checkpoints) and the secret key. Safe while `serve`,
    imports or digests run: the copy is one consistent snapshot (SQLite backup API,
    pg_dump for PostgreSQL). Search indexes are rebuilt on restore.

    Example: paperwire backup backups/2026-12-01
    """
    from paperwire.backup import BackupError, create_backup

    try:
        report = create_backup(ctx.settings, path)
    except (BackupError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        console.print("interrupted; no backup was written (the incomplete copy was removed)")
        raise click.exceptions.Exit(130) from None
    rows = ", ".join(f"{t} {v.split(':')[0]}" for t, v in report.fingerprint.items())
    out.print(
        f"backed up {report.database} to {report.path} ({report.size_bytes / 1e6:.1f} MB): {rows}"
    )
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"))


@cli.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a target that already holds data.")
@pass_ctx
def restore_cmd(ctx: Context, path: Path, force: bool) -> None:
    """Restore the backup in folder PATH into the configured data directory and database
    (same kind of database as the backup). Stop `serve` first. Refuses a target that
    already holds data unless --force; checks the result against the backup's
    fingerprint and rebuilds the search index.

    Example: paperwire --data-dir new-data restore backups/2026-12-01
    """
    from paperwire.backup import BackupError, RestoreInterrupted, restore_backup

    def rebuild(settings: Settings) -> int:
        with Service(settings) as service:
            return service.rebuild_index()

    try:
        report = restore_backup(ctx.settings, path, force=force, rebuild_index=rebuild)
    except RestoreInterrupted as exc:
        console.print(str(exc))
        raise click.exceptions.Exit(130) from None
    except (BackupError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    rows = ", ".join(f"{t} {v.split(':')[0]}" for t, v in report.fingerprint.items())
    out.print(
        f"restored {escape(str(report.path))} ({report.database}); identical to the backup: {rows}"
    )
    for note in report.notes:
        out.print(Text(f"note: {note}", style="dim"))
