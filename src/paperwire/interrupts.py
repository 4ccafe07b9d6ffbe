"""Ctrl-C (SIGINT) that never lands inside a batch's transaction.

A KeyboardInterrupt raised while a write transaction is open can leave it open: on SQLite
the cut connection keeps the database locked until the process ends, so recording the
run afterwards waits out the busy timeout and fails with "database is locked".
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def sigint_held() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, then raise it (as KeyboardInterrupt, or whatever
    the SIGINT handler before does) - unless the block raised, which then goes on.

    Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if not received or previous == signal.SIG_IGN:
        return
    if callable(previous):
        previous(signal.SIGINT, None)
    else:  # SIG_DFL or a handler set outside Python: Ctrl-C ends the work
        raise KeyboardInterrupt
