"""A real SMTP server on loopback (aiosmtpd) with a handler tests can steer, and helpers
to fill a store with a real subset of the daily arXiv file."""

from __future__ import annotations

import email
import email.policy
import itertools
import lzma
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    rcpt: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class SteerableHandler:
    """Accepts everything unless told otherwise:
    - temp_fail[rcpt] = n: answer RCPT with 451 the first n times for that address;
    - perm_fail: addresses always refused with 550;
    - drop_on_data: 1-based DATA numbers on which the connection is cut (message not kept);
    - kill_on_data: (n, pid): keep the n-th message, SIGKILL pid, then answer 250;
    - kill_on_rcpt: (n, pid): SIGKILL pid on the n-th RCPT (before any message data);
    - on_data: callback(n) run before each message is kept;
    - refuse_data[rcpt] = n: answer the final "." with 452 the first n times for that
      address (greylisting, a full mailbox: the message is not kept)."""

    received: list[Received] = field(default_factory=list)
    temp_fail: dict[str, int] = field(default_factory=dict)
    perm_fail: set[str] = field(default_factory=set)
    drop_on_data: set[int] = field(default_factory=set)
    refuse_data: dict[str, int] = field(default_factory=dict)
    kill_on_data: tuple[int, int] | None = None
    kill_on_rcpt: tuple[int, int] | None = None
    rcpt_count: int = 0
    on_data: Callable[[int], None] | None = None
    data_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        self.rcpt_count += 1
        if self.kill_on_rcpt and self.kill_on_rcpt[0] == self.rcpt_count:
            os.kill(self.kill_on_rcpt[1], signal.SIGKILL)
            return "451 4.3.0 client gone"
        if address in self.perm_fail:
            return "550 5.1.1 mailbox unavailable"
        if self.temp_fail.get(address, 0) > 0:
            self.temp_fail[address] -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_count += 1
            number = self.data_count
        if number in self.drop_on_data:
            server.transport.close()
            return "421 closing"
        refused = [a for a in envelope.rcpt_tos if self.refuse_data.get(a, 0) > 0]
        for address in refused:
            self.refuse_data[address] -= 1
        if refused:
            return "452 4.2.2 mailbox full, try again later"
        if self.on_data is not None:
            self.on_data(number)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), parsed))
        if self.kill_on_data and self.kill_on_data[0] == number:
            os.kill(self.kill_on_data[1], signal.SIGKILL)
        return "250 2.0.0 queued"

    def message_ids(self) -> Counter[str]:
        return Counter(r.message_id for r in self.received)

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt]

    def wait_to(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages to `address` once there are at least `count` (a form's mail goes
        out on a background thread after the response); AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(found := self.to(address)) < count:
            assert time.monotonic() < deadline, f"{count} mail(s) to {address} never came"
            time.sleep(0.02)
        return found


class SmtpServer:
    def __init__(self) -> None:
        self.handler = SteerableHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()


def daily_subset(source: Path, target: Path, count: int) -> Path:
    """The first `count` lines of the (xz) daily file as a plain JSONL file."""
    with lzma.open(source, "rt", encoding="utf-8") as handle, target.open("w") as out:
        for line in itertools.islice(handle, count):
            out.write(line)
    return target


def parts(message: EmailMessage) -> dict[str, str]:
    """content type -> decoded body for each leaf part."""
    out: dict[str, str] = {}
    for part in message.walk():
        if not part.is_multipart():
            assert isinstance(part, EmailMessage)
            out[part.get_content_type()] = str(part.get_content())
    return out
