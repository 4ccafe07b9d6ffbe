"""Validating subscriber input: email addresses and preferences. Pure."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from paperwire.digest.schedule import FREQUENCIES, parse_send_time, zone
from paperwire.models import InvalidRecord, check_category, clean_categories, clean_text
from paperwire.search.query import QueryError, parse_query

_LOCAL = r"[^@\s<>,;\"\x00-\x1f\x7f]+"  # the part before @: no controls, no separators
_EMAIL = re.compile(rf"^{_LOCAL}@[A-Za-z0-9.-]+\.[A-Za-z0-9-]{{2,}}$|^{_LOCAL}@localhost$")
MAX_LIST = 20
MAX_ITEM = 200
MAX_PAPERS = 50


class PreferenceError(ValueError):
    """Subscriber input that cannot be stored; the message says what to fix."""


def clean_email(raw: str) -> str:
    """The address as stored and mailed: trimmed, lower-cased, an international domain
    in its ASCII (IDNA) form. PreferenceError when it is no address, or when the part
    before the @ is not ASCII: mailing such an address needs SMTPUTF8 end to end, which
    paperwire does not speak (it failed at the server, every try)."""
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if at and domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise PreferenceError(f"not an email address: {raw!r}") from None
        email = f"{local}@{domain}"
    if len(email) > 320 or not _EMAIL.match(email):
        raise PreferenceError(f"not an email address: {raw!r}")
    if not local.isascii():
        raise PreferenceError(
            f"{raw!r}: addresses with letters other than ASCII before the @ cannot be "
            "mailed from here; please use an ASCII address"
        )
    return email


def _items(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [line for line in value.replace("\r", "").split("\n")]
    items: list[str] = []
    for item in value or []:
        text = " ".join(clean_text(str(item)).split())
        if not text or text in items:
            continue
        if len(text) > MAX_ITEM:
            raise PreferenceError(f"{what} entries must be at most {MAX_ITEM} characters")
        items.append(text)
    if len(items) > MAX_LIST:
        raise PreferenceError(f"at most {MAX_LIST} {what}")
    return items


def clean_preferences(raw: dict[str, Any]) -> dict[str, Any]:
    """Checked, normalised preference values for the keys present in `raw`."""
    out: dict[str, Any] = {}
    if "frequency" in raw:
        if raw["frequency"] not in FREQUENCIES:
            raise PreferenceError("frequency must be daily or weekly")
        out["frequency"] = raw["frequency"]
    if "send_time" in raw:
        try:
            moment = parse_send_time(str(raw["send_time"]))
        except ValueError as exc:
            raise PreferenceError(str(exc)) from None
        out["send_time"] = moment.strftime("%H:%M")
    if "timezone" in raw:
        try:
            zone(str(raw["timezone"]))
        except ValueError as exc:
            raise PreferenceError(str(exc)) from None
        out["timezone"] = str(raw["timezone"])
    if "weekday" in raw:
        try:
            weekday = int(raw["weekday"])
        except (TypeError, ValueError):
            weekday = -1
        if not 0 <= weekday <= 6:
            raise PreferenceError("weekday must be 0 (Monday) to 6 (Sunday)")
        out["weekday"] = weekday
    if "categories" in raw:
        value = raw["categories"]
        items = [value] if isinstance(value, str) else list(value or [])
        given = [part for item in items for part in str(item).replace(",", " ").split()]
        for item in given:
            try:
                check_category(item)
            except InvalidRecord as exc:
                raise PreferenceError(f"categories must be arXiv classes: {exc}") from None
        out["categories"] = clean_categories(given)[:MAX_LIST]
    for key, what in (("saved_searches", "saved searches"), ("followed_authors", "authors")):
        if key in raw:
            out[key] = _items(raw[key], what)
    for query in out.get("saved_searches", []):
        try:
            parse_query(query, today=date.today())
        except QueryError as exc:
            raise PreferenceError(f"saved search {query!r}: {exc}") from None
    if "max_papers" in raw:
        try:
            count = int(raw["max_papers"])
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= MAX_PAPERS:
            raise PreferenceError(f"max papers must be between 1 and {MAX_PAPERS}")
        out["max_papers"] = count
    return out


def defaults(max_papers: int) -> dict[str, Any]:
    return {
        "frequency": "daily",
        "send_time": "08:00",
        "timezone": "UTC",
        "weekday": 0,
        "categories": [],
        "saved_searches": [],
        "followed_authors": [],
        "max_papers": max_papers,
    }
