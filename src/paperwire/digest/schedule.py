"""When digests are due: periods, local send times, time zones and DST. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperwire.models import Subscriber

FREQUENCIES = ("daily", "weekly")
# A daily digest for day D covers papers listed on [D-1, D], a weekly one [D-7, D]: the
# windows overlap so that nothing falls between two digests whatever the time zone; the
# sent-papers record makes sure an overlapping paper is never sent twice.
WINDOW_DAYS = {"daily": 1, "weekly": 7}
# A digest after missed ones (the server was down, cron stopped) reaches back to the end of
# the subscriber's previous digest, so nothing listed in between is lost; at most this many
# days before its own day (a daily one: the weekly window; a weekly one: two weeks).
CATCH_UP_DAYS = {"daily": 7, "weekly": 14}


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # "daily:2026-07-01" — with the subscriber id, the idempotency key
    start: date
    end: date


def parse_send_time(text: str) -> time:
    try:
        hour, minute = text.strip().split(":")
        return time(int(hour), int(minute))
    except ValueError:
        raise ValueError(f"send time must be HH:MM (24 h), got {text!r}") from None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like Europe/Berlin"
        ) from None


def period_for(subscriber: Subscriber, day: date) -> Period | None:
    """The digest period a subscriber has on local date `day` (None: weekly, other weekday)."""
    if subscriber.frequency == "weekly" and day.weekday() != subscriber.weekday:
        return None
    span = WINDOW_DAYS.get(subscriber.frequency, 1)
    return Period(f"{subscriber.frequency}:{day.isoformat()}", day - timedelta(days=span), day)


def catch_up(period: Period, frequency: str, previous_end: date | None) -> Period:
    """`period` reaching back to `previous_end`, the end of the subscriber's previous
    digest, when digests were missed in between (never further than CATCH_UP_DAYS before
    its end). Its key, and so its Message-ID, stays the period's own; the sent-papers
    record still keeps a paper of the overlap from being mailed twice."""
    if previous_end is None or previous_end >= period.start:
        return period
    earliest = period.end - timedelta(days=CATCH_UP_DAYS.get(frequency, 7))
    return Period(period.key, max(previous_end, earliest), period.end)


def send_at(subscriber: Subscriber, day: date) -> datetime:
    """The UTC instant of the subscriber's send time on local date `day`.

    DST: a send time inside a spring-forward gap (02:30 when clocks jump 02:00 -> 03:00)
    is shifted forward by the gap (03:30 local); a time that happens twice on a fall-back
    night is taken at its first occurrence (PEP 495 fold=0)."""
    local = datetime.combine(
        day, parse_send_time(subscriber.send_time), tzinfo=zone(subscriber.timezone)
    )
    return local.astimezone(UTC)


def due_period(subscriber: Subscriber, now: datetime) -> Period | None:
    """The latest period whose send time has passed, looking at the subscriber's local
    today and yesterday (so a missed run catches up once). Periods before the local day
    of confirmation are never due."""
    tz = zone(subscriber.timezone)
    today = now.astimezone(tz).date()
    confirmed = subscriber.confirmed_at.astimezone(tz).date() if subscriber.confirmed_at else None
    for day in (today, today - timedelta(days=1)):
        if confirmed is not None and day < confirmed:
            continue
        period = period_for(subscriber, day)
        if period is not None and now >= send_at(subscriber, day):
            return period
    return None
