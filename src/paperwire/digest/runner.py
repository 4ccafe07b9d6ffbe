"""Compose due digests into the outbox, then drain the outbox over SMTP.

See paperwire.digest for the delivery guarantee. Test hook: with the environment variable
PAPERWIRE_TEST_EXIT_AFTER_ACCEPT=N the process calls os._exit(137) right after the server
accepted its N-th message and before recording it — the crash window the guarantee is
about. Nothing else reads it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from paperwire.config import Settings
from paperwire.digest.compose import CandidatePool, add_follows, compose_digest
from paperwire.digest.render import Links, render_digest
from paperwire.digest.schedule import FREQUENCIES, Period, catch_up, due_period, period_for
from paperwire.digest.tokens import make_paper_action, make_token
from paperwire.keys import load_secret_key
from paperwire.listing import ranked_window
from paperwire.mail import DeliveryError, SmtpSender, build_message, mail_domain
from paperwire.models import SearchPage, Subscriber
from paperwire.store import Store
from paperwire.store.digest import ComposedRow, DigestStore
from paperwire.store.library import LibraryStore

log = logging.getLogger(__name__)
MAX_BACKOFF = 6 * 3600.0
SEARCH_PER_QUERY = 50
CRASH_HOOK = "PAPERWIRE_TEST_EXIT_AFTER_ACCEPT"


@dataclass(slots=True)
class ComposeReport:
    composed: int = 0
    empty: int = 0
    skipped: int = 0  # already composed for that period
    not_due: int = 0
    # digests reaching back over periods that got no digest (the run after downtime): each
    # covers everything listed since that subscriber's previous digest (CATCH_UP_DAYS)
    caught_up: int = 0
    previews: list[dict[str, Any]] = field(default_factory=list)  # dry run only


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    replies: list[str] = field(default_factory=list)
    # why the SMTP server could not be used at all (unreachable, TLS, greeting or login
    # refused): the round stopped, no attempt was counted; "" when it could
    unreachable: str = ""
    queued: int = 0  # messages still waiting for delivery after a round that stopped so
    errors: int = 0  # messages whose sending broke off on an error of ours (logged)


# (email, period start, period end, papers never to include, how many) -> (arxiv id, why)
# best first; empty when the address has no account with a library (set by Service)
DigestRecommender = Callable[[str, date, date, set[str], int], list[tuple[str, str]]]


class SearchFn(Protocol):
    """The search a saved search runs through (Service.search)."""

    def __call__(
        self,
        query: str,
        *,
        sort: str,
        page: int,
        per_page: int,
        mode: str,
        since: date | None = None,
        until: date | None = None,
    ) -> SearchPage: ...


def message_id_for(subscriber_id: int, period: str, key: str, domain: str) -> str:
    """Stable Message-ID from the idempotency key: the same on every attempt."""
    digest = hashlib.sha256(f"{key}:{subscriber_id}:{period}".encode()).hexdigest()[:16]
    return f"<digest.{subscriber_id}.{period.replace(':', '.')}.{digest}@{domain}>"


class DigestRunner:
    """Composing and sending, over the papers store and (for saved searches) `search`;
    without a search callable saved searches use the candidate pool's word matcher."""

    def __init__(self, settings: Settings, papers: Store, search: SearchFn | None) -> None:
        self.settings = settings
        self.papers = papers
        self.search = search
        self.store = DigestStore(papers.engine)
        self.key = load_secret_key(settings)
        self._pools: dict[tuple[date, date], CandidatePool] = {}
        self._render_cache: dict[tuple[str, str], str] = {}
        self._today = datetime.now(UTC).date()  # action links expire counted from here
        self._base = self.settings.base_url.rstrip("/")
        self.recommend: DigestRecommender | None = None

    # -- links ---------------------------------------------------------------------

    def links(self, subscriber: Subscriber) -> Links:
        base = self.settings.base_url.rstrip("/")
        manage = make_token(self.key, "manage", subscriber.id, subscriber.email)
        unsub = make_token(self.key, "unsubscribe", subscriber.id, subscriber.email)
        return Links(
            base,
            f"{base}/subscribe/manage?token={manage}",
            f"{base}/unsubscribe?token={unsub}",
            self._render_cache,
            self._action_links(subscriber),
        )

    def _action_links(self, subscriber: Subscriber) -> Callable[[str, str], str]:
        """paper_action_link for one subscriber, each link made once (text and HTML)."""
        made: dict[tuple[str, str], str] = {}

        def link(arxiv_id: str, action: str) -> str:
            url = made.get((arxiv_id, action))
            if url is None:
                url = made[(arxiv_id, action)] = self.paper_action_link(
                    subscriber, arxiv_id, action
                )
            return url

        return link

    def paper_action_link(self, subscriber: Subscriber, arxiv_id: str, action: str) -> str:
        """A signed link (valid PAPER_ACTION_DAYS) that likes, dismisses or saves a paper
        for this subscriber without signing in (issue 13; web/library_pages.py)."""
        token = make_paper_action(
            self.key, subscriber.id, subscriber.email, arxiv_id, action, self._today
        )
        return f"{self._base}/email-action?token={token}"  # all URL-safe ("/" is, in a query)

    def _with_account_follows(
        self, todo: Sequence[tuple[Subscriber, Period]]
    ) -> dict[str, set[str]]:
        """Add the follows made on the website by the account with each subscriber's
        address (one list per address; see store/library.py). Returns, per address, the
        papers its account marked "not interested": never mailed."""
        library = LibraryStore(self.papers.engine)
        emails = [s.email for s, _ in todo]
        extra = library.follows_by_email(emails)
        for sub, _ in todo:
            add_follows(sub, extra.get(sub.email, []))
        return library.dismissed_by_email(emails)

    # -- composing -----------------------------------------------------------------

    def pool(self, start: date, end: date) -> CandidatePool:
        """The papers of [start, end] in trending order (the ranking the web shows)."""
        cached = self._pools.get((start, end))
        if cached is None:
            papers = self.papers.papers_listed(start, end)
            ranked = ranked_window(self.papers, start, end)
            cached = CandidatePool.build(start, end, papers, [i for i, _ in ranked])
            self._pools[(start, end)] = cached
        return cached

    def search_hits(self, pool: CandidatePool, query: str) -> list[str]:
        """Saved search over the period: the search engine when there is one (with a
        relevance threshold), else the simple word matcher."""
        if query in pool.search_hits:
            return pool.search_hits[query]
        search = self.search
        ids = pool.match(query) if search is None else self._engine_hits(search, pool, query)
        pool.search_hits[query] = ids
        return ids

    def _engine_hits(self, search: SearchFn, pool: CandidatePool, query: str) -> list[str]:
        try:
            result = search(
                query,
                since=pool.start,  # structured: the saved text may have its own since:
                until=pool.end,
                sort="relevance",
                page=1,
                per_page=SEARCH_PER_QUERY,
                mode="lexical",
            )
        except Exception as exc:  # QueryError and friends: a bad saved search skips itself
            log.warning("saved search %r skipped: %s", query, exc)
            return []
        hits = [h for h in result.hits if h.paper.arxiv_id in pool.papers]
        if not hits:
            return []
        best = max(h.score for h in hits)
        floor = max(
            self.settings.digest_search_min_score, best * self.settings.digest_search_min_relative
        )
        return [h.paper.arxiv_id for h in hits if h.score >= floor]

    def compose(
        self, day: date | None = None, now: datetime | None = None, dry_run: bool = False
    ) -> ComposeReport:
        """Compose every due digest. With `day`, the period of that date for everyone
        (weekly subscribers only on their weekday); without, each subscriber's own local
        schedule at `now`."""
        now = now or datetime.now(UTC)
        self._pools.clear()  # each run ranks and renders what the store holds now
        self._render_cache.clear()
        report = ComposeReport()
        domain = mail_domain(self.settings)
        for batch in self.store.iter_active():
            due: list[tuple[Subscriber, Period]] = []
            for sub in batch:
                period = period_for(sub, day) if day else due_period(sub, now)
                if period is None:
                    report.not_due += 1
                else:
                    due.append((sub, period))
            existing = self.store.existing_periods(
                [s.id for s, _ in due], sorted({p.key for _, p in due})
            )
            todo = [(s, p) for s, p in due if (s.id, p.key) not in existing]
            report.skipped += len(due) - len(todo)
            todo, widened = self._caught_up(todo)
            rows = self._compose_rows(todo, domain)
            if dry_run:
                report.previews += [
                    {
                        "email": r.recipient,
                        "period": r.period,
                        "start": p.start,
                        "end": p.end,
                        "status": r.status,
                        "papers": r.paper_ids,
                    }
                    for r, (_, p) in zip(rows, todo, strict=True)
                ]
                report.caught_up += len(widened)
                continue
            written = self.store.record_composed(rows)  # less when a concurrent run was first
            report.skipped += len(rows) - len(written)
            report.caught_up += len(widened & {(r.subscriber_id, r.period) for r in written})
            report.composed += sum(1 for r in written if r.status == "composed")
            report.empty += sum(1 for r in written if r.status == "empty")
        return report

    def _caught_up(
        self, todo: Sequence[tuple[Subscriber, Period]]
    ) -> tuple[list[tuple[Subscriber, Period]], set[tuple[int, str]]]:
        """Each period reaching back to the end of its subscriber's previous digest when
        digests were missed in between (schedule.catch_up), and the (subscriber, period)
        pairs that were so widened."""
        previous: dict[int, date] = {}
        for end in sorted({p.end for _, p in todo}):
            ids = [s.id for s, p in todo if p.end == end]
            previous.update(self.store.previous_period_ends(ids, end, FREQUENCIES))
        out = [(s, catch_up(p, s.frequency, previous.get(s.id))) for s, p in todo]
        widened = {(s.id, p.key) for (s, p), (_, old) in zip(out, todo, strict=True) if p != old}
        return out, widened

    def _compose_rows(
        self, todo: Sequence[tuple[Subscriber, Period]], domain: str
    ) -> list[ComposedRow]:
        if not todo:
            return []
        earliest = min(p.start for _, p in todo)
        dismissed = self._with_account_follows(todo)
        sent = self.store.sent_papers([s.id for s, _ in todo], earliest)
        rows: list[ComposedRow] = []
        for sub, period in todo:
            pool = self.pool(period.start, period.end)
            for query in sub.saved_searches:
                self.search_hits(pool, query)
            skip = sent.get(sub.id, set()) | dismissed.get(sub.email, set())
            digest = compose_digest(sub, period, pool, skip, self._recommended(sub, period, skip))
            row = ComposedRow(sub.id, period.key, period.end, sub.email, "empty")
            if not digest.empty:
                rendered = render_digest(digest, self.links(sub))
                row.status = "composed"
                row.subject, row.text_body, row.html_body = (
                    rendered.subject,
                    rendered.text,
                    rendered.html,
                )
                row.message_id = message_id_for(sub.id, period.key, self.key, domain)
                row.paper_ids = digest.paper_ids
            rows.append(row)
        return rows

    def _recommended(
        self, sub: Subscriber, period: Period, skip: set[str]
    ) -> list[tuple[str, str]]:
        if self.recommend is None:
            return []
        try:
            return self.recommend(sub.email, period.start, period.end, skip, sub.max_papers)
        except Exception:  # the rest of the digest still goes out
            log.exception("recommendations for subscriber %s failed", sub.id)
            return []

    # -- sending -------------------------------------------------------------------

    def send_due(self, now: datetime | None = None) -> SendReport:
        """Drain due outbox rows with `digest_send_workers` threads, each reusing one SMTP
        connection. One failing message never stops the batch; a server that cannot be
        reached at all ends this round (the rows stay due for the next)."""
        report = SendReport()
        crash_after = int(os.environ.get(CRASH_HOOK, "0") or 0)
        workers = max(1, self.settings.digest_send_workers)
        work: queue.Queue[int | None] = queue.Queue(maxsize=workers * 4)
        unreachable = threading.Event()
        lock = threading.Lock()

        def worker() -> None:
            with SmtpSender(self.settings) as smtp:
                while (outbox_id := work.get()) is not None:
                    if unreachable.is_set():
                        continue
                    try:
                        outcome = self._send_one(outbox_id, smtp, report, crash_after, lock)
                    except Exception:  # e.g. the database, mid-batch: this one waits
                        # for its lease to run out and is taken again (a claim counts
                        # the attempt); the worker goes on with the rest, and the
                        # feeder, which waits on this worker's queue, never hangs
                        log.exception("digest message %s: sending it failed", outbox_id)
                        with lock:
                            report.errors += 1
                        continue
                    if outcome == "unreachable":
                        unreachable.set()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        try:
            last = 0
            while not unreachable.is_set():
                ids = self.store.due_ids(now or datetime.now(UTC), after_id=last)
                if not ids:
                    break
                for outbox_id in ids:  # each row at most once per call
                    work.put(outbox_id)
                last = ids[-1]
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
        queued = self.store.pending_count()
        if queued and not (report.sent or report.retrying or report.failed):
            self._check_server(report)  # all waiting: is the server they wait for usable?
        if report.unreachable:
            report.queued = queued
        return report

    def _check_server(self, report: SendReport) -> None:
        """A round that had nothing due while messages wait (e.g. put back after the server
        could not be reached) says whether the server can be used now, as one that sent."""
        try:
            with SmtpSender(self.settings) as smtp:
                smtp.check()
        except DeliveryError as exc:
            report.unreachable = exc.reply

    def _send_one(
        self,
        outbox_id: int,
        smtp: SmtpSender,
        report: SendReport,
        crash_after: int,
        lock: threading.Lock,
    ) -> str:
        moment = datetime.now(UTC)
        lease = moment + timedelta(seconds=self.settings.digest_lease_seconds)
        msg = self.store.claim(
            outbox_id,
            moment,
            lease,
            self.settings.digest_resend_interrupted,
            self.settings.digest_max_attempts,
        )
        if msg is None:
            return "skipped"
        sub = Subscriber(id=msg.subscriber_id, email=msg.recipient)
        email = build_message(
            settings=self.settings,
            recipient=msg.recipient,
            subject=msg.subject,
            text=msg.text_body,
            html=msg.html_body,
            message_id=msg.message_id,
            unsubscribe_url=self.links(sub).unsubscribe,
        )
        try:
            reply = smtp.send(
                email, msg.recipient, before_final_dot=lambda: self.store.mark_handed(msg.id)
            )
        except DeliveryError as exc:
            with lock:
                return self._record_failure(msg.id, msg.attempts, exc, report)
        with lock:
            report.sent += 1
            if crash_after and report.sent >= crash_after:
                os._exit(137)  # test hook: accepted by SMTP, not yet recorded
        self.store.mark_sent(msg.id, reply)
        return "sent"

    def _record_failure(
        self, outbox_id: int, attempts: int, exc: DeliveryError, report: SendReport
    ) -> str:
        report.replies.append(exc.reply)
        if exc.at_connect:  # says nothing about this message: put it back, stop this round
            later = datetime.now(UTC) + timedelta(seconds=self.settings.digest_retry_base)
            self.store.release(outbox_id, exc.reply, later)
            report.retrying += 1
            report.unreachable = exc.reply
            return "unreachable"
        retry = exc.temporary
        if retry and attempts < self.settings.digest_max_attempts:
            delay = min(MAX_BACKOFF, self.settings.digest_retry_base * 2 ** (attempts - 1))
            self.store.mark_retry(
                outbox_id,
                exc.reply,
                datetime.now(UTC) + timedelta(seconds=delay),
                # the server answered (e.g. 452 to the final "."): certainly not
                # delivered, so at-most-once may send it again too
                refused=not exc.connection_lost,
            )
            report.retrying += 1
        else:
            reason = exc.reply if not retry else f"gave up after {attempts} attempts: {exc.reply}"
            self.store.mark_failed(outbox_id, reason)
            report.failed += 1
        return "failed"
