"""Optional in-process scheduler for `paperwire serve`: every interval, compose what each
subscriber's local send time makes due and drain the outbox (same code as
`paperwire digest run`, so running both is safe)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from paperwire.config import Settings

log = logging.getLogger(__name__)


class DigestScheduler:
    def __init__(self, settings: Settings, tick: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self._tick = tick or self._run_once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def _run_once(self) -> None:
        from paperwire.service import Service

        with Service(self.settings) as service:
            composed, sent = service.digest_run()
        if composed.composed or sent.sent or sent.failed or sent.retrying:
            log.info(
                "digest: composed %d, empty %d, sent %d, retrying %d, failed %d",
                composed.composed,
                composed.empty,
                sent.sent,
                sent.retrying,
                sent.failed,
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # a bad tick must not kill the scheduler
                log.exception("digest scheduler tick failed")
            self.ticks += 1
            self._stop.wait(self.settings.digest_scheduler_interval)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="digest-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
