"""Listing the papers of a day, week or month (the list the home page shows)."""

from __future__ import annotations

import json
from datetime import date

import click

from paperwire.cli.base import DAY, Context, cli, pass_ctx
from paperwire.cli.render import listing_json, out, print_listing
from paperwire.listing import LISTING_SORTS, VIEWS, ListingError, empty_page_note

PERIOD_HELP = "That day (default), its week (Monday to Sunday) or its month."
SORT_HELP = "date (default): newest first; trending: upvotes with time decay."


@cli.command()
@click.option(
    "--date",
    "day",
    type=DAY,
    help="A day inside the period (YYYY-MM-DD). Default: the latest listing day.",
)
@click.option("--period", type=click.Choice(VIEWS), default="day", help=PERIOD_HELP)
@click.option("--sort", type=click.Choice(LISTING_SORTS), default="date", help=SORT_HELP)
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--per-page", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_ctx
def daily(
    ctx: Context,
    day: date | None,
    period: str,
    sort: str,
    page: int,
    per_page: int,
    as_json: bool,
) -> None:
    """List the papers of a day, week or month, as the website's daily page does.

    Example: paperwire daily --date 2025-03-18 --period week --sort trending
    """
    with ctx.service() as service:
        latest = service.latest_day()
        if latest is None:
            raise click.ClickException(
                "no papers yet: import a snapshot with paperwire import FILE"
            )
        try:
            window = service.window(period, day)
            found = service.listed(window, sort, page, per_page)
        except ListingError as exc:
            raise click.ClickException(str(exc)) from exc
    notes = [] if found.papers else [empty_page_note(window, found.total, page, per_page, latest)]
    if as_json:
        listed = listing_json(window, found, sort, page, per_page, notes)
        out.print_json(json.dumps(listed, default=str))
        return
    print_listing(window, found, sort, page, per_page, notes)
