"""Is the process that started an ingest run still running?

A run records an owner token, ``host|boot id|pid|process start time``. On the same host
and boot, a process with that pid and start time either exists or not (the start time
tells a reused pid apart). From another host nothing can be asked, so runs also send a
heartbeat; a run whose heartbeat is older than RUN_LEASE is taken as gone wherever it ran.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from paperwire.numbers import ascii_int

HEARTBEAT_SECONDS = 30.0  # how often a running run says it is alive
RUN_LEASE = timedelta(minutes=5)  # silence after which a run counts as interrupted anywhere


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> list[str]:
    """Fields 3… of /proc/PID/stat (state first), or [] when unknown (not Linux, gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # the command name (field 2) may hold spaces and parentheses: split after its ")"
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" when unknown."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else ""


def owner_token(pid: int | None = None) -> str:
    """This process's (or `pid`'s) owner token."""
    pid = os.getpid() if pid is None else pid
    return "|".join((socket.gethostname(), _boot_id(), str(pid), _start_time(pid)))


def describe_owner(token: str) -> str:
    """An owner token in words: "pid 123 on host h" (or "an unknown process")."""
    parts = token.split("|")
    if len(parts) != 4:
        return "an unknown process"
    return f"pid {parts[2]} on host {parts[0]}"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def owner_gone(token: str) -> bool:
    """True only when the owner is provably not running: same host and boot, and no
    process with its pid and start time. False when it runs, or when it cannot be told
    from here (another host: the heartbeat decides)."""
    parts = token.split("|")
    if len(parts) != 4 or parts[0] != socket.gethostname():
        return False
    host_boot = _boot_id()
    if parts[1] != host_boot:
        return bool(host_boot and parts[1])  # this host rebooted since: the run is gone
    pid = ascii_int(parts[2]) or -1
    if pid <= 0 or not _exists(pid):
        return True
    fields = _proc_stat(pid)
    if fields[:1] == ["Z"]:  # killed, not yet reaped by its parent
        return True
    started = fields[19] if len(fields) > 19 else ""
    return bool(started and parts[3] and started != parts[3])  # the pid was reused


class _Beating(Protocol):
    def heartbeat_run(self, run_id: int) -> None: ...


class RunHeartbeat:
    """While the `with` block runs, a daemon thread tells the store every
    HEARTBEAT_SECONDS that run `run_id` is alive. A killed process stops beating."""

    def __init__(self, store: _Beating, run_id: int, every: float = HEARTBEAT_SECONDS):
        self.store, self.run_id, self.every = store, run_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.store.heartbeat_run(self.run_id)
            except Exception:  # a busy database now and then must not end the run
                continue

    def __enter__(self) -> RunHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
