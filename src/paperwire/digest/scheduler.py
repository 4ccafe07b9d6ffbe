"""Optional in-process scheduler for `paperwire serve`: every interval, compose what each
subscriber's local send time makes due and drain the outbox (same code as
`paperwire digest run`, so running both is safe)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from paperwire.config import Settings
from paperwire.digest.runner import ComposeReport, SendReport

log = logging.getLogger(__name__)


class DigestScheduler:
    """Calls `run` (the app's Digests.run) every settings.digest_scheduler_interval."""

    def __init__(
        self, settings: Settings, run: Callable[[], tuple[ComposeReport, SendReport]]
    ) -> None:
        self.settings = settings
        self._run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def _run_once(self) -> None:
        composed, sent = self._run()
        if sent.unreachable:  # said on every tick until fixed: nothing else would say it
            log.warning(
                "digest: the SMTP server %s:%s cannot be used (%s); %d message(s) stay "
                "queued, no attempt counted, until the smtp_* settings are fixed",
                self.settings.smtp_host,
                self.settings.smtp_port,
                " ".join(sent.unreachable.split()),
                sent.queued,
            )
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
                self._run_once()
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
