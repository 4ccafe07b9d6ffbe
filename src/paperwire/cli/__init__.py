"""Command line: parse arguments, call the Service, print, translate errors.

One module per command group (backup, ingest, library, listing, search, digest, serve); rendering of tables and
JSON lives in render.py. Importing this package registers every command on `cli`.
"""

from __future__ import annotations

import sys

import click

from paperwire.cli import backup, digest, ingest, library, listing, search, serve
from paperwire.cli.base import cli
from paperwire.cli.render import console
from paperwire.search.damage import IndexDamaged
from paperwire.store import StoreError
from paperwire.store.outage import database_problem

__all__ = ["cli", "main"]

_COMMAND_GROUPS = (backup, digest, ingest, library, listing, search, serve)


def main() -> None:
    """Run the CLI. Errors click knows are shown as click shows them; Ctrl-C anywhere (click
    would print "Aborted!" and exit 1) says what survives and exits 130."""
    try:
        code = cli.main(auto_envvar_prefix=None, standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        console.print("interrupted; committed batches are kept and a re-run resumes")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (IndexDamaged, StoreError) as exc:  # e.g. WriteRefused: a full disk mid-ingest
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # the database went away mid-command, or refuses this role
        problem = database_problem(exc)
        if problem is None:
            raise
        print(f"Error: {problem}", file=sys.stderr)  # one line: never the rows it wrote
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)  # --help, --version: click's exit code


if __name__ == "__main__":
    main()
