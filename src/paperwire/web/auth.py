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
import os
import re
import secrets
import smtplib
import ssl
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.config import Settings
from paperwire.models import User
from paperwire.store.accounts import AccountStore

log = logging.getLogger(__name__)

SESSION_COOKIE = "pw_session"
CSRF_COOKIE = "pw_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LINKS_PER_HOUR = 5
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class LoginError(ValueError):
    """A login link that cannot be used; the message is shown to the reader."""


def load_secret_key(settings: Settings) -> str:
    """settings.secret_key, or a random key generated once into data_dir/secret_key."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Write a private temp file, then hard-link it into place: the key file appears whole
    # or not at all, and when several workers race, the first link wins for all of them.
    temp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    try:
        os.link(temp, path)
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        temp.unlink()
    return key


def normalise_email(raw: str) -> str:
    """Trimmed, lower-cased email; ValueError with a readable reason if it is not one."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError("Please enter a valid email address, like name@example.org.")
    return email


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
        nonce = secrets.token_urlsafe(24)
        self.accounts.add_login_token(_sha256(nonce), email)
        token = self._login.dumps({"e": email, "n": nonce})
        query = urlencode({"token": token, "next": safe_next(next_path)})
        return f"{self.settings.base_url.rstrip('/')}/login/verify?{query}"

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

    def consume_login_token(self, token: str) -> User:
        """Sign in with `token` once: LoginError if invalid, expired or already used."""
        email, nonce = self.check_login_token(token)
        used_email = self.accounts.use_login_token(_sha256(nonce))
        if used_email is None or used_email != email:
            raise LoginError("This sign-in link was already used. Ask for a new one.")
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


def send_login_email(settings: Settings, email: str, link: str) -> None:
    """Mail the sign-in link over SMTP (settings.smtp_*). The link is never logged."""
    msg = EmailMessage()
    msg["Subject"] = "Your paperwire sign-in link"
    msg["From"] = settings.mail_from
    msg["To"] = email
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="paperwire")
    minutes = max(1, settings.login_link_max_age // 60)
    msg.set_content(
        "Someone (hopefully you) asked to sign in to paperwire with this address.\n\n"
        f"Open this link to sign in (valid for {minutes} minutes, works once):\n{link}\n\n"
        "If you did not ask for it, ignore this email.\n"
    )
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, context=context, timeout=30)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(msg)
    log.info("sent sign-in link to a reader")
