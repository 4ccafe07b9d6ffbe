"""Searching the stored papers."""

from __future__ import annotations

import json

import click

from paperwire.cli.base import Context, FreeTextCommand, cli, pass_ctx
from paperwire.cli.render import out, print_search_page, search_page_json


@cli.command(cls=FreeTextCommand)
@click.argument("query", nargs=-1)
@click.option(
    "--sort",
    type=click.Choice(["relevance", "date", "trending"]),
    default="relevance",
    show_default=True,
)
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--per-page", default=20, show_default=True, type=click.IntRange(1, 200))
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "lexical", "semantic"]),
    default="hybrid",
    show_default=True,
    help="hybrid fuses word and meaning matches; falls back to lexical without vectors.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_ctx
def search(
    ctx: Context,
    query: tuple[str, ...],
    sort: str,
    page: int,
    per_page: int,
    mode: str,
    as_json: bool,
) -> None:
    """Search papers. QUERY words are ranked by BM25 (and meaning, in hybrid mode).

    \b
    Syntax:  "exact phrase"   ti:word  abs:word  au:smith (name prefix)
             cat:cs.CL (several cat: are OR'd; cat:cs = any cs.*)
             since:2025-06-01 / since:7d / since:2w / since:3m   until:2025-12
             -word  -"phrase"  -cat:cs.CV   (exclude)
    Options may stand before, between or after the words; after `--` all is query text.
    Example: paperwire search 'vision language "hallucination" cat:cs.CV since:3m'
    """
    from paperwire.search.query import QueryError

    text = " ".join(query)
    with ctx.service() as service:
        try:
            result = service.search(text, sort=sort, page=page, per_page=per_page, mode=mode)
        except QueryError as exc:
            raise click.ClickException(f"bad query: {exc}") from exc
    if as_json:
        out.print_json(json.dumps(search_page_json(result), default=str))
        return
    print_search_page(result)
