"""The processes of `paperwire serve`: the port is free before uvicorn starts, and a worker
process (`--workers N`) ends when the process that started it dies.

Without the second, `kill -9` of serve left its workers re-parented to PID 1, still serving
the port with nobody supervising them, and the next `paperwire serve` failed to bind.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import sys

log = logging.getLogger(__name__)
PARENT_PID_ENV = "_PAPERWIRE_SERVE_PARENT_PID"  # the serve process, as its workers expect it
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class PortUnusable(Exception):
    """The address `paperwire serve` was asked to bind cannot be bound; says what to do."""


def check_port_free(host: str, port: int) -> None:
    """Bind (host, port) as uvicorn will, and let go: PortUnusable when that fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family=family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortUnusable(_bind_message(host, port, exc)) from exc


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno != errno.EADDRINUSE:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --host or --port"
    return (
        f"port {port} on {host} is already in use: another `paperwire serve` (or a worker "
        f"process left behind by one that was killed) or another program holds it. "
        f"Find it with `ss -ltnp 'sport = :{port}'` or `lsof -i :{port}` and stop it, "
        f"or choose another port with --port."
    )


def end_with_parent(parent_pid: int | None) -> None:
    """In a worker process started by `paperwire serve` (pid `parent_pid`): be sent SIGTERM
    (uvicorn's clean shutdown) when that process dies, and exit now if it already has.
    Linux only (prctl PR_SET_PDEATHSIG); a no-op elsewhere, and for a process that serve did
    not start (None: e.g. uvicorn run by hand, whose parent may be a shell)."""
    if parent_pid is None or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        failed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0
    except (OSError, AttributeError):
        failed = True
    if failed:
        log.warning("this worker will not end with paperwire serve (prctl unavailable)")
        return
    if os.getppid() != parent_pid:  # it died before prctl could be asked
        raise SystemExit("paperwire serve ended before this worker started")


def parent_pid_from_environment() -> int | None:
    """The serve process's pid handed to workers in PARENT_PID_ENV, or None."""
    raw = os.environ.get(PARENT_PID_ENV, "")
    return int(raw) if raw.isascii() and raw.isdigit() else None
