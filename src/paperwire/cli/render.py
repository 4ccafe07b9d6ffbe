"""What the CLI prints: progress bars, rich tables and JSON shapes. No Service calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.measure import Measurement
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

from paperwire.bidi import isolated
from paperwire.config import Settings
from paperwire.digest.runner import ComposeReport, SendReport
from paperwire.graphemes import shorten
from paperwire.latex import latex_to_text
from paperwire.listing import Listing, Window
from paperwire.models import (
    MAX_FLAW_WARNINGS,
    IngestReport,
    Paper,
    Rejected,
    SearchPage,
    Subscriber,
    paper_day,
)

console = Console(stderr=True)
out = Console()


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


def rate_lines(
    description: str, total: int, advance: Callable[[int], None], every: float = 30.0
) -> Callable[[int], None]:
    """`advance`, plus (when the bar is hidden: output is not a terminal) a line every
    `every` seconds with the count, the rate and the time left, for logs."""
    if console.is_terminal:
        return advance
    start = time.monotonic()
    state = {"done": 0.0, "said": start}

    def step(n: int) -> None:
        advance(n)
        state["done"] += n
        now = time.monotonic()
        if now - state["said"] < every:
            return
        state["said"] = now
        rate = state["done"] / max(now - start, 1e-9)
        left = (total - state["done"]) / rate if rate > 0 else 0.0
        console.print(
            f"{description}: {int(state['done']):,}/{total:,} ({rate:,.1f}/s, ETA {left / 60:,.1f} min)"
        )

    return step


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


# what one ingest run counts, as `import` prints it and `stats` shows per run
RUN_COUNTS = ("new", "updated", "unchanged", "deleted", "rejected")


def print_report(title: str, report: IngestReport, seconds: float) -> None:
    table = Table(title=title, show_header=True)
    for name in (*RUN_COUNTS, "seconds", "records/s"):
        table.add_column(name, justify="right")
    rate = report.seen / seconds if seconds > 0 else 0.0
    table.add_row(
        *(f"{getattr(report, n):,}" for n in RUN_COUNTS),
        f"{seconds:.1f}",
        f"{rate:,.0f}",
    )
    out.print(table)
    if report.rejected:
        out.print(f"{report.rejected} record(s) rejected; see `paperwire rejects` for the reasons.")
    if report.flawed:
        named = (
            "each is"
            if report.flawed <= MAX_FLAW_WARNINGS
            else f"the first {MAX_FLAW_WARNINGS} are"
        )
        out.print(
            f"{report.flawed:,} record(s) kept without categories that could not be read; "
            f"{named} named in the warnings."
        )


def print_counts(
    title: str, counts: Mapping[str, Any], key: str = "name", counted: str = "papers"
) -> None:
    table = Table(title=title)
    table.add_column(key)
    table.add_column(counted, justify="right")
    for key, value in counts.items():
        table.add_row(str(key), f"{value:,}")
    out.print(table)


def print_stats(data: dict[str, Any]) -> None:
    out.print(
        f"[bold]{data['papers']:,}[/] papers ({data['deleted']:,} deleted, "
        f"{data['rejected']:,} rejected records kept)"
    )
    print_counts("by source", data["by_source"])
    print_counts("by primary category (top 15)", dict(list(data["by_category"].items())[:15]))
    dates = data["by_listing_date"]
    if dates:
        first, last = next(iter(dates)), next(reversed(dates))
        out.print(f"listing dates: {first} … {last} ({len(dates)} days)")
        print_counts("last 7 listing days", dict(list(dates.items())[-7:]))
    print_runs(data["runs"])
    print_unfinished_runs(data["runs"])


def print_runs(runs: list[dict[str, Any]]) -> None:
    """The recent ingest runs: a column per count where that table fits the console whole;
    narrower, each run's nonzero counts stacked in one cell and its time on two lines, so
    that the text columns keep room to be read (not folded to a few letters)."""
    table = _runs_table(runs, stacked=False)
    if Measurement.get(out, out.options.update_width(10_000), table).maximum > out.width:
        table = _runs_table(runs, stacked=True)
    out.print(table)


def _runs_table(runs: list[dict[str, Any]], *, stacked: bool) -> Table:
    table = Table(title="recent ingest runs")
    table.add_column("started", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in ("counts",) if stacked else RUN_COUNTS:  # whole numbers, whole headers
        table.add_column(name, justify="left" if stacked else "right", no_wrap=True)
    table.add_column("detail", overflow="fold", min_width=12)  # never cut: folded
    for run in runs:
        started = str(run["started_at"])[:19]
        counts = [f"{run[name]:,}" for name in RUN_COUNTS]
        if stacked:
            started = started.replace(" ", "\n", 1)
            kept = [f"{run[n]:,} {n}" for n in RUN_COUNTS if n == "new" or run[n]]
            counts = ["\n".join(kept)]
        detail = shorten(str(run["detail"]), 80, words=False)
        table.add_row(started, run["source"], run["status"], *counts, Text(detail))
    return table


def print_unfinished_runs(recent: list[dict[str, Any]]) -> None:
    """Say why each recent run that did not finish cleanly stopped."""
    for run in recent:
        if run["status"] in ("interrupted", "failed"):
            out.print(
                Text(f"run {run['id']} ({run['source']} {run['detail']}) {run['status']}: ")
                + Text(str(run["error"] or ""), style="dim")
            )


def print_problem(message: str, style: str, *, one_line: bool = False) -> None:
    """A warning or error line on the console (stderr-like styling, never markup);
    `one_line`: not wrapped at the console's width (the terminal wraps it, logs keep it)."""
    console.print(Text(message, style=style), soft_wrap=one_line)


