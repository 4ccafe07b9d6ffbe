"""The digest part of the Service facade: subscriptions and delivery.

Service inherits this mixin, so the CLI and web call ``service.subscribe(...)``,
``service.digest_run(...)`` etc. like any other Service method.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from paperwire.config import Settings
from paperwire.digest import preferences as prefs
from paperwire.digest.compose import normalize_name
from paperwire.digest.mail import SmtpSender, build_message, mail_domain
from paperwire.digest.render import render_confirmation
from paperwire.digest.runner import ComposeReport, DigestRunner, SendReport
from paperwire.digest.tokens import TokenError, make_token, read_token
from paperwire.models import OutboxMessage, Subscriber
from paperwire.store import Store
from paperwire.store.library import LibraryStore

NOTICE_GAP_SECONDS = 600.0


class SubscriptionError(ValueError):
    """A subscription request or link that cannot be honoured; the message says why."""


class DigestFacade:
    settings: Settings
    store: Store

    def digest(self) -> DigestRunner:
        return DigestRunner(self)

    def subscribe(self, email: str, preferences: dict[str, Any] | None = None) -> None:
        """Start double opt-in: always the same outcome for the caller; the address's
        owner gets a confirmation link (or, if already active, a manage link)."""
        try:
            address = prefs.clean_email(email)
            values = {**prefs.defaults(self.settings.digest_default_max_papers)}
            values.update(prefs.clean_preferences(preferences or {}))
        except prefs.PreferenceError as exc:
            raise SubscriptionError(str(exc)) from None
        runner = self.digest()
        sub, _created = runner.store.subscribe(address, values)
        if not runner.store.claim_notice(sub.id, NOTICE_GAP_SECONDS):
            return  # one email per address per NOTICE_GAP_SECONDS: no mail-bombing via the form
        base = self.settings.base_url.rstrip("/")
        confirm = (
            f"{base}/subscribe/confirm?token={make_token(runner.key, 'confirm', sub.id, sub.email)}"
        )
        manage = runner.links(sub).manage if sub.status == "active" else None
        rendered = render_confirmation(confirm, manage)
        message = build_message(
            settings=self.settings,
            recipient=sub.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=f"<confirm.{sub.id}.{secrets.token_hex(8)}@{mail_domain(self.settings)}>",
        )
        with SmtpSender(self.settings) as sender:
            sender.send(message)

    def subscriber_for_token(self, token: str, purpose: str) -> Subscriber:
        runner = self.digest()
        try:
            sub_id, email = read_token(runner.key, purpose, token)
        except TokenError as exc:
            raise SubscriptionError(str(exc)) from None
        sub = runner.store.get(sub_id)
        if sub is None or sub.email != email:
            raise SubscriptionError("this link is for a subscription that no longer exists")
        if purpose == "manage":  # show follows made on the website by the same address
            known = {normalize_name(n) for n in sub.followed_authors}
            website = LibraryStore(self.store.engine).follows_by_email([sub.email])
            sub.followed_authors += [
                n for n in website.get(sub.email, []) if normalize_name(n) not in known
            ]
        return sub

    def confirm_subscription(self, token: str) -> Subscriber:
        sub = self.subscriber_for_token(token, "confirm")
        confirmed = self.digest().store.confirm(sub.id)
        if confirmed is None:
            raise SubscriptionError("this subscription was cancelled; subscribe again")
        return confirmed

    def update_subscription(self, token: str, values: dict[str, Any]) -> Subscriber:
        sub = self.subscriber_for_token(token, "manage")
        try:
            cleaned = prefs.clean_preferences(values)
        except prefs.PreferenceError as exc:
            raise SubscriptionError(str(exc)) from None
        store = self.digest().store
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
        self.digest().store.unsubscribe(sub.id)
        return sub

    def add_subscriber(self, email: str, preferences: dict[str, Any] | None = None) -> Subscriber:
        """Admin path: an active subscriber without the confirmation email."""
        try:
            address = prefs.clean_email(email)
            values = {**prefs.defaults(self.settings.digest_default_max_papers)}
            values.update(prefs.clean_preferences(preferences or {}))
        except prefs.PreferenceError as exc:
            raise SubscriptionError(str(exc)) from None
        store = self.digest().store
        sub, created = store.subscribe(address, values)
        if not created:
            store.update_preferences(sub.id, prefs.clean_preferences(preferences or {}))
        store.activate(sub.id)
        fresh = store.get(sub.id)
        assert fresh is not None
        return fresh

    def remove_subscriber(self, email: str) -> bool:
        return self.digest().store.remove(email)

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        return self.digest().store.list_subscribers(status)

    def digest_run(
        self, day: date | None = None, dry_run: bool = False, now: datetime | None = None
    ) -> tuple[ComposeReport, SendReport]:
        """Compose what is due into the outbox, then send what the outbox holds."""
        runner = self.digest()
        composed = runner.compose(day=day, now=now, dry_run=dry_run)
        if dry_run:
            return composed, SendReport()
        return composed, runner.send_due()

    def digest_status(self, limit: int = 20) -> dict[str, Any]:
        store = self.digest().store

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
