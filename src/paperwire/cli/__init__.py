"""Command line: parse arguments, call the Service, print, translate errors.

One module per command group (backup, ingest, library, listing, search, digest, serve); rendering of tables and
JSON lives in render.py. Importing this package registers every command on `cli`.
"""

from __future__ import annotations

import sys

from paperwire.cli import backup, digest, ingest, library, listing, search, serve
from paperwire.cli.base import cli
from paperwire.cli.render import console
from paperwire.search.damage import IndexDamaged

__all__ = ["cli", "main"]

_COMMAND_GROUPS = (backup, digest, ingest, library, listing, search, serve)


def main() -> None:
    try:
        cli(auto_envvar_prefix=None)
    except KeyboardInterrupt:
        console.print("interrupted; committed batches are kept and a re-run resumes")
        sys.exit(130)
    except IndexDamaged as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
