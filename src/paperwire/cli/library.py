"""Reader library files: what a BibTeX/CSL-JSON/RIS/id-list file matches among stored papers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.cli.render import out


@cli.command("match-library")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--fetch",
    is_flag=True,
    help="Fetch papers known by arXiv id but not stored from the arXiv API (needs network).",
)
@pass_ctx
def match_library_cmd(ctx: Context, file: Path, as_json: bool, fetch: bool) -> None:
    """Match a library file to stored papers and report what matched.

    FILE is BibTeX (.bib), a Zotero CSL-JSON or RIS export, or a plain list of arXiv
    ids / abs or pdf URLs / DOIs, one per line (the format is read from the content).
    Entries are matched by arXiv id, then DOI, then normalised title; malformed entries
    are listed with the reason and never stop the rest.

    Example: paperwire match-library ~/zotero.bib --fetch
    """
    from paperwire.bibliography import LibraryFileError

    with ctx.service(create=fetch) as service:
        try:
            result = service.match_library(file.read_bytes(), file.name, fetch=fetch)
        except LibraryFileError as exc:
            raise click.ClickException(f"{file}: {exc}") from exc
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    out.print(
        f"{escape(file.name)} ({result.format}): {result.entries} entries · "
        f"{len(result.matched)} matched ({len(result.fetched)} fetched from arXiv) · "
        f"{result.duplicates} duplicates · {len(result.unmatched)} unmatched · "
        f"{len(result.malformed)} malformed"
    )
    if result.fetch_error:
        out.print(f"[yellow]{escape(result.fetch_error)}[/yellow]", highlight=False)
    by = Counter(result.how.values())
    if by:
        out.print("matched by " + ", ".join(f"{how}: {n}" for how, n in by.items()))
    for title, rows in (
        ("unmatched", [(e.key, e.arxiv_id or e.doi or e.title or "") for e in result.unmatched]),
        ("malformed", [(m.key, m.reason) for m in result.malformed]),
    ):
        if rows:
            table = Table(title=title, title_justify="left")
            table.add_column("entry")
            table.add_column("arXiv id / DOI / title" if title == "unmatched" else "reason")
            for key, detail in rows:
                table.add_row(Text(key), Text(detail))
            out.print(table)