def print_rejects(items: list[Rejected]) -> None:
    if not items:
        out.print("no rejected records")
        return
    table = Table(title="rejected records")
    for name in ("source", "where", "reason"):
        table.add_column(name)
    for item in items:
        table.add_row(item.source, item.key, item.reason)
    out.print(table)


def print_settings(settings: Settings) -> None:
    """Every setting, its whole value (secrets hidden) and meaning: a table on a terminal,
    folding a long value onto more lines; piped, one `name = value  # meaning` line each,
    nothing cut (a table cut values to the width with "…")."""
    values = settings.shown()  # secrets hidden
    meanings = {name: field.description or "" for name, field in Settings.model_fields.items()}
    if not out.is_terminal:
        for name, meaning in meanings.items():
            out.print(Text(f"{name} = {values[name]}  # {meaning}"), soft_wrap=True)
        return
    table = Table(title="settings (env PAPERWIRE_<NAME>, or NAME = value in --config TOML)")
    table.add_column("name", no_wrap=True, min_width=max(map(len, meanings)))
    table.add_column("value", overflow="fold")
    table.add_column("meaning", overflow="fold")
    for name, meaning in meanings.items():
        # Text, not markup: "[gpu]" in a description is no style tag
        table.add_row(name, Text(values[name]), Text(meaning))
    out.print(table)


