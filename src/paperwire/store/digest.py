"""Digest storage: subscribers, papers already sent to each, and the delivery outbox.

Every public method is one transaction. The outbox is the hand-over point between
composing and sending; see paperwire.digest for the delivery guarantees built on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from paperwire.models import OutboxMessage, Subscriber
from paperwire.store.digest_tables import outbox, sent_papers, subscribers
from paperwire.store.mailboxes import same_mailbox

PREFERENCE_FIELDS = (
    "frequency",
    "send_time",
    "timezone",
    "weekday",
    "categories",
    "saved_searches",
    "followed_authors",
    "max_papers",
)
PENDING_DELIVERY = ("composed", "retrying")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(slots=True)
class ComposedRow:
    """One outbox row to write, with the papers it reserves for its subscriber."""

    subscriber_id: int
    period: str
    period_end: date
    recipient: str
    status: str  # composed | empty
    subject: str = ""
    text_body: str = ""
    html_body: str = ""
    message_id: str = ""
    paper_ids: list[str] = field(default_factory=list)


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        status=row.status,
        frequency=row.frequency,
        send_time=row.send_time,
        timezone=row.timezone,
        weekday=row.weekday,
        categories=list(row.categories or []),
        saved_searches=list(row.saved_searches or []),
        followed_authors=list(row.followed_authors or []),
        max_papers=row.max_papers,
        created_at=_aware(row.created_at),
        confirmed_at=_aware(row.confirmed_at),
    )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        subscriber_id=row.subscriber_id,
        period=row.period,
        recipient=row.recipient,
        status=row.status,
        subject=row.subject,
        text_body=row.text_body,
        html_body=row.html_body,
        message_id=row.message_id,
        attempts=row.attempts,
        paper_count=row.paper_count,
        last_reply=row.last_reply,
        next_attempt_at=_aware(row.next_attempt_at),
        sent_at=_aware(row.sent_at),
    )


class DigestStore:
    """Subscribers and outbox on the Store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- subscribers -------------------------------------------------------------

    def subscribe(self, email: str, preferences: dict[str, Any]) -> tuple[Subscriber, bool]:
        """Create a pending subscriber with `preferences`, or return the existing one
        unchanged but for re-opening an unsubscribed address as pending: its stored
        preferences stay (anyone can ask to subscribe an address; only its owner, through
        the manage link, changes what it receives). Returns (subscriber, created)."""
        email = email.strip().lower()
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()
            if row is not None:
                if row.status == "unsubscribed":
                    conn.execute(
                        subscribers.update()
                        .where(subscribers.c.id == row.id)
                        .values(status="pending", unsubscribed_at=None)
                    )
                    row = conn.execute(
                        sa.select(subscribers).where(subscribers.c.id == row.id)
                    ).one()
                return _subscriber(row), False
            values = {"email": email, "status": "pending", "created_at": now, **preferences}
            key = conn.execute(subscribers.insert().values(values)).inserted_primary_key
            assert key is not None
            row = conn.execute(sa.select(subscribers).where(subscribers.c.id == key[0])).one()
            return _subscriber(row), True

    def add_active_many(self, items: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Bulk-create active subscribers (imports, benchmarks); existing emails are skipped.
        `items` are (email, full preference dict) already validated."""
        now = _now()
        with self.engine.begin() as conn:
            known = {r[0] for r in conn.execute(sa.select(subscribers.c.email))}
            rows = [
                {
                    "email": email.lower(),
                    "status": "active",
                    "created_at": now,
                    "confirmed_at": now,
                    **prefs,
                }
                for email, prefs in items
                if email.lower() not in known
            ]
            if rows:
                conn.execute(subscribers.insert(), rows)
        return len(rows)

    def get(self, subscriber_id: int) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(subscribers).where(subscribers.c.id == subscriber_id)
            ).first()
        return _subscriber(row) if row else None

    def get_by_email(self, email: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(subscribers).where(subscribers.c.email == email.strip().lower())
            ).first()
        return _subscriber(row) if row else None

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        query = sa.select(subscribers).order_by(subscribers.c.id)
        if status:
            query = query.where(subscribers.c.status == status)
        with self.engine.connect() as conn:
            return [_subscriber(r) for r in conn.execute(query)]

    def iter_active(self, batch_size: int = 500) -> Iterator[list[Subscriber]]:
        last = 0
        while True:
            query = (
                sa.select(subscribers)
                .where(subscribers.c.status == "active", subscribers.c.id > last)
                .order_by(subscribers.c.id)
                .limit(batch_size)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            yield [_subscriber(r) for r in rows]
            last = rows[-1].id

    def confirm(self, subscriber_id: int) -> Subscriber | None:
        """pending -> active (idempotent); None when the subscriber is gone or unsubscribed."""
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id, subscribers.c.status == "pending")
                .values(status="active", confirmed_at=_now(), last_notice_at=None)
            )
            row = conn.execute(
                sa.select(subscribers).where(subscribers.c.id == subscriber_id)
            ).first()
        if row is None or row.status != "active":
            return None
        return _subscriber(row)

    def claim_notice(self, subscriber_id: int, min_gap_seconds: float) -> bool:
        """True (and the time noted) if no confirmation/reminder email went to this
        subscriber, nor to another ``+tag`` spelling of its mailbox (store.mailboxes), in
        the last `min_gap_seconds`: one conditional UPDATE, race-free for the address."""
        now = _now()
        recent = now - timedelta(seconds=min_gap_seconds)
        with self.engine.begin() as conn:
            email = conn.execute(
                sa.select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
            ).scalar()
            if email is None:
                return False
            sibling = subscribers.alias("sibling")
            noticed = sa.select(sibling.c.id).where(
                same_mailbox(sibling.c.email, email),
                sibling.c.id != subscriber_id,
                sibling.c.last_notice_at >= recent,
            )
            done = conn.execute(
                subscribers.update()
                .where(
                    subscribers.c.id == subscriber_id,
                    sa.or_(
                        subscribers.c.last_notice_at.is_(None),
                        subscribers.c.last_notice_at < recent,
                    ),
                    ~sa.exists(noticed),
                )
                .values(last_notice_at=now)
            )
        return done.rowcount == 1

    def release_notice(self, subscriber_id: int) -> None:
        """Give back a claim_notice whose email could not be sent (a claim only succeeds
        when the previous notice is older than the gap, so forgetting it is exact)."""
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(last_notice_at=None)
            )

    def activate(self, subscriber_id: int) -> None:
        """Admin path (CLI add): active without confirmation."""
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(status="active", confirmed_at=_now(), unsubscribed_at=None)
            )

    def update_preferences(self, subscriber_id: int, preferences: dict[str, Any]) -> None:
        unknown = set(preferences) - set(PREFERENCE_FIELDS)
        if unknown:
            raise ValueError(f"unknown preference(s): {', '.join(sorted(unknown))}")
        if not preferences:
            return
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update().where(subscribers.c.id == subscriber_id).values(preferences)
            )

    def unsubscribe(self, subscriber_id: int) -> bool:
        """Stop all mail now: mark unsubscribed and cancel undelivered digests."""
        with self.engine.begin() as conn:
            done = conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id, subscribers.c.status != "unsubscribed")
                .values(status="unsubscribed", unsubscribed_at=_now())
            )
            conn.execute(
                outbox.update()
                .where(
                    outbox.c.subscriber_id == subscriber_id,
                    outbox.c.status.in_(PENDING_DELIVERY),
                )
                .values(status="cancelled", last_reply="unsubscribed before delivery")
            )
        return done.rowcount > 0

    def remove(self, email: str) -> bool:
        """Delete a subscriber and everything recorded about them."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(subscribers.c.id).where(subscribers.c.email == email.strip().lower())
            ).first()
            if row is None:
                return False
            conn.execute(sent_papers.delete().where(sent_papers.c.subscriber_id == row.id))
            conn.execute(outbox.delete().where(outbox.c.subscriber_id == row.id))
            conn.execute(subscribers.delete().where(subscribers.c.id == row.id))
        return True

    # -- composing ---------------------------------------------------------------

    def existing_periods(
        self, subscriber_ids: Sequence[int], periods: Sequence[str]
    ) -> set[tuple[int, str]]:
        if not subscriber_ids or not periods:
            return set()
        query = sa.select(outbox.c.subscriber_id, outbox.c.period).where(
            outbox.c.subscriber_id.in_(list(subscriber_ids)), outbox.c.period.in_(list(periods))
        )
        with self.engine.connect() as conn:
            return {(r[0], r[1]) for r in conn.execute(query)}

    def previous_period_ends(
        self, subscriber_ids: Sequence[int], before: date, kinds: Sequence[str]
    ) -> dict[int, date]:
        """The last day of each subscriber's latest digest (of any status, empty ones too)
        whose period ends before `before`; subscribers with none are left out. Periods
        are keyed "kind:YYYY-MM-DD" (the day is the period's end), for each of `kinds`."""
        out: dict[int, date] = {}
        if not subscriber_ids:
            return out
        with self.engine.connect() as conn:
            for kind in kinds:
                query = (
                    sa.select(outbox.c.subscriber_id, sa.func.max(outbox.c.period))
                    .where(
                        outbox.c.subscriber_id.in_(list(subscriber_ids)),
                        outbox.c.period.like(f"{kind}:%"),
                        outbox.c.period < f"{kind}:{before.isoformat()}",  # ISO days sort
                    )
                    .group_by(outbox.c.subscriber_id)
                )
                for sub_id, key in conn.execute(query):
                    end = date.fromisoformat(str(key).split(":", 1)[1])
                    out[sub_id] = max(end, out.get(sub_id, end))
        return out

    def sent_papers(self, subscriber_ids: Sequence[int], since_end: date) -> dict[int, set[str]]:
        """Papers reserved for each subscriber by digests whose period ended on or after
        `since_end` (a paper listed on day X can only be in periods ending on/after X)."""
        out: dict[int, set[str]] = {i: set() for i in subscriber_ids}
        if not subscriber_ids:
            return out
        query = sa.select(sent_papers.c.subscriber_id, sent_papers.c.arxiv_id).where(
            sent_papers.c.subscriber_id.in_(list(subscriber_ids)),
            sent_papers.c.period_end >= since_end,
        )
        with self.engine.connect() as conn:
            for sub_id, arxiv_id in conn.execute(query):
                out[sub_id].add(arxiv_id)
        return out

    def record_composed(self, rows: Sequence[ComposedRow]) -> list[ComposedRow]:
        """Write digests to the outbox and reserve their papers, atomically.

        Returns the rows written. Rows whose (subscriber, period) already exists (another
        run got there first) are skipped."""
        if not rows:
            return []
        try:
            with self.engine.begin() as conn:
                self._insert_composed(conn, rows)
            return list(rows)
        except sa.exc.IntegrityError:
            written: list[ComposedRow] = []
            for row in rows:  # a concurrent run wrote some of them: go one by one
                try:
                    with self.engine.begin() as conn:
                        self._insert_composed(conn, [row])
                    written.append(row)
                except sa.exc.IntegrityError:
                    continue
            return written

    def _insert_composed(self, conn: Connection, rows: Sequence[ComposedRow]) -> None:
        now = _now()
        values = [
            {
                "subscriber_id": row.subscriber_id,
                "period": row.period,
                "recipient": row.recipient,
                "status": row.status,
                "subject": row.subject,
                "text_body": row.text_body,
                "html_body": row.html_body,
                "message_id": row.message_id,
                "paper_count": len(row.paper_ids),
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for row in rows
        ]
        result = conn.execute(
            outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True), values
        )
        reserved = [
            {
                "subscriber_id": row.subscriber_id,
                "arxiv_id": arxiv_id,
                "outbox_id": outbox_id,
                "period_end": row.period_end,
            }
            for (outbox_id,), row in zip(result.all(), rows, strict=True)
            for arxiv_id in row.paper_ids
        ]
        if reserved:
            conn.execute(sent_papers.insert(), reserved)

    # -- sending -----------------------------------------------------------------

    def due_ids(self, now: datetime, after_id: int = 0, limit: int = 500) -> list[int]:
        """Outbox rows to attempt now: new, retry due, or a send whose lease ran out."""
        query = (
            sa.select(outbox.c.id)
            .where(
                sa.or_(
                    sa.and_(outbox.c.status.in_(PENDING_DELIVERY), outbox.c.next_attempt_at <= now),
                    sa.and_(outbox.c.status == "sending", outbox.c.lease_until < now),
                ),
                outbox.c.id > after_id,
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def claim(
        self,
        outbox_id: int,
        now: datetime,
        lease_until: datetime,
        resend_interrupted: bool,
        max_attempts: int | None = None,
    ) -> OutboxMessage | None:
        """Take one message for sending (status -> sending, attempts + 1) if it is still
        due and its subscriber is still active; None when someone else has it, it is done,
        or it was cancelled/failed here (unsubscribed; interrupted after hand-over under
        at-most-once). A 'sending' row whose lease ran out and that never reached the final
        "." (handed_at empty) was certainly not delivered and is simply taken again.
        Such a row that has had `max_attempts` tries (each ended with its sender before
        any reply: a process that dies on this message every time) is failed instead.
        The common case is one conditional UPDATE … RETURNING."""
        due = sa.or_(
            sa.and_(outbox.c.status.in_(PENDING_DELIVERY), outbox.c.next_attempt_at <= now),
            sa.and_(outbox.c.status == "sending", outbox.c.lease_until < now),
        )
        tries_left = (
            sa.true()
            if max_attempts is None
            else sa.or_(outbox.c.status != "sending", outbox.c.attempts < max_attempts)
        )
        active = (
            sa.select(subscribers.c.id)
            .where(subscribers.c.id == outbox.c.subscriber_id, subscribers.c.status == "active")
            .exists()
        )
        unambiguous = sa.true() if resend_interrupted else outbox.c.handed_at.is_(None)
        with self.engine.begin() as conn:
            row = conn.execute(
                outbox.update()
                .where(outbox.c.id == outbox_id, due, active, unambiguous, tries_left)
                .values(
                    status="sending",
                    lease_until=lease_until,
                    handed_at=None,
                    attempts=outbox.c.attempts + 1,
                )
                .returning(*outbox.c)
            ).first()
            if row is not None:
                return _message(row)
            self._settle_unclaimable(conn, outbox_id, due, resend_interrupted)
        return None

    def _settle_unclaimable(
        self, conn: Connection, outbox_id: int, due: Any, resend_interrupted: bool
    ) -> None:
        """A due row we may not send: cancel it (subscriber gone or unsubscribed); fail it
        when it is out of tries; or, under at-most-once, fail a send interrupted after
        hand-over instead of re-sending it."""
        row = conn.execute(
            sa.select(
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.handed_at,
                subscribers.c.status.label("sub_status"),
            )
            .select_from(outbox.outerjoin(subscribers, subscribers.c.id == outbox.c.subscriber_id))
            .where(outbox.c.id == outbox_id, due)
        ).first()
        if row is None:
            return  # not due (any more): done, or another sender holds it
        if row.sub_status != "active":
            values: dict[str, Any] = {
                "status": "cancelled",
                "last_reply": "unsubscribed before delivery",
            }
        elif row.handed_at is None or resend_interrupted:  # out of tries (see claim)
            values = {
                "status": "failed",
                "lease_until": None,
                "last_reply": f"gave up after {row.attempts} attempts: each ended before "
                "the server answered (the process sending it stopped)",
            }
        else:
            values = {
                "status": "failed",
                "lease_until": None,
                "last_reply": "interrupted after handing the message to SMTP; it may have "
                "been delivered; not re-sent (at-most-once policy)",
            }
        conn.execute(outbox.update().where(outbox.c.id == outbox_id, due).values(values))

    def mark_handed(self, outbox_id: int) -> None:
        """The whole message is on the wire; only the final "." is left to send."""
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == outbox_id).values(handed_at=_now()))

    def mark_sent(self, outbox_id: int, reply: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == outbox_id)
                .values(status="sent", sent_at=_now(), lease_until=None, last_reply=reply)
            )

    def mark_retry(
        self, outbox_id: int, reply: str, next_attempt_at: datetime, refused: bool = False
    ) -> None:
        """Try again at `next_attempt_at`. `refused`: the server answered that it did not
        take the message (a 4xx reply, even to the final "."), so it was certainly not
        delivered: the hand-over mark is cleared, and at-most-once sends it again too."""
        values: dict[str, Any] = {
            "status": "retrying",
            "lease_until": None,
            "next_attempt_at": next_attempt_at,
            "last_reply": reply,
        }
        if refused:
            values["handed_at"] = None
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == outbox_id).values(values))

    def release(self, outbox_id: int, reply: str, next_attempt_at: datetime) -> None:
        """Undo a claim that never reached the server (no attempt is counted)."""
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == outbox_id)
                .values(
                    status="retrying",
                    lease_until=None,
                    next_attempt_at=next_attempt_at,
                    last_reply=reply,
                    attempts=outbox.c.attempts - 1,
                )
            )

    def mark_failed(self, outbox_id: int, reply: str) -> None:
        """Permanent failure; its papers are released so a later digest may carry them."""
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == outbox_id)
                .values(status="failed", lease_until=None, last_reply=reply)
            )
            conn.execute(sent_papers.delete().where(sent_papers.c.outbox_id == outbox_id))

    # -- status ------------------------------------------------------------------

    def subscriber_counts(self) -> dict[str, int]:
        query = sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query)}

    def pending_count(self) -> int:
        """Messages waiting for delivery (composed, or retrying later)."""
        query = sa.select(sa.func.count()).where(outbox.c.status.in_(PENDING_DELIVERY))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def status_counts(self, period: str | None = None) -> dict[str, int]:
        query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
        if period:
            query = query.where(outbox.c.period == period)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query)}

    def messages(
        self, statuses: Sequence[str] = (), limit: int = 50, subscriber_id: int | None = None
    ) -> list[OutboxMessage]:
        query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(outbox.c.status.in_(list(statuses)))
        if subscriber_id is not None:
            query = query.where(outbox.c.subscriber_id == subscriber_id)
        with self.engine.connect() as conn:
            return [_message(r) for r in conn.execute(query)]
