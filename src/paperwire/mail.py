"""Mail for all of paperwire (digests, subscription confirmations, sign-in links): building
messages, and SMTP delivery over one reusable connection with STARTTLS/SSL/auth from
Settings and a clear split between temporary (4xx, connection) and permanent (5xx)
failures."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from types import TracebackType

from paperwire.addresses import is_plain_address
from paperwire.config import Settings

log = logging.getLogger(__name__)

MAIL_DOWN = "We could not send email just now, so nothing was sent; please try again later."
SMTP_COMPAT = compat32.clone(linesep="\r\n", max_line_length=998)  # no header folding
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


class DeliveryError(RuntimeError):
    """The server did not take a message. `temporary`: the reply says try again later
    (4xx, connection trouble). `at_connect`: it failed before any message was offered
    (unreachable, TLS, greeting or login refused) - a problem of the server or our
    settings, not of the message."""

    def __init__(
        self, reply: str, temporary: bool, connection_lost: bool = False, at_connect: bool = False
    ) -> None:
        super().__init__(reply)
        self.reply = reply
        self.temporary = temporary
        self.connection_lost = connection_lost
        self.at_connect = at_connect


def mail_domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    return address.rsplit("@", 1)[1] if "@" in address else "paperwire.localhost"


def build_message(
    *,
    settings: Settings,
    recipient: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    unsubscribe_url: str | None = None,
    date: datetime | None = None,
) -> Message:
    """multipart/alternative (text first, HTML preferred; text only when `html` is None)
    with Date, Message-ID, From and, for digests, List-Unsubscribe + List-Unsubscribe-Post
    (RFC 8058 one-click). Built with the compat32 classes: several times faster than
    EmailMessage."""
    msg: Message = MIMEText(text, "plain", _UTF8_QP)  # type: ignore[arg-type]
    if html is not None:
        rich = MIMEText(html, "html", _UTF8_QP)  # type: ignore[arg-type]
        msg = MIMEMultipart("alternative", _subparts=[msg, rich])
    msg["From"] = from_header(settings.mail_from)
    msg["To"] = recipient
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


def from_header(mail_from: str) -> str:
    """The From header for `mail_from` ("Name <addr>" or "addr"): a name that is not
    ASCII is RFC 2047-encoded on its own, so the address stays readable to every parser
    (set raw, the whole of "Name <addr>" became one encoded word and the address was
    lost)."""
    name, address = parseaddr(mail_from)
    if not name or name.isascii():
        return mail_from
    return formataddr((Header(name, "utf-8").encode(), address))


def message_bytes(msg: Message) -> bytes:
    """The message as SMTP wants it on the wire: CRLF line ends, lines <= 78 characters."""
    out = io.BytesIO()
    BytesGenerator(out, policy=SMTP_COMPAT).flatten(msg)
    return out.getvalue()


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." gets another; end with CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {body}".strip()


class SmtpSender:
    """Sends messages over one SMTP connection, reconnecting when it is lost."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _tls(self) -> ssl.SSLContext:
        ca = self.settings.smtp_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.smtp_security == "ssl":
                context = self._tls()
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if smtp.sock is not None:  # small commands: no Nagle wait
                with contextlib.suppress(OSError):
                    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.smtp_security == "starttls":
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except smtplib.SMTPAuthenticationError as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise DeliveryError(reply, False, True, at_connect=True) from exc
        except smtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.smtp_code < 500
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise DeliveryError(reply, temporary, True, at_connect=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            reply = f"cannot connect to SMTP server: {exc}"
            raise DeliveryError(reply, True, True, at_connect=True) from exc
        return smtp

    def check(self) -> None:
        """Connect (TLS, login) as a send would, without sending: DeliveryError when the
        server cannot take mail now. Lets a caller that sends nothing this time answer as
        truthfully as one that sends."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            code, text = self._smtp.noop()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(f"connection lost: {exc}", True, True, at_connect=True) from exc
        if code != 250:
            self._drop()
            raise DeliveryError(_reply(code, text), code < 500, True, at_connect=True)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(
        self,
        msg: Message,
        recipient: str,
        before_final_dot: Callable[[], None] | None = None,
    ) -> str:
        """Hand one message for `recipient` to the server; returns its final reply
        ("250 …") or raises DeliveryError. `recipient` is the stored address and goes into
        RCPT TO exactly as it is (never read back from the To header: a parser drops
        comments and groups, so one mailbox answered to many stored spellings); one that
        is not a plain address is refused before anything is sent. `before_final_dot`
        runs after the whole message went over the wire and before the terminating "."
        that makes the server accept it: until then a crash cannot leave a delivered
        message behind."""
        if not is_plain_address(recipient):
            raise DeliveryError(f"not a plain email address, not sent: {recipient!r}", False)
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        sender = parseaddr(self.settings.mail_from)[1]
        try:
            code, text = smtp.mail(sender)
            if code != 250:
                self._fail(code, text)
            smtp.putcmd("rcpt", f"TO:<{recipient}>")  # smtp.rcpt() re-parses the address
            code, text = smtp.getreply()
            if code not in (250, 251):
                self._fail(code, text)
            code, text = smtp.docmd("DATA")
            if code != 354:
                self._fail(code, text)
            smtp.send(_dot_stuffed(message_bytes(msg)))
            if before_final_dot is not None:
                before_final_dot()
            smtp.send(b".\r\n")
            code, text = smtp.getreply()
            if code != 250:
                self._fail(code, text)
            return _reply(code, text)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise DeliveryError(f"connection lost: {exc}", True, True) from exc
        except smtplib.SMTPResponseException as exc:  # from data(): 4xx/5xx on DATA
            self._reset()
            raise DeliveryError(_reply(exc.smtp_code, exc.smtp_error), exc.smtp_code < 500) from exc
        except OSError as exc:
            self._drop()
            raise DeliveryError(f"connection error: {exc}", True, True) from exc
        except UnicodeError as exc:
            # the message cannot go as it is (an address that is not ASCII, without
            # SMTPUTF8): nothing was accepted, and trying again changes nothing. The
            # conversation is in an unknown state: start the next message afresh.
            self._drop()
            raise DeliveryError(f"could not be sent: {type(exc).__name__}: {exc}", False) from exc

    def _fail(self, code: int, text: bytes) -> None:
        self._reset()
        if code == 421 or code < 0:  # server closing / disconnected
            self._drop()
            raise DeliveryError(_reply(code, text), True, True)
        raise DeliveryError(_reply(code, text), temporary=code < 500)

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()


def send_rate_limited(
    settings: Settings,
    recipient: str,
    claim: Callable[[], bool],
    release: Callable[[], None],
    build: Callable[[], Message],
) -> threading.Thread | None:
    """Send the one mail a form asks for (a confirmation, a sign-in link) to `recipient`
    (the address as stored, the one the limit counts) when `claim()` grants it under the per-address limit.

    Every call does the same work before it returns, whatever the address: connect to the
    server and check that it takes mail (DeliveryError, for every address alike, when it
    does not). The message itself then goes out on a background thread, so neither the
    answer nor its timing tells whether this address was just submitted. The limit is
    spent only on a mail the server took: if the send fails after all, `release()` gives
    the claim back (a retry sends) and the failure is logged. Returns the sending thread
    (None when the limit said no), for callers that want to wait."""
    smtp = SmtpSender(settings)
    try:
        smtp.check()
        granted = claim()
    except BaseException:
        smtp.close()
        raise
    if not granted:
        smtp.close()
        return None
    try:
        message = build()
    except BaseException:
        smtp.close()
        release()
        raise

    def deliver() -> None:
        try:
            smtp.send(message, recipient)
        except DeliveryError as exc:
            release()
            log.warning("a form's email was not taken by the server: %s", exc.reply)
        except Exception:  # never leave the claim spent on a mail that did not go
            release()
            log.exception("a form's email could not be sent")
        finally:
            smtp.close()

    sending = threading.Thread(target=deliver, name="paperwire-form-mail", daemon=True)
    sending.start()
    return sending