def search_page_json(result: SearchPage) -> dict[str, Any]:
    return {
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.pages,
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
    title = (
        f"{result.total:,} result(s) for {result.query!r} — page {result.page}, "
        f"{result.sort}, {result.mode}"
    )
    table = _papers_table(title, "score")
    for rank, hit in enumerate(result.hits, start=first + 1):
        score = f"{hit.score:.3f}" if result.sort == "relevance" else "—"
        table.add_row(*_paper_cells(rank, hit.paper), score)
    out.print(table)
    for note in result.notes:
        out.print(Text(f"note: {note}", style="dim"))
    if result.hits and result.page < result.pages:
        out.print(Text(f"more: --page {result.page + 1} (of {result.pages:,})", style="dim"))


def print_subscribers(items: list[Subscriber]) -> None:
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


def print_digest_status(data: dict[str, Any]) -> None:
    print_counts("outbox by status", data["counts"] or {"(empty)": 0}, "status", "messages")
    print_counts("subscribers", data["subscribers"], "status", "subscribers")
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


def print_digest_run(composed: ComposeReport, sent: SendReport, dry_run: bool) -> None:
    if dry_run:
        for item in composed.previews:
            out.print(
                f"{item['email']}\t{item['period']}\t{item['status']}\t"
                f"{len(item['papers'])} papers\tlisted {item['start']}..{item['end']}"
            )
        out.print(f"dry run: {len(composed.previews)} digest(s) would be composed; nothing sent")
        _print_caught_up(composed.caught_up)
        return
    table = Table(title="digest run")
    for name in ("composed", "empty", "already done", "sent", "retrying", "failed"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(n) for n in (composed.composed, composed.empty, composed.skipped)),
        *(str(n) for n in (sent.sent, sent.retrying, sent.failed)),
    )
    out.print(table)
    _print_caught_up(composed.caught_up)


def _print_caught_up(count: int) -> None:
    if count:
        out.print(
            f"{count} digest(s) reach back over missed periods to the subscriber's previous "
            "digest (at most a week for daily, two weeks for weekly)"
        )


def listing_json(
    window: Window, found: Listing, sort: str, page: int, per_page: int, notes: list[str]
) -> dict[str, Any]:
    return {
        "period": window.view,
        "label": window.label,
        "start": window.start,
        "end": window.end,
        "prev": window.prev,
        "next": window.next,
        "sort": sort,
        "page": page,
        "per_page": per_page,
        "total": found.total,
        "notes": notes,
        "papers": [
            {
                "arxiv_id": p.arxiv_id,
                "title": p.title,
                "authors": [a.name for a in p.authors],
                "categories": p.categories,
                "date": paper_day(p),
                "upvotes": found.upvotes.get(p.arxiv_id, 0),
                **({"score": found.scores[p.arxiv_id]} if p.arxiv_id in found.scores else {}),
            }
            for p in found.papers
        ],
    }


def print_listing(
    window: Window, found: Listing, sort: str, page: int, per_page: int, notes: list[str]
) -> None:
    first = (page - 1) * per_page
    extra = ("votes", "score") if sort == "trending" else ("votes",)
    table = _papers_table(f"{window.label} — {found.total:,} paper(s), page {page}, {sort}", *extra)
    for rank, paper in enumerate(found.papers, start=first + 1):
        cells = [*_paper_cells(rank, paper), str(found.upvotes[paper.arxiv_id])]
        if sort == "trending":
            cells.append(f"{found.scores.get(paper.arxiv_id, 0.0):.3f}")
        table.add_row(*cells)
    out.print(table)
    for note in notes:
        out.print(Text(f"note: {note}", style="dim"))
    hints = [f"--page {page + 1}"] if found.total > first + len(found.papers) else []
    hints += [
        f"{name}: --date {d}" for name, d in (("previous", window.prev), ("next", window.next)) if d
    ]
    for hint in hints:
        out.print(Text(hint, style="dim"))


def _papers_table(title: str, *numbers: str) -> Table:
    """#, id, date, title, authors, then right-aligned number columns."""
    table = Table(title=title, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("title", ratio=3)
    table.add_column("authors", ratio=1)
    for name in numbers:
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _paper_cells(rank: int, paper: Paper) -> list[str | Text]:
    day = paper_day(paper)
    date_text = day.isoformat() if day else ""
    title = Text(isolated(latex_to_text(paper.title)))
    return [str(rank), paper.arxiv_id, date_text, title, Text(_short_authors(paper))]


def _short_authors(paper: Paper) -> str:
    names = [isolated(latex_to_text(a.name)) for a in paper.authors]
    return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
