"""Running the website, and showing the settings it runs with."""

from __future__ import annotations

import json

import click

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.cli.render import console, out, print_problem, print_settings
from paperwire.data_dir import DataDirUnusable, missing_database
from paperwire.logs import log_config
from paperwire.service import Service
from paperwire.store import StoreError


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON: name -> value.")
@pass_ctx
def settings(ctx: Context, as_json: bool) -> None:
    """Print every setting with its current value and meaning (secrets hidden).

    On a terminal a table; piped, one `name = value  # meaning` line per setting.
    """
    if as_json:
        out.print_json(json.dumps(ctx.settings.shown_json()))
        return
    print_settings(ctx.settings)


@cli.command()
@click.option("--host", default=None, help="Address to bind. Default: settings.host (127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to bind (0: any free port). Default: settings.port (8000).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (at least 1). Default: settings.workers.",
)
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the website and JSON API (uvicorn). Open http://HOST:PORT/ in a browser.

    With an empty store the home page explains how to import a snapshot.
    The API reference is at /docs, the OpenAPI document at /openapi.json.
    """
    import os

    import uvicorn

    from paperwire.web.app import SERVE_SETTINGS_ENV, create_app
    from paperwire.web.workers import PARENT_PID_ENV, PortUnusable, check_port_free

    settings = ctx.settings.model_copy(
        update={
            k: v
            for k, v in {"host": host, "port": port, "workers": workers}.items()
            if v is not None
        }
    )
    try:  # uvicorn alone says only "[Errno 98] Address already in use"
        check_port_free(settings.host, settings.port)
    except PortUnusable as exc:
        raise click.ClickException(str(exc)) from exc
    missing = missing_database(settings)  # a fresh machine, or a mistyped data_dir
    try:  # each worker opens the store too: a bad data_dir or database is one clear line
        app = create_app(settings, background_jobs=True) if settings.workers == 1 else None
        if app is None:
            Service(settings).close()
    except (StoreError, DataDirUnusable) as exc:
        raise click.ClickException(str(exc)) from exc
    if missing is not None:
        message = f"note: {missing}: serving a new, empty installation made there "
        print_problem(message + "(`paperwire import FILE` loads papers)", "yellow", one_line=True)
    console.print(f"paperwire serving on http://{settings.host}:{settings.port}/ (Ctrl-C stops)")
    if app is not None:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=log_config(settings.log_level, web=True),
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
        return
    os.environ[SERVE_SETTINGS_ENV] = settings.model_dump_json()
    os.environ[PARENT_PID_ENV] = str(os.getpid())  # workers end when this process does
    uvicorn.run(
        "paperwire.web.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, web=True),
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
