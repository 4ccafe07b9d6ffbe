"""Signed tokens for digest links (itsdangerous): confirm, manage, unsubscribe."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PURPOSES = ("confirm", "manage", "unsubscribe")
CONFIRM_MAX_AGE = 7 * 24 * 3600  # confirmation links expire after a week; others do not


class TokenError(ValueError):
    """A link token that is malformed, tampered with, expired or for another purpose."""


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
