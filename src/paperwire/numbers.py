"""Whole numbers read from untrusted text: URLs, form fields, tokens, headers, files.

`str.isdigit()` also accepts superscripts and other scripts' digits that `int()` refuses
(`"²"`), and `int()` refuses more than 4,300 digits, so neither alone is a safe check.
"""

from __future__ import annotations

# The largest row id any table hands out (a PostgreSQL `integer`); SQLite's own limit is
# 2**63 - 1, and a bigger number makes its driver raise OverflowError.
MAX_ROW_ID = 2**31 - 1


def is_ascii_digits(text: str) -> bool:
    """True when `text` is one or more of the ASCII digits 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str, maximum: int = MAX_ROW_ID) -> int | None:
    """The number `text` spells in ASCII digits (no sign, no spaces), or None for anything
    else or for a number above `maximum`."""
    if not is_ascii_digits(text):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):
        return None
    value = int(digits)
    return value if value <= maximum else None
