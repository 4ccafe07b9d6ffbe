"""Signed tokens for digest links (itsdangerous): confirm, manage, unsubscribe."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.models import Subscriber
from paperwire.numbers import ascii_int

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


# -- per-paper links in a digest (issue 13): thumbs up / down, save -------------------------
# One link per (subscriber, paper, action). Thousands of emails carry ten papers and three
# actions each, so these are a compact HMAC rather than an itsdangerous token (~100 us, and
# longer): "<subscriber id>.<expiry day>.<action letter>.<signature>.<arXiv id>", the
# signature (96 bits) over all of that and the subscriber's email. The email is not in the
# link; checking reads it from the subscriber, so a removed subscription's links die (and
# an unsubscribed one's are refused).

PAPER_ACTION_DAYS = 30  # a digest's action links work this many days
PAPER_ACTIONS = {"like": "l", "dismiss": "d", "save": "s"}
_ACTION_OF = {letter: action for action, letter in PAPER_ACTIONS.items()}
_EPOCH = date(1970, 1, 1)
_INVALID = "this link is not valid (it may be incomplete or altered)"


@lru_cache(maxsize=8)
def _mac_base(key: str) -> Any:
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def _paper_action_mac(head: str, email: str, arxiv_id: str, key: str) -> str:
    mac = _mac_base(key).copy()
    mac.update(f"paper|{head}|{email.lower()}|{arxiv_id}".encode())
    return base64.urlsafe_b64encode(mac.digest()[:12]).decode()


def make_paper_action(
    key: str, subscriber_id: int, email: str, arxiv_id: str, action: str, today: date
) -> str:
    """The token of a digest link doing `action` (like | dismiss | save) on `arxiv_id`
    for this subscriber, valid PAPER_ACTION_DAYS from `today`."""
    expires = (today - _EPOCH).days + PAPER_ACTION_DAYS
    head = f"{subscriber_id}.{expires}.{PAPER_ACTIONS[action]}"
    return f"{head}.{_paper_action_mac(head, email, arxiv_id, key)}.{arxiv_id}"


@dataclass(frozen=True, slots=True)
class PaperAction:
    """What a valid digest link asks for."""

    email: str
    arxiv_id: str
    action: str


def check_paper_action(
    key: str,
    token: str,
    subscriber: Callable[[int], Subscriber | None],
    today: date | None = None,
) -> PaperAction:
    """The subscriber's email, paper and action of a valid link; TokenError if the link
    is altered, expired, or its subscription is gone or not active (unsubscribing ends
    the links of the digests already sent)."""
    parts = token.split(".", 4)
    if len(parts) != 5 or ascii_int(parts[0]) is None or ascii_int(parts[1]) is None:
        raise TokenError(_INVALID)
    sub_id, expires, letter, mac, arxiv_id = parts
    sub = subscriber(int(sub_id)) if letter in _ACTION_OF else None
    head = f"{sub_id}.{expires}.{letter}"
    expected = _paper_action_mac(head, sub.email, arxiv_id, key) if sub is not None else ""
    if sub is None or not hmac.compare_digest(expected, mac):
        raise TokenError(_INVALID)
    if int(expires) < ((today or datetime.now(UTC).date()) - _EPOCH).days:
        raise TokenError("this link has expired; use the buttons on the website instead")
    if sub.status != "active":  # unsubscribed (or re-opened, not confirmed again)
        raise TokenError(
            "this digest's subscription was cancelled, so its links no longer work; "
            "sign in to save or rate papers on the website"
        )
    return PaperAction(sub.email, arxiv_id, _ACTION_OF[letter])
