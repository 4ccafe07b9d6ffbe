"""Harvest pipeline for the network sources: fetch a page, parse it, commit it.

Each page is committed in ONE transaction together with its checkpoint (for OAI-PMH: the
resumption token of the next page), so a harvest killed at any point resumes after the last
committed page and re-running reaches the same end state with no duplicates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from paperwire.config import Settings
from paperwire.ingest import OnChanged, Progress, describe_holder
from paperwire.interrupts import sigint_held
from paperwire.models import Flaw, IngestReport, Paper, Rejected
from paperwire.sources import arxiv_api, arxiv_oai, hf_daily
from paperwire.sources.http import PoliteClient, SourceError
from paperwire.store import CheckpointHeld, Store


def commit_page(
    store: Store,
    items: Iterable[Paper | Rejected],
    report: IngestReport,
    *,
    checkpoint: tuple[str, Any] | None = None,
    run: int | None = None,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
    flaws: Sequence[Flaw] = (),
) -> None:
    """Store one page's papers, rejects and checkpoint atomically; add counts to `report`
    (and the `flaws` of the page's papers, once they are stored). Ctrl-C waits for the
    page to be written and indexed."""
    papers = [i for i in items if isinstance(i, Paper)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    with sigint_held():
        page_report, changed = store.upsert_papers(papers, rejected, checkpoint, run)
        report.add(page_report)
        report.note_flaws(list(flaws))
        if on_changed and changed:
            on_changed(changed)
    if progress:
        progress(len(papers) + len(rejected))


# -- OAI-PMH ------------------------------------------------------------------


class HarvestRunning(SourceError):
    """A harvest with the same parameters (the same resume point) is running; this one
    stopped before sending any request. The message says which run and what to do."""

    def __init__(self, detail: str, held: CheckpointHeld):
        self.held = held
        super().__init__(
            f"an identical harvest ({detail}) is running ({describe_holder(held)}); "
            "nothing was harvested by this one. Both would fetch the same pages from the "
            "same resume point. Wait for it to finish, or stop it (Ctrl-C, or kill its "
            "process) and run this harvest again: it resumes after the last page stored. "
            "`paperwire stats` shows the running harvest."
        )


class HarvestLoops(SourceError):
    """The OAI-PMH server keeps the harvest going forever (repeats its resumption token, or
    sends far more records than it said it has); every page received is stored."""


def oai_checkpoint_name(
    base_url: str, since: date | None, until: date | None, set_spec: str | None
) -> str:
    return f"oai:{base_url}:set={set_spec or '*'}:from={since or '*'}:until={until or '*'}"


def harvest_oai(
    store: Store,
    client: PoliteClient,
    settings: Settings,
    report: IngestReport,
    *,
    since: date | None,
    until: date | None = None,
    set_spec: str | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
    sleep: Callable[[float], None] = time.sleep,
    run: int | None = None,
) -> None:
    """ListRecords from `since` to `until` (inclusive) in `set_spec`, page by page.

    Resumes from the saved resumption token of an unfinished harvest with the same
    parameters unless `restart`; if the server no longer accepts that saved token (they
    expire), starts again from the first page. A finished harvest run again starts from
    its first page.

    Ingest run `run` holds the resume point while it harvests (Store.claim_checkpoint):
    HarvestRunning, before any request, while another run with the same parameters
    still goes (both would fetch the same pages from it, each saving over the other).
    """
    name = oai_checkpoint_name(settings.oai_base_url, since, until, set_spec)
    if run is None:
        state = store.get_checkpoint(name) or {}
    else:
        try:
            state = store.claim_checkpoint(name, run)
        except CheckpointHeld as exc:
            detail = f"from={since or '*'} until={until or '*'} set={set_spec or '*'}"
            raise HarvestRunning(detail, exc) from None
        state.pop("run", None)
    token = None if restart or state.get("complete") else state.get("token")
    pages = int(state.get("pages", 0)) if token else 0
    first = arxiv_oai.list_records_params(since, until, set_spec)
    params = arxiv_oai.resume_params(token) if token else first
    if progress and token:
        progress(0)
    records = 0  # records received by this run, against the server's completeListSize
    while True:
        try:
            page = _fetch_oai_page(client, settings, params, pages + 1, sleep)
        except arxiv_oai.OaiError as exc:
            if exc.code != "badResumptionToken":
                raise
            if not (token and params.get("resumptionToken") == token):
                raise arxiv_oai.OaiError(
                    exc.code,
                    exc.detail,
                    hint=f"the server refused the resumption token it had just sent (for "
                    f"page {pages + 1}); {_stored(pages)} — run the same command again "
                    "later to resume",
                ) from exc
            token, pages, params = None, 0, first  # saved token expired: start over
            continue
        except SourceError as exc:
            if pages and not exc.progress:  # the host answered before
                exc.progress = (
                    f"{_stored(pages)} — run the same command again later to resume from "
                    f"page {pages + 1}"
                )
            raise
        pages += 1
        records += len(page.items)
        value: dict[str, Any] = {
            "token": page.token,
            "pages": pages,
            "complete": page.token is None,
        }
        if run is not None and page.token is not None:
            value["run"] = run  # held until the last page, saved without it
        commit_page(
            store,
            page.items,
            report,
            checkpoint=(name, value),
            run=run,
            progress=progress,
            on_changed=on_changed,
            flaws=page.flaws,
        )
        if page.token is None:
            return
        _refuse_endless(page, params.get("resumptionToken"), pages, records)
        params = arxiv_oai.resume_params(page.token)


def _refuse_endless(page: arxiv_oai.OaiPage, used: str | None, pages: int, records: int) -> None:
    """HarvestLoops when `page` (number `pages`, asked for with token `used`) would keep
    the harvest going in circles."""
    stored = f"{_stored(pages)} (re-running resumes after them)"
    if page.token == used:
        raise HarvestLoops(
            f"the OAI-PMH server answered resumption token {used!r} with the same token "
            f"again (page {pages}): it repeats itself, so the harvest stopped; {stored}. "
            "Try again later, or with --restart"
        )
    size = page.complete_list_size
    if size and records > 2 * size:
        raise HarvestLoops(
            f"the OAI-PMH server has sent {records:,} records in {pages} pages, more than "
            f"twice the completeListSize={size:,} it announces: it seems to go in "
            f"circles, so the harvest stopped; {stored}. Try again later, or with --restart"
        )


def _stored(pages: int) -> str:
    return f"pages 1-{pages} are stored" if pages else "nothing is stored yet"


def _fetch_oai_page(
    client: PoliteClient,
    settings: Settings,
    params: dict[str, str],
    number: int,
    sleep: Callable[[float], None],
) -> arxiv_oai.OaiPage:
    """Fetch and parse one page, re-fetching a malformed/truncated body a bounded number
    of times; afterwards the harvest stops with everything before this page stored."""
    tries = settings.http_retries + 1
    for attempt in range(1, tries + 1):
        body = arxiv_oai.fetch_page(client, settings.oai_base_url, params)
        try:
            return arxiv_oai.parse_list_records(body)
        except arxiv_oai.MalformedResponse as exc:
            if attempt == tries:
                failure = SourceError(
                    f"page {number} of the OAI-PMH harvest was still malformed after {tries} "
                    f"tries ({exc})"
                )
                failure.progress = (
                    f"{_stored(number - 1)} — re-run the same command later to resume from "
                    "this page"
                )
                raise failure from exc
            sleep(min(60.0, settings.retry_backoff * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")


# -- arXiv API ------------------------------------------------------------------


def fetch_ids(
    store: Store,
    client: PoliteClient,
    settings: Settings,
    report: IngestReport,
    ids: Sequence[str],
    *,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
) -> None:
    """Look up `ids` (as arxiv_api.request_ids spells them) with the arXiv API and store
    what it returns; the ids it returned nothing for are named in `report.warnings`."""
    returned: list[Paper | Rejected] = []
    for items in arxiv_api.fetch_ids(client, settings.arxiv_api_url, ids):
        commit_page(store, items, report, progress=progress, on_changed=on_changed)
        returned.extend(items)
    missing = arxiv_api.not_returned(ids, returned)
    if missing:
        report.warnings.append(f"arXiv returned nothing for {', '.join(missing)}")


def search_arxiv(
    store: Store,
    client: PoliteClient,
    settings: Settings,
    report: IngestReport,
    query: str,
    max_results: int,
    *,
    page_size: int = arxiv_api.PAGE_SIZE,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
) -> None:
    """Store up to `max_results` papers matching an arXiv API `query` (e.g. ``cat:cs.CL``)."""
    for items in arxiv_api.search(client, settings.arxiv_api_url, query, max_results, page_size):
        commit_page(store, items, report, progress=progress, on_changed=on_changed)


# -- Hugging Face -----------------------------------------------------------------


def hf_daily_papers(
    store: Store,
    client: PoliteClient,
    settings: Settings,
    report: IngestReport,
    day: date,
    *,
    page_size: int = hf_daily.PAGE_SIZE,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
) -> None:
    """Store the papers listed on Hugging Face daily papers for `day`, page by page until a
    short page (or a page with nothing new, should the server ignore paging)."""
    seen: set[str] = set()
    page = 0
    while True:
        body = hf_daily.fetch_daily_papers(client, settings.hf_base_url, day, page, page_size)
        items = hf_daily.parse_daily_papers(body)
        keys = {i.arxiv_id if isinstance(i, Paper) else i.raw for i in items}
        if not keys - seen:
            return
        seen |= keys
        commit_page(store, items, report, progress=progress, on_changed=on_changed)
        if len(items) < page_size:
            return
        page += 1
