"""A `paperwire digest run` process dies between SMTP acceptance and recording it.

Three ways in: a real SIGKILL sent by the SMTP server's handler after it stored a message and
before it answers 250; and the PAPERWIRE_TEST_EXIT_AFTER_ACCEPT hook (os._exit right after
the 250); and a SIGKILL before the message was handed over (during RCPT), which is
exactly-once under either policy. Counts asserted: every deliverable digest is received under exactly one distinct
Message-ID; with the default policy the one message in the crash window is received twice
under the same Message-ID (at-least-once for that window, deduplicated by Message-ID);
with digest_resend_interrupted=false nothing is received twice and that one digest is
recorded as failed (at-most-once)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import DAILY_FILE
from digest_support import SmtpServer, daily_subset
from paperwire.config import Settings
from paperwire.service import Service
from paperwire.store.digest import DigestStore

DAY = "2025-03-20"
COUNT = 6


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def env(settings: Settings, smtp: SmtpServer, tmp_path: Path) -> dict[str, str]:
    with Service(settings) as service:
        service.import_snapshot(daily_subset(DAILY_FILE, tmp_path / "subset.jsonl", 600))
        for i in range(COUNT):
            service.digest.add_subscriber(f"reader{i}@example.com", {})
    return {
        **os.environ,
        "PAPERWIRE_DATA_DIR": str(settings.data_dir),
        "PAPERWIRE_DATABASE_URL": settings.resolved_database_url,
        "PAPERWIRE_SMTP_HOST": "127.0.0.1",
        "PAPERWIRE_SMTP_PORT": str(smtp.port),
        "PAPERWIRE_SECRET_KEY": "crash-test-key",
        "PAPERWIRE_MAIL_FROM": "paperwire <digest@paperwire.test>",
        "PAPERWIRE_DIGEST_LEASE_SECONDS": "1",
    }


def run_digest(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "paperwire", "digest", "run", "--date", DAY]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def counts(settings: Settings) -> dict[str, int]:
    with Service(settings) as service:
        return DigestStore(service.store.engine).status_counts()


def test_sigkill_after_accept_resends_same_message_id(
    env: dict[str, str], smtp: SmtpServer, settings: Settings
) -> None:
    proc = run_digest(env)  # default: several sender threads, so several rows in flight
    smtp.handler.kill_on_data = (3, proc.pid)
    assert proc.wait(timeout=120) == -9
    at_kill = counts(settings)
    assert at_kill.get("sent", 0) <= 2 and at_kill.get("sending", 0) >= 1
    # accepted by the server but not recorded as sent: the crash window
    in_window = len(smtp.handler.received) - at_kill.get("sent", 0)
    assert in_window >= 1
    time.sleep(1.2)  # the killed sender's lease runs out
    second = run_digest(env)
    output = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, output
    ids = smtp.handler.message_ids()
    assert len(ids) == COUNT  # every digest delivered, under one Message-ID each
    # only crash-window messages arrive twice, with the same Message-ID
    assert sorted(ids.values()) == [1] * (COUNT - in_window) + [2] * in_window
    assert counts(settings) == {"sent": COUNT}
    third = run_digest(env)
    third.communicate(timeout=120)
    assert len(smtp.handler.received) == COUNT + in_window  # a further run sends nothing


def test_exit_hook_at_most_once_policy_never_duplicates(
    env: dict[str, str], smtp: SmtpServer, settings: Settings
) -> None:
    env = {
        **env,
        "PAPERWIRE_DIGEST_RESEND_INTERRUPTED": "false",
        "PAPERWIRE_DIGEST_SEND_WORKERS": "1",
    }
    first = run_digest({**env, "PAPERWIRE_TEST_EXIT_AFTER_ACCEPT": "3"})
    first.communicate(timeout=120)
    assert first.returncode == 137
    assert counts(settings) == {"sent": 2, "sending": 1, "composed": 3}
    time.sleep(1.2)
    second = run_digest(env)
    output = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, output
    ids = smtp.handler.message_ids()
    assert len(ids) == COUNT and set(ids.values()) == {1}  # nothing received twice
    assert counts(settings) == {"sent": COUNT - 1, "failed": 1}
    with Service(settings) as service:
        (failed,) = service.digest.store.messages(("failed",))
    assert "interrupted" in (failed.last_reply or "")


def test_kill_before_hand_over_is_exactly_once_even_at_most_once(
    env: dict[str, str], smtp: SmtpServer, settings: Settings
) -> None:
    env = {
        **env,
        "PAPERWIRE_DIGEST_RESEND_INTERRUPTED": "false",
        "PAPERWIRE_DIGEST_SEND_WORKERS": "1",
    }
    proc = run_digest(env)
    smtp.handler.kill_on_rcpt = (3, proc.pid)  # dies while the 3rd message is being offered
    assert proc.wait(timeout=120) == -9
    assert len(smtp.handler.received) == 2
    time.sleep(1.2)
    second = run_digest(env)
    output = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, output
    ids = smtp.handler.message_ids()
    assert len(ids) == COUNT and set(ids.values()) == {1}  # all delivered, none twice
    assert counts(settings) == {"sent": COUNT}  # the interrupted one was safe to re-send
