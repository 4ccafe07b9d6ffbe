"""The `paperwire` command group, its settings options and the per-command context."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from paperwire.config import Settings, unknown_environment
from paperwire.data_dir import DataDirUnusable, NoDatabase
from paperwire.listing import ListingError, parse_day
from paperwire.logs import configure_logging
from paperwire.service import Service
from paperwire.store import StoreError

MAX_ROWS = 100_000  # the most rows a --limit may ask a listing command for


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def service(self, *, create: bool = False) -> Service:
        """The Service of these settings. `create`: for a command that adds data, which
        makes a missing data directory; the others refuse it (a mistyped data_dir)."""
        try:
            return Service(self.settings, create=create)
        except (StoreError, DataDirUnusable, NoDatabase) as exc:
            raise click.ClickException(str(exc)) from exc


pass_ctx = click.make_pass_decorator(Context)


class Day(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click (>=8.1)
    """A YYYY-MM-DD option checked by listing.parse_day, the one date check of the pages
    and the API: the same days (1900-01-01 .. 2999-12-31) and the same message."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            day = parse_day(str(value), _option_name(param))
        except ListingError as exc:
            self.fail(str(exc), param, ctx)
        if day is None:  # an empty value
            self.fail("a date like 2025-06-30 is needed", param, ctx)
        return day


DAY = Day()


def _option_name(param: click.Parameter | None) -> str:
    """`--date` -> "date": the name the web's parameter has (its message says it)."""
    if param is None or not param.opts:
        return "date"
    return param.opts[0].lstrip("-")


class FreeTextCommand(click.Command):
    """A command whose free-text argument may hold words that start with "-" (a search
    query's `-word`, `-"phrase"`, `-cat:x`). Its own options are taken wherever they stand
    (`--json`, `--page 2`, `--page=2`, `-h`); any other token is text. A lone `--` still
    ends the options, and an unknown `--name` is still an error (most likely a mistyped
    option; write it after `--` to search for it)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, options_first(self._value_counts(ctx), args))

    def _value_counts(self, ctx: click.Context) -> dict[str, int]:
        counts: dict[str, int] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                takes = 0 if param.is_flag or param.count else param.nargs
                counts.update(dict.fromkeys(param.opts, takes))
                counts.update(dict.fromkeys(param.secondary_opts, 0))
        return counts


def options_first(value_counts: dict[str, int], args: list[str]) -> list[str]:
    """`args` with the known options (and their values) first, then `--` and the text.

    `value_counts` maps each option name to how many values follow it."""
    options: list[str] = []
    text: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            text.extend(args[i + 1 :])
            break
        attached = arg.startswith("--") and "=" in arg  # --page=2
        name = arg.split("=", 1)[0] if attached else arg
        if name in value_counts:
            width = 1 if attached else 1 + value_counts[name]
            options.extend(args[i : i + width])
            i += width
            continue
        if arg.startswith("--") and arg[2:3].isalpha():
            options.append(arg)  # an unknown --option: click says so, with a suggestion
        else:
            text.append(arg)
        i += 1
    return [*options, "--", *text]


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
    configure_logging(settings.log_level)
    for warning in unknown_environment():
        click.echo(f"warning: {warning}", err=True)
    ctx.obj = Context(settings)
