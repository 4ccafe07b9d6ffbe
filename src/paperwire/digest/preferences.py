"""Validating subscriber input: email addresses and preferences. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from paperwire.addresses import AddressError, clean_address
from paperwire.digest.schedule import FREQUENCIES, parse_send_time, zone
from paperwire.models import InvalidRecord, check_category, clean_categories, clean_text
from paperwire.names import has_visible, readable_name
from paperwire.search.query import QueryError, parse_query

MAX_LIST = 20
MAX_ITEM = 200
MAX_PAPERS = 50


class PreferenceError(ValueError):
    """Subscriber input that cannot be stored; the message says what to fix."""


def clean_email(raw: str) -> str:
    """The address as stored and mailed (see paperwire.addresses.clean_address: one plain
    address, ASCII before the @, an international domain in its IDNA form);
    PreferenceError with the reason otherwise."""
    try:
        return clean_address(raw)
    except AddressError as exc:
        raise PreferenceError(str(exc)) from None


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _items(value: Any, what: str, tidy: Callable[[str], str] = _spaced) -> list[str]:
    """One entry per line (or list item), made `tidy`; blank ones (nothing visible:
    whitespace, zero-width spaces, bidi controls) and repeats left out."""
    if isinstance(value, str):
        value = [line for line in value.replace("\r", "").split("\n")]
    items: list[str] = []
    for item in value or []:
        text = tidy(clean_text(str(item)))
        if not has_visible(text) or text in items:
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
    if "saved_searches" in raw:
        out["saved_searches"] = _items(raw["saved_searches"], "saved searches")
    if "followed_authors" in raw:  # as the site stores a follow: readable, LaTeX read
        out["followed_authors"] = _items(raw["followed_authors"], "authors", readable_name)
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
