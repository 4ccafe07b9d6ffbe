"""The site's secret key, shared by sign-in links, CSRF tokens and digest links."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from paperwire.config import Settings

__all__ = ["load_secret_key"]


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
