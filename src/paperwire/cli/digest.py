"""Digest subscribers and delivery (issue 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import click
from rich.markup import escape

from paperwire.cli.base import DAY, MAX_ROWS, Context, cli, pass_ctx
from paperwire.cli.render import out, print_digest_run, print_digest_status, print_subscribers
from paperwire.digest.preferences import MAX_PAPERS


def _preference_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--frequency",
            type=click.Choice(["daily", "weekly"]),
            help="How often. New subscribers: daily.",
        ),
        click.option("--send-time", help="Local send time HH:MM (24 h). New subscribers: 08:00."),
        click.option(
            "--timezone", "tz", help="IANA time zone, e.g. Europe/Berlin. New subscribers: UTC."
        ),
        click.option(
            "--weekday",
            type=click.IntRange(0, 6),
            help="Weekly: 0=Monday … 6=Sunday. New subscribers: 0 (Monday).",
        ),
        click.option(
            "--category",
            "categories",
            multiple=True,
            help="arXiv class such as cs.CL, or archive such as hep-th (repeatable). "
            "New subscribers: none (trending across everything).",
        ),
        click.option("--search", "searches", multiple=True, help="Saved search (repeatable)."),
        click.option("--author", "authors", multiple=True, help="Followed author (repeatable)."),
        click.option(
            "--max-papers",
            type=click.IntRange(1, MAX_PAPERS),
            help="Most papers per email. New subscribers: the "
            "digest_default_max_papers setting (10 unless set).",
        ),
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
        items = service.digest.list_subscribers(status)
    if as_json:
        out.print_json(json.dumps([asdict(s) for s in items], default=str))
        return
    print_subscribers(items)


@subscribers.command("add")
@click.argument("email")
@_preference_options
@pass_ctx
def subscribers_add(ctx: Context, /, email: str, **given: Any) -> None:
    """Add (or update) an ACTIVE subscriber without a confirmation email.

    A new subscriber gets the defaults each option names; updating one changes only the
    options given.

    Example: paperwire subscribers add ada@example.org --category cs.CL --send-time 07:30
    """
    from paperwire.digest.digests import SubscriptionError

    with ctx.service(create=True) as service:
        try:
            sub = service.digest.add_subscriber(email, _preferences(**given))
        except SubscriptionError as exc:
            raise click.ClickException(str(exc)) from exc
    out.print(f"subscriber {sub.id} {escape(sub.email)}: {sub.status}, {sub.frequency}")


@subscribers.command("remove")
@click.argument("email")
@pass_ctx
def subscribers_remove(ctx: Context, email: str) -> None:
    """Delete a subscriber and their delivery history."""
    with ctx.service() as service:
        removed = service.digest.remove_subscriber(email)
    if removed is None:
        raise click.ClickException(f"no subscriber {email}")
    out.print(f"removed {escape(removed)}")


@cli.group()
def digest() -> None:
    """Compose and send email digests."""


@digest.command("run")
@click.option(
    "--date",
    "day",
    type=DAY,
    help="Compose the period of this date for everyone (weekly: on their weekday). "
    "Default: whatever each subscriber's local send time makes due now.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be composed; send nothing.")
@pass_ctx
def digest_run(ctx: Context, day: date | None, dry_run: bool) -> None:
    """Compose due digests into the outbox and send them. Safe to run from cron as often
    as you like, and concurrently: each digest is composed once per subscriber and period
    and sent once (see `paperwire digest status`)."""
    with ctx.service() as service:
        composed, sent = service.digest.run(day, dry_run=dry_run)
    print_digest_run(composed, sent, dry_run)
    if sent.unreachable:  # cron sees it; nothing is lost
        s = ctx.settings
        raise click.ClickException(
            f"could not send through the SMTP server {s.smtp_host}:{s.smtp_port} "
            f"(smtp_security {s.smtp_security}): {' '.join(sent.unreachable.split())}. "
            f"{sent.queued} message(s) stay queued, no attempt counted; once the smtp_* "
            "settings are fixed, they are sent by the next `paperwire digest run` from "
            f"digest_retry_base ({s.digest_retry_base} s) after this one"
        )
    if sent.errors:
        raise click.ClickException(
            f"{sent.errors} message(s) broke off on an error (logged above); the rest of "
            "the batch went on. They are tried again by a `paperwire digest run` after "
            f"digest_lease_seconds ({ctx.settings.digest_lease_seconds} s), up to "
            f"digest_max_attempts ({ctx.settings.digest_max_attempts}) tries in all"
        )


@digest.command("status")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, MAX_ROWS),
    help="Rows of recent problems to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_ctx
def digest_status(ctx: Context, limit: int, as_json: bool) -> None:
    """Delivery status: counts by state, and retrying/failed messages with the SMTP reply."""
    with ctx.service() as service:
        data = service.digest.status(limit)
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    print_digest_status(data)
