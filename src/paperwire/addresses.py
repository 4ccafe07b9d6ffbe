"""Email addresses as paperwire accepts, stores and mails them: one plain addr-spec
(RFC 5322 dot-atom ``local@domain``), the one check behind the sign-in form, the
subscribe form and ``paperwire subscribers add``. Pure.

Anything a mail parser would read differently from the text itself is refused: comments
(``(x)a@example.org``), group syntax (``g:a@example.org;``), a display name
(``Ann <a@example.org>``), whitespace, quoted local parts (``"a b"@example.org``) and
domain literals (``a@[127.0.0.1]``). Such spellings name one mailbox under many strings,
so each got a limit counter (and an account, a subscriber) of its own while every mail
reached the same inbox."""

from __future__ import annotations

import re

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_ADDRESS = 254  # RFC 5321: a path is at most 256 octets, the brackets included
MAX_LOCAL = 64


class AddressError(ValueError):
    """Text that is not one plain email address; the message says what to fix."""


def _not_an_address(raw: str) -> AddressError:
    return AddressError(
        f"not an email address: {raw!r}; please enter just the address, like name@example.org"
    )


def _domain_ok(domain: str) -> bool:
    if domain == "localhost":
        return True
    labels = domain.split(".")
    return (
        len(domain) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels)
        and len(labels[-1]) >= 2
        and not labels[-1].isdigit()
    )


def clean_address(raw: str) -> str:
    """The address as stored and mailed: trimmed, lower-cased, an international domain in
    its ASCII (IDNA) form. AddressError when it is not one plain address, or when the part
    before the @ is not ASCII: mailing such an address needs SMTPUTF8 end to end, which
    paperwire does not speak (it failed at the server, every try)."""
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or not c.isprintable() for c in email):
        raise _not_an_address(raw)
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise _not_an_address(raw) from None
    if not local.isascii() and "@" not in local:
        raise AddressError(
            f"{raw!r}: addresses with letters other than ASCII before the @ cannot be "
            "mailed from here; please use an ASCII address"
        )
    email = f"{local}@{domain}"
    if (
        len(email) > MAX_ADDRESS
        or len(local) > MAX_LOCAL
        or not _LOCAL.fullmatch(local)
        or not _domain_ok(domain)
    ):
        raise _not_an_address(raw)
    return email


def is_plain_address(address: str) -> bool:
    """True when `address` is already in the form clean_address gives (the check before
    an address goes into an SMTP command as it is)."""
    try:
        return clean_address(address) == address
    except AddressError:
        return False


def mailbox_variants(address: str) -> tuple[str, str]:
    """(`address` without its ``+tag``, a LIKE pattern, escaped with a backslash, that
    every ``+tag`` spelling of it matches). Most mail services deliver ``ann+1@x``,
    ``ann+2@x``… to ``ann@x``: the per-address mail limits count them as one mailbox, or
    each spelling would be a new limit on the same inbox."""
    local, _at, domain = address.rpartition("@")
    base = local.split("+", 1)[0] or local
    escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{base}@{domain}", f"{escaped}+%@{domain}"
