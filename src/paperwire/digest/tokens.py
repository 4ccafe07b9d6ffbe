"""Signed tokens for digest links (itsdangerous): confirm, manage, unsubscribe."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.config import Settings

PURPOSES = ("confirm", "manage", "unsubscribe")
CONFIRM_MAX_AGE = 7 * 24 * 3600  # confirmation links expire after a week; others do not


class TokenError(ValueError):
    """A link token that is malformed, tampered with, expired or for another purpose."""


def secret_key(settings: Settings) -> str:
    """Settings.secret_key, else a random key kept in data_dir/secret_key (made once)."""
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _serializer(key: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(key, salt=f"paperwire.digest.{purpose}")


def make_token(key: str, purpose: str, subscriber_id: int, email: str) -> str:
    return _serializer(key, purpose).dumps({"s": subscriber_id, "e": email.lower()})


def read_token(key: str, purpose: str, token: str) -> tuple[int, str]:
    """(subscriber id, email) from a token, or TokenError."""
    max_age = CONFIRM_MAX_AGE if purpose == "confirm" else None
    try:
        data = _serializer(key, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("this link has expired; subscribe again to get a new one") from None
    except BadSignature:
        raise TokenError("this link is not valid (it may be incomplete or altered)") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise TokenError("this link is not valid")
    return int(data["s"]), str(data.get("e", ""))
