"""The `paperwire` command group, its settings options and the per-command context."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from paperwire.config import Settings, unknown_environment
from paperwire.service import DataDirUnusable, Service
from paperwire.store import StoreError


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def service(self) -> Service:
        try:
            return Service(self.settings)
        except (StoreError, DataDirUnusable) as exc:
            raise click.ClickException(str(exc)) from exc


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PAPERWIRE_CONFIG",
    help="TOML settings file (keys as in `paperwire settings`). Env: PAPERWIRE_CONFIG.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (database, indexes, model cache). Default ./paperwire-data.",
)
@click.option("--database-url", help="sqlite:///file.db or postgresql+psycopg://user@host/db.")
@click.version_option(package_name="paperwire")
@click.pass_context
def cli(
    ctx: click.Context, config_file: Path | None, data_dir: Path | None, database_url: str | None
) -> None:
    """paperwire: ingest arXiv papers, search them, serve daily and trending lists.

    Settings come from PAPERWIRE_* environment variables, an optional TOML file
    (--config) and these options. Start with `paperwire import FILE` to load a snapshot.
    """
    try:
        settings = Settings.load(config_file, data_dir=data_dir, database_url=database_url)
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(f"invalid settings: {exc}") from None
    for warning in unknown_environment():
        click.echo(f"warning: {warning}", err=True)
    ctx.obj = Context(settings)
