"""The SMTP sender against real aiosmtpd servers: STARTTLS, implicit TLS, AUTH, and the
split between temporary and permanent failures."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest_support import SteerableHandler, free_port
from paperwire.config import Settings
from paperwire.mail import DeliveryError, SmtpSender, build_message

# implicit TLS is TLS, but aiosmtpd only counts STARTTLS when it warns about AUTH
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 on failure


@pytest.fixture(params=["starttls", "ssl"])
def secure_server(
    request: pytest.FixtureRequest, ca: tuple[trustme.CA, Path]
) -> Iterator[tuple[str, int, SteerableHandler]]:
    handler = SteerableHandler()
    port = free_port()
    context = server_context(ca[0])
    options: dict[str, Any] = {
        "authenticator": check_login,
        "auth_required": True,
        "auth_exclude_mechanism": ["LOGIN"],  # PLAIN only: one clear 535 on a bad password
    }
    if request.param == "starttls":
        options |= {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    else:
        # implicit TLS: aiosmtpd only counts STARTTLS as TLS for its AUTH policy
        options |= {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    if request.param == "ssl":  # the readiness probe of Controller speaks plain TCP
        controller.ssl_context = context
    controller.start()
    yield request.param, port, handler
    controller.stop()


def message(settings: Settings, to: str) -> Any:
    return build_message(
        settings=settings,
        recipient=to,
        subject="hi",
        text="t",
        html="<p>h</p>",
        message_id=f"<{to}>",
    )


def test_tls_and_auth_from_settings(
    secure_server: tuple[str, int, SteerableHandler], ca: tuple[trustme.CA, Path]
) -> None:
    mode, port, handler = secure_server
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=mode,
        smtp_user="mailer",
        smtp_password="s3cret",
        smtp_ca_file=ca[1],
    )
    with SmtpSender(settings) as sender:
        assert sender.send(message(settings, "a@example.com"), "a@example.com").startswith("250")
        assert sender.send(message(settings, "b@example.com"), "b@example.com").startswith(
            "250"
        )  # same connection
    assert [r.rcpt for r in handler.received] == [["a@example.com"], ["b@example.com"]]

    wrong = settings.model_copy(update={"smtp_password": "nope"})
    with SmtpSender(wrong) as sender, pytest.raises(DeliveryError) as refused:
        sender.send(message(wrong, "c@example.com"), "c@example.com")
    assert refused.value.reply.startswith("535") and not refused.value.temporary

    untrusted = settings.model_copy(update={"smtp_ca_file": None})  # self-made CA not trusted
    with SmtpSender(untrusted) as sender, pytest.raises(DeliveryError) as bad_cert:
        sender.send(message(untrusted, "d@example.com"), "d@example.com")
    assert bad_cert.value.temporary and bad_cert.value.connection_lost
    assert len(handler.received) == 2


def test_unreachable_server_is_temporary() -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=5)
    with SmtpSender(settings) as sender, pytest.raises(DeliveryError) as failed:
        sender.send(message(settings, "a@example.com"), "a@example.com")
    assert failed.value.temporary and "cannot connect" in failed.value.reply


@pytest.mark.parametrize(
    "mail_from",
    ["Bücherwurm Digest <digest@papers.example.org>", "paperwire <digest@papers.example.org>"],
)
def test_a_from_name_that_is_not_ascii_keeps_the_address_readable(mail_from: str) -> None:
    """Set raw, "Bücherwurm Digest <digest@…>" became one RFC 2047 word: the received
    From header held no address (a parser defect, on every mail paperwire sends)."""
    from digest_support import SmtpServer

    with SmtpServer() as server:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=server.port, mail_from=mail_from)
        with SmtpSender(settings) as smtp:
            smtp.send(message(settings, "reader@example.org"), "reader@example.org")
        (received,) = server.handler.received
    sender = received.message["From"]
    assert sender.defects == ()
    assert sender.addresses[0].addr_spec == "digest@papers.example.org"
    assert sender.addresses[0].display_name == mail_from.split(" <")[0]


def test_rcpt_is_the_stored_address_never_read_back_from_the_to_header() -> None:
    """RCPT came from parseaddr(msg["To"]), and smtplib's rcpt() parses again: a stored
    "(0)victim@example.org" went to victim@example.org. Now RCPT TO is the address the
    caller stored, as it is, and one that is not a plain address is not sent at all."""
    from digest_support import SmtpServer

    with SmtpServer() as server:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=server.port)
        with SmtpSender(settings) as smtp:
            smtp.send(message(settings, "header@example.org"), "stored@example.org")
            for spelling in ("(0)victim@example.org", "g0:victim@example.org;"):
                with pytest.raises(DeliveryError) as refused:
                    smtp.send(message(settings, spelling), spelling)
                assert not refused.value.temporary and "not a plain" in refused.value.reply
        assert [r.rcpt for r in server.handler.received] == [["stored@example.org"]]
