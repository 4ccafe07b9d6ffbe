"""Login by emailed magic link, sessions and CSRF protection.

* Login links carry an itsdangerous-signed, timestamped token holding the email and a random
  nonce; the nonce's hash is recorded when the link is mailed and marked used on sign-in, so a
  link works once and only within ``settings.login_link_max_age`` seconds.
* Sessions: a random cookie value (HttpOnly, SameSite=Lax); the database keeps only its hash.
* CSRF: every visitor gets a random ``pw_csrf`` cookie; forms carry HMAC(secret, cookie value)
  and POSTs whose token does not match are refused with 403 (signed double-submit).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from email.message import Message
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.addresses import clean_address
from paperwire.config import Settings
from paperwire.keys import load_secret_key
from paperwire.mail import build_message, mail_domain, send_rate_limited
from paperwire.models import User
from paperwire.store.accounts import AccountStore

log = logging.getLogger(__name__)

SESSION_COOKIE = "pw_session"
CSRF_COOKIE = "pw_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LINKS_PER_HOUR = 5


USED_LINK = "This sign-in link was already used. Ask for a new one."


class LoginError(ValueError):
    """A login link that cannot be used; the message is shown to the reader."""


def normalise_email(raw: str) -> str:
    """The address as stored and mailed (paperwire.addresses.clean_address, the check the
    subscribe form uses too); AddressError (a ValueError) with a readable reason if it is
    not one plain address that can be mailed."""
    return clean_address(raw)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Auth:
    """Login tokens, sessions and CSRF tokens for one secret key and account store."""

    def __init__(self, settings: Settings, accounts: AccountStore) -> None:
        self.settings = settings
        self.accounts = accounts
        self.secret = load_secret_key(settings)
        self._login = URLSafeTimedSerializer(self.secret, salt="paperwire-login")
        self.secure_cookies = settings.base_url.startswith("https://")

    # -- magic links -----------------------------------------------------------

    def may_send_link(self, email: str) -> bool:
        """At most LINKS_PER_HOUR sign-in emails per address, so the form cannot mail-bomb."""
        since = datetime.now(UTC) - timedelta(hours=1)
        return self.accounts.count_login_tokens(email, since) < LINKS_PER_HOUR

    def issue_login_link(self, email: str, next_path: str = "/") -> str:
        return self._issue(email, next_path)[0]

    def _issue(self, email: str, next_path: str) -> tuple[str, str]:
        """(link, hash of its nonce); the hash is recorded, which spends the limit."""
        nonce = secrets.token_urlsafe(24)
        self.accounts.add_login_token(_sha256(nonce), email)
        token = self._login.dumps({"e": email, "n": nonce})
        query = urlencode({"token": token, "next": safe_next(next_path)})
        return f"{self.settings.base_url.rstrip('/')}/login/verify?{query}", _sha256(nonce)

    def mail_login_link(self, email: str, next_path: str = "/") -> None:
        """Mail a sign-in link unless LINKS_PER_HOUR went to `email` already. Raises
        DeliveryError when the mail server cannot take mail now, for every address alike;
        a link that could not be sent is withdrawn and does not count against the limit."""
        issued: list[tuple[str, str]] = []

        def claim() -> bool:
            if not self.may_send_link(email):
                return False
            issued.append(self._issue(email, next_path))
            return True

        if send_rate_limited(
            self.settings,
            email,
            claim=claim,
            release=lambda: self.accounts.delete_login_token(issued[0][1]),
            build=lambda: login_message(self.settings, email, issued[0][0]),
        ):
            log.info("sent sign-in link to a reader")

    def check_login_token(self, token: str) -> tuple[str, str]:
        """(email, nonce) of a well-signed, unexpired token; LoginError otherwise."""
        try:
            data = self._login.loads(token, max_age=self.settings.login_link_max_age)
        except SignatureExpired as exc:
            raise LoginError("This sign-in link has expired. Ask for a new one.") from exc
        except BadSignature as exc:
            raise LoginError("This sign-in link is not valid. Ask for a new one.") from exc
        if not isinstance(data, dict) or not {"e", "n"} <= data.keys():
            raise LoginError("This sign-in link is not valid. Ask for a new one.")
        return str(data["e"]), str(data["n"])

    def check_unused_login_token(self, token: str) -> str:
        """The email of a valid token not used yet (the confirm page: nothing is used up);
        LoginError otherwise, with the same messages as consume_login_token."""
        email, nonce = self.check_login_token(token)
        if not self.accounts.login_token_unused(_sha256(nonce)):
            raise LoginError(USED_LINK)
        return email

    def consume_login_token(self, token: str) -> User:
        """Sign in with `token` once: LoginError if invalid, expired or already used."""
        email, nonce = self.check_login_token(token)
        used_email = self.accounts.use_login_token(_sha256(nonce))
        if used_email is None or used_email != email:
            raise LoginError(USED_LINK)
        return self.accounts.get_or_create_user(email)

    # -- sessions --------------------------------------------------------------

    def start_session(self, user: User) -> tuple[str, int]:
        """A new session for `user`: (cookie value, max-age seconds)."""
        value = secrets.token_urlsafe(32)
        max_age = self.settings.session_days * 86400
        expires = datetime.now(UTC) + timedelta(seconds=max_age)
        self.accounts.create_session(_sha256(value), user.id, expires)
        return value, max_age

    def current_user(self, request: Request) -> User | None:
        if "user" not in request.state._state:
            value = request.cookies.get(SESSION_COOKIE)
            request.state.user = self.accounts.session_user(_sha256(value)) if value else None
        user: User | None = request.state.user
        return user

    def end_session(self, request: Request) -> None:
        value = request.cookies.get(SESSION_COOKIE)
        if value:
            self.accounts.delete_session(_sha256(value))

    # -- CSRF ------------------------------------------------------------------

    def csrf_token(self, nonce: str) -> str:
        return hmac.new(self.secret.encode(), f"csrf:{nonce}".encode(), "sha256").hexdigest()

    def check_csrf(self, request: Request, submitted: str | None) -> None:
        nonce = request.cookies.get(CSRF_COOKIE)
        expected = self.csrf_token(nonce) if nonce else None
        if not submitted or not expected or not hmac.compare_digest(submitted, expected):
            raise HTTPException(
                403,
                "The form's security token is missing or stale. Reload the page and try again.",
            )


def csrf_nonce(request: Request) -> str:
    """The visitor's CSRF cookie value (set by the middleware in app.py)."""
    nonce: str = request.state.csrf_nonce
    return nonce


def safe_next(path: str | None) -> str:
    """Only same-site absolute paths may be redirect targets."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def login_message(settings: Settings, email: str, link: str) -> Message:
    """The sign-in email (plain text). The link is never logged."""
    seconds = settings.login_link_max_age
    valid = (
        f"{seconds} second{'s' if seconds != 1 else ''}"
        if seconds < 120
        else f"{seconds // 60} minutes"
    )
    return build_message(
        settings=settings,
        recipient=email,
        subject="Your paperwire sign-in link",
        text=(
            "Someone (hopefully you) asked to sign in to paperwire with this address.\n\n"
            f"Open this link to sign in (valid for {valid}, works once):\n{link}\n\n"
            "If you did not ask for it, ignore this email.\n"
        ),
        html=None,
        message_id=f"<login.{secrets.token_hex(12)}@{mail_domain(settings)}>",
    )
