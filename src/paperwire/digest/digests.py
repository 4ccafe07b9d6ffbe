"""Digests as one object the Service owns: subscriptions (double opt-in, signed links)
and delivery (compose into the outbox, send over SMTP; see DigestRunner).

Built from the papers store, a search callable and the settings, so it needs nothing
else of the Service: the CLI and web call ``service.digest.subscribe(...)``,
``service.digest.run(...)`` and so on.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from email.message import Message
from typing import Any

from paperwire.config import Settings
from paperwire.digest import preferences as prefs
from paperwire.digest.compose import add_follows
from paperwire.digest.render import Links, render_confirmation
from paperwire.digest.runner import ComposeReport, DigestRunner, SearchFn, SendReport
from paperwire.digest.tokens import TokenError, make_token, read_token
from paperwire.mail import build_message, mail_domain, send_rate_limited
from paperwire.models import OutboxMessage, Subscriber
from paperwire.store import Store
from paperwire.store.digest import DigestStore
from paperwire.store.library import LibraryStore

NOTICE_GAP_SECONDS = 600.0
CANCELLED = "this subscription was cancelled; subscribe again"


class SubscriptionError(ValueError):
    """A subscription request or link that cannot be honoured; the message says why."""


class Digests:
    """Subscriptions and delivery for one Settings and papers store."""

    def __init__(self, settings: Settings, papers: Store, search: SearchFn | None = None) -> None:
        self.settings = settings
        self.runner = DigestRunner(settings, papers, search)
        self.store: DigestStore = self.runner.store
        self.key = self.runner.key

    def links(self, subscriber: Subscriber) -> Links:
        """Where a subscriber's manage and unsubscribe links point."""
        return self.runner.links(subscriber)

    def manage_url(self, subscriber: Subscriber) -> str:
        return self.links(subscriber).manage

    def unsubscribe_url(self, subscriber: Subscriber) -> str:
        return self.links(subscriber).unsubscribe

    def compose(
        self, day: date | None = None, now: datetime | None = None, dry_run: bool = False
    ) -> ComposeReport:
        return self.runner.compose(day=day, now=now, dry_run=dry_run)

    def send_due(self, now: datetime | None = None) -> SendReport:
        return self.runner.send_due(now)

    def subscribe(self, email: str, preferences: dict[str, Any] | None = None) -> None:
        """Start double opt-in: the same outcome for the caller whatever the address's
        state; its owner gets a confirmation link (or, if already active, a manage link).
        `preferences` are stored for a new address only: a known one (pending, active, or
        unsubscribed and re-opened as pending) keeps what it has, since anyone can type an
        address in; its owner changes them through the manage link.
        Raises DeliveryError when the mail server cannot take mail now (for every
        address alike); the per-address limit is spent only on a mail that went out."""
        address, values = self._cleaned(email, preferences)
        sub, _created = self.store.subscribe(address, values)
        send_rate_limited(  # one email per address per NOTICE_GAP_SECONDS: no mail-bombing
            self.settings,
            sub.email,
            claim=lambda: self.store.claim_notice(sub.id, NOTICE_GAP_SECONDS),
            release=lambda: self.store.release_notice(sub.id),
            build=lambda: self._confirmation(sub),
        )

    def _cleaned(
        self, email: str, preferences: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        """The address and the defaults overlaid with the given preferences, validated."""
        try:
            address = prefs.clean_email(email)
            values = {**prefs.defaults(self.settings.digest_default_max_papers)}
            values.update(prefs.clean_preferences(preferences or {}))
            return address, values
        except prefs.PreferenceError as exc:
            raise SubscriptionError(str(exc)) from None

    def _confirmation(self, sub: Subscriber) -> Message:
        base = self.settings.base_url.rstrip("/")
        confirm = (
            f"{base}/subscribe/confirm?token={make_token(self.key, 'confirm', sub.id, sub.email)}"
        )
        manage = self.manage_url(sub) if sub.status == "active" else None
        rendered = render_confirmation(confirm, manage)
        return build_message(
            settings=self.settings,
            recipient=sub.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=f"<confirm.{sub.id}.{secrets.token_hex(8)}@{mail_domain(self.settings)}>",
        )

    def subscriber_for_token(self, token: str, purpose: str) -> Subscriber:
        try:
            sub_id, email = read_token(self.key, purpose, token)
        except TokenError as exc:
            raise SubscriptionError(str(exc)) from None
        sub = self.store.get(sub_id)
        if sub is None or sub.email != email:
            raise SubscriptionError("this link is for a subscription that no longer exists")
        if purpose == "manage":  # show follows made on the website by the same address
            website = LibraryStore(self.store.engine).follows_by_email([sub.email])
            add_follows(sub, website.get(sub.email, []))
        return sub

    def subscriber_to_confirm(self, token: str) -> Subscriber:
        """The subscriber a confirmation link is for, changing nothing (the page the link
        opens); SubscriptionError when the link is bad or the subscription was cancelled."""
        sub = self.subscriber_for_token(token, "confirm")
        if sub.status == "unsubscribed":
            raise SubscriptionError(CANCELLED)
        return sub

    def confirm_subscription(self, token: str) -> Subscriber:
        """pending -> active for a valid confirmation link (the confirm page's POST)."""
        sub = self.subscriber_for_token(token, "confirm")
        confirmed = self.store.confirm(sub.id)
        if confirmed is None:
            raise SubscriptionError(CANCELLED)
        return confirmed

    def update_subscription(self, token: str, values: dict[str, Any]) -> Subscriber:
        sub = self.subscriber_for_token(token, "manage")
        try:
            cleaned = prefs.clean_preferences(values)
        except prefs.PreferenceError as exc:
            raise SubscriptionError(str(exc)) from None
        store = self.store
        store.update_preferences(sub.id, cleaned)
        if "followed_authors" in cleaned:  # one list per address (issue 13)
            LibraryStore(self.store.engine).set_follows_for_email(
                sub.email, cleaned["followed_authors"]
            )
        updated = store.get(sub.id)
        assert updated is not None
        return updated

    def unsubscribe(self, token: str) -> Subscriber:
        """One-click unsubscribe (manage tokens work too). Idempotent."""
        try:
            sub = self.subscriber_for_token(token, "unsubscribe")
        except SubscriptionError:
            sub = self.subscriber_for_token(token, "manage")
        self.store.unsubscribe(sub.id)
        return sub

    def add_subscriber(self, email: str, preferences: dict[str, Any] | None = None) -> Subscriber:
        """Admin path: an active subscriber without the confirmation email."""
        address, values = self._cleaned(email, preferences)
        store = self.store
        sub, created = store.subscribe(address, values)
        if not created:
            store.update_preferences(sub.id, prefs.clean_preferences(preferences or {}))
        store.activate(sub.id)
        fresh = store.get(sub.id)
        assert fresh is not None
        return fresh

    def remove_subscriber(self, email: str) -> str | None:
        """Delete the subscriber `email` names, spelt as `add_subscriber` takes it (spaces,
        capitals, an international domain); the address as stored, None if there is none.
        A spelling the address rules now refuse is looked up as given (trimmed, lower-cased),
        so an address stored under older rules can still be removed."""
        try:
            address = prefs.clean_email(email)
        except prefs.PreferenceError:
            address = email.strip().lower()
        return address if self.store.remove(address) else None

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        return self.store.list_subscribers(status)

    def run(
        self, day: date | None = None, dry_run: bool = False, now: datetime | None = None
    ) -> tuple[ComposeReport, SendReport]:
        """Compose what is due into the outbox, then send what the outbox holds."""
        composed = self.runner.compose(day=day, now=now, dry_run=dry_run)
        if dry_run:
            return composed, SendReport()
        return composed, self.runner.send_due()

    def status(self, limit: int = 20) -> dict[str, Any]:
        store = self.store

        def row(m: OutboxMessage) -> dict[str, Any]:
            return {
                "id": m.id,
                "recipient": m.recipient,
                "period": m.period,
                "status": m.status,
                "attempts": m.attempts,
                "papers": m.paper_count,
                "last_reply": m.last_reply,
                "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "message_id": m.message_id,
            }

        people = store.subscriber_counts()
        return {
            "counts": store.status_counts(),
            "subscribers": {s: people.get(s, 0) for s in ("pending", "active", "unsubscribed")},
            "problems": [row(m) for m in store.messages(("retrying", "failed", "sending"), limit)],
            "recent": [row(m) for m in store.messages((), limit)],
        }
